package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/task"
)

// TaskReader reads tasks and the audit log.
type TaskReader interface {
	GetTask(ctx context.Context, id int64) (task.Task, error)
	ListTasks(ctx context.Context, ownerID *int64, q listq.Query) ([]task.Task, int, error)
	ListAudit(ctx context.Context, q listq.Query) ([]task.AuditEntry, int, error)
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// taskJSON is a task as api-compat §6 describes it.
func taskJSON(t *task.Task) gin.H {
	steps := make([]gin.H, len(t.Steps))
	for i, s := range t.Steps {
		steps[i] = gin.H{"name": s.Name, "status": s.Status, "started_at": s.StartedAt.UTC().Format(time.RFC3339),
			"finished_at": timeOrNil(s.FinishedAt), "info": s.Info}
	}
	return gin.H{"id": t.ID, "name": t.Name, "server": zeroIfNil(t.ServerID), "status": string(t.Status), "progress": t.Progress,
		"steps": steps, "error": t.Error, "status_info": t.StatusInfo, "attempt": t.Attempt, "result": t.Result,
		"created_at": t.CreatedAt.UTC().Format(time.RFC3339), "started_at": timeOrNil(t.StartedAt), "finished_at": timeOrNil(t.FinishedAt)}
}

func (a *API) taskRoutes(g *gin.RouterGroup) {
	g.GET("/task", a.listTasks)
	g.GET("/task/:id", a.getTask)
	g.POST("/task/:id/cancel", a.cancelTask)
	g.GET("/audit", adminOnly, a.listAudit)
	s := g.Group("/server/:id")
	for _, act := range []power.Action{power.ActionOn, power.ActionOff, power.ActionReset} {
		s.POST("/"+string(act), a.powerAction(act))
	}
	s.GET("/power", a.powerState)
}

// ownerScope is nil for admins and the user's id otherwise.
func ownerScope(c *gin.Context) *int64 { return scope(c).OwnerID }

func (a *API) listTasks(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	ts, n, err := a.taskReader.ListTasks(c.Request.Context(), ownerScope(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, ts, n, taskJSON)
}

// visibleTask loads a task the caller may see: a @user sees only the tasks
// of its servers, and others' are reported as missing.
func (a *API) visibleTask(c *gin.Context) (task.Task, bool) {
	id, ok := idParam(c, "id", "task")
	if !ok {
		return task.Task{}, false
	}
	t, err := a.taskReader.GetTask(c.Request.Context(), id)
	if err == nil && !mustPrincipal(c).IsAdmin() {
		if t.ServerID == nil {
			err = fault.NotFound("task", id)
		} else if _, verr := a.inv.GetView(c.Request.Context(), scope(c), *t.ServerID); verr != nil {
			err = fault.NotFound("task", id)
		}
	}
	if err != nil {
		fail(c, err)
		return task.Task{}, false
	}
	return t, true
}

func (a *API) getTask(c *gin.Context) {
	if t, ok := a.visibleTask(c); ok {
		c.JSON(http.StatusOK, taskJSON(&t))
	}
}

func (a *API) cancelTask(c *gin.Context) {
	t, ok := a.visibleTask(c)
	if !ok {
		return
	}
	p := mustPrincipal(c)
	if _, err := a.tasks.Cancel(c.Request.Context(), t.ID, &p.User.ID, p.User.Email); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": t.ID, "task": t.ID})
}

func (a *API) listAudit(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	es, n, err := a.taskReader.ListAudit(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, es, n, func(e *task.AuditEntry) gin.H {
		return gin.H{"id": e.ID, "at": e.At.UTC().Format(time.RFC3339), "user_id": zeroIfNil(e.UserID), "user_email": e.UserEmail,
			"action": e.Action, "object_type": e.ObjectType, "object_id": zeroIfNil(e.ObjectID), "task": zeroIfNil(e.TaskID),
			"result": e.Result, "detail": e.Detail}
	})
}

// powerAction queues power_on, power_off or power_reset. power_off with
// {"force":true} first cancels the server's running operation.
func (a *API) powerAction(act power.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := a.visibleServer(c)
		if !ok {
			return
		}
		var b struct {
			Force *bool `json:"force"`
		}
		if err := decodeBody(c, &b); err != nil {
			fail(c, err)
			return
		}
		if b.Force != nil && *b.Force && act != power.ActionOff {
			fail(c, fault.Invalid("force", "only power_off may cancel a running operation"))
			return
		}
		p := mustPrincipal(c)
		ctx := c.Request.Context()
		if b.Force != nil && *b.Force {
			if at, running, err := a.tasks.ActiveTask(ctx, id); err != nil {
				fail(c, err)
				return
			} else if running {
				if _, err := a.tasks.Cancel(ctx, at.ID, &p.User.ID, p.User.Email); err != nil && !isConflict(err) {
					fail(c, err)
					return
				}
			}
		}
		t, err := a.tasks.Submit(ctx, task.Request{Kind: string(act), ServerID: &id, UserID: &p.User.ID, UserEmail: p.User.Email})
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": id, "task": t.ID})
	}
}

func isConflict(err error) bool {
	fe, ok := fault.As(err)
	return ok && fe.Kind == fault.KindConflict
}

// powerState reads the live power state from the BMC or outlet.
func (a *API) powerState(c *gin.Context) {
	id, ok := a.visibleServer(c)
	if !ok {
		return
	}
	st, err := a.power.State(c.Request.Context(), id)
	if err != nil {
		c.JSON(http.StatusOK, gin.H{"id": id, "power_status": string(power.Unknown), "status_info": task.PublicMessage(err)})
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "power_status": string(st), "status_info": ""})
}
