package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/server"
)

// resource is one inventory collection served with the list conventions:
// GET list, GET one, POST create, POST edit, DELETE. B is its body type.
type resource[T any, B any] struct {
	what  string
	repo  server.Repo[T]
	blank func() T
	apply func(b *B, v *T) error
	check func(ctx context.Context, v *T) error
	out   func(v *T) gin.H
	id    func(v *T) int64
	// Nested collections (switch ports, PDU outlets) live under a parent.
	parentField string // where field of the parent id, e.g. "switch_id"
	parentOf    func(v *T) int64
	setParent   func(v *T, id int64)
	parentGet   func(ctx context.Context, id int64) error
	// created, when set, runs after a create and adds keys to the answer
	// (a switch queues its port discovery and answers its task).
	created func(c *gin.Context, v *T) gin.H
}

func register[T any, B any](g *gin.RouterGroup, path string, r *resource[T, B]) {
	idName := "id"
	if r.parentField != "" {
		idName = "item_id"
	}
	g.GET(path, r.list)
	g.POST(path, r.create)
	g.GET(path+"/:"+idName, r.get)
	g.POST(path+"/:"+idName, r.edit)
	g.DELETE(path+"/:"+idName, r.remove)
}

// parent returns the parent id from the path (0 when not nested).
func (r *resource[T, B]) parent(c *gin.Context) (int64, bool) {
	if r.parentField == "" {
		return 0, true
	}
	return idParam(c, "id", r.parentField[:len(r.parentField)-3])
}

// load reads one object, checking it belongs to the parent in the path.
func (r *resource[T, B]) load(c *gin.Context) (T, bool) {
	var zero T
	pid, ok := r.parent(c)
	if !ok {
		return zero, false
	}
	idName := "id"
	if r.parentField != "" {
		idName = "item_id"
	}
	id, ok := idParam(c, idName, r.what)
	if !ok {
		return zero, false
	}
	v, err := r.repo.Get(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return zero, false
	}
	if r.parentField != "" && r.parentOf(&v) != pid {
		fail(c, fault.NotFound(r.what, id))
		return zero, false
	}
	return v, true
}

func (r *resource[T, B]) list(c *gin.Context) {
	pid, ok := r.parent(c)
	if !ok {
		return
	}
	q, ok := listQuery(c)
	if !ok {
		return
	}
	if r.parentField != "" {
		if err := r.parentGet(c.Request.Context(), pid); err != nil {
			fail(c, err)
			return
		}
		q.Where = and(q.Where, r.parentField, pid)
	}
	items, n, err := r.repo.List(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, items, n, r.out)
}

func (r *resource[T, B]) get(c *gin.Context) {
	if v, ok := r.load(c); ok {
		c.JSON(http.StatusOK, r.out(&v))
	}
}

func (r *resource[T, B]) create(c *gin.Context) {
	pid, ok := r.parent(c)
	if !ok {
		return
	}
	var b B
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	v := r.blank()
	if err := r.apply(&b, &v); err != nil {
		fail(c, err)
		return
	}
	if r.parentField != "" {
		if err := r.parentGet(c.Request.Context(), pid); err != nil {
			fail(c, err)
			return
		}
		r.setParent(&v, pid)
	}
	if err := r.check(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	if err := r.repo.Create(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	out := gin.H{"id": r.id(&v)}
	if r.created != nil {
		for k, x := range r.created(c, &v) {
			out[k] = x
		}
	}
	c.JSON(http.StatusOK, out)
}

func (r *resource[T, B]) edit(c *gin.Context) {
	v, ok := r.load(c)
	if !ok {
		return
	}
	var b B
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if err := r.apply(&b, &v); err != nil {
		fail(c, err)
		return
	}
	if err := r.check(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	if err := r.repo.Update(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, r.id(&v))
}

func (r *resource[T, B]) remove(c *gin.Context) {
	v, ok := r.load(c)
	if !ok {
		return
	}
	if err := r.repo.Delete(c.Request.Context(), r.id(&v)); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, r.id(&v))
}
