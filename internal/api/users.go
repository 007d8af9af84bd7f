package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
)

type userBody struct {
	Email        *string `json:"email"`
	FullName     *string `json:"full_name"`
	Password     *string `json:"password"`
	PhoneNumber  *string `json:"phone_number"`
	Role         *string `json:"role"`
	State        *string `json:"state"`
	VlansPerUser *int    `json:"vlans_per_user"`
}

func (b userBody) input() auth.UserInput {
	return auth.UserInput{Email: b.Email, FullName: b.FullName, Password: b.Password, PhoneNumber: b.PhoneNumber,
		Role: b.Role, State: b.State, VlansPerUser: b.VlansPerUser}
}

// userJSON is the seed's user: roles as the string "[@user]".
func userJSON(u *auth.User) gin.H {
	return gin.H{"id": u.ID, "email": u.Email, "server_count": u.ServerCount, "roles": fmt.Sprintf("[%s]", u.Role),
		"vlans_per_user": u.VlansPerUser, "full_name": u.FullName, "phone_number": u.PhoneNumber, "state": u.State}
}

func (a *API) userRoutes(g *gin.RouterGroup) {
	ad := g.Group("/user", adminOnly)
	ad.GET("", a.listUsers)
	ad.POST("", a.createUser)
	ad.GET("/:id", a.getUser)
	ad.POST("/:id", a.editUser)
	ad.DELETE("/:id", a.deleteUser)
}

func (a *API) listUsers(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	users, n, err := a.auth.ListUsers(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, users, n, userJSON)
}

func (a *API) getUser(c *gin.Context) {
	id, ok := idParam(c, "id", "user")
	if !ok {
		return
	}
	u, err := a.auth.GetUser(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, userJSON(&u))
}

func (a *API) createUser(c *gin.Context) {
	var b userBody
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	u, err := a.auth.CreateUser(c.Request.Context(), b.input())
	if err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, u.ID)
}

func (a *API) editUser(c *gin.Context) {
	id, ok := idParam(c, "id", "user")
	if !ok {
		return
	}
	var b userBody
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if _, err := a.auth.UpdateUser(c.Request.Context(), id, b.input()); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

func (a *API) deleteUser(c *gin.Context) {
	id, ok := idParam(c, "id", "user")
	if !ok {
		return
	}
	if err := a.keepLastAdmin(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	if err := a.auth.DeleteUser(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

// keepLastAdmin refuses to delete the last active admin, as an edit refuses
// to demote or disable it: nobody could manage the installation after.
func (a *API) keepLastAdmin(ctx context.Context, id int64) error {
	u, err := a.auth.GetUser(ctx, id)
	if err != nil {
		return err
	}
	if !u.IsAdmin() || u.State != auth.StateActive {
		return nil
	}
	str := func(f, v string) listq.Node {
		return &listq.Compare{Field: f, Op: "EQ", Value: listq.Value{Kind: listq.KindString, Str: v}}
	}
	_, n, err := a.auth.ListUsers(ctx, listq.Query{Where: &listq.Binary{Op: "AND",
		Left: str("role", auth.RoleAdmin), Right: str("state", auth.StateActive)}, Limit: 0})
	if err != nil {
		return err
	}
	if n <= 1 {
		return fault.Conflict("user %d is the last admin", id)
	}
	return nil
}
