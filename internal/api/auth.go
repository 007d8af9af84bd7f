package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
)

func sessionJSON(p auth.Principal) gin.H {
	return gin.H{"confirmed": true, "expires_at": p.ExpiresAt.UTC().Format(time.RFC3339),
		"id": strconv.FormatInt(p.User.ID, 10), "token": p.Token}
}

// login: POST /auth/v4/public/token {"email","password"} → 201.
func (a *API) login(c *gin.Context) {
	var in struct {
		Email    *string `json:"email"`
		Password *string `json:"password"`
	}
	if err := decodeBody(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Email == nil || *in.Email == "" {
		fail(c, fault.Invalid("email", "is required"))
		return
	}
	if in.Password == nil || *in.Password == "" {
		fail(c, fault.Invalid("password", "is required"))
		return
	}
	p, err := a.auth.Login(c.Request.Context(), *in.Email, *in.Password, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, sessionJSON(p))
}

// loginKey: POST /auth/v4/public/key {"key"} → like login.
func (a *API) loginKey(c *gin.Context) {
	var in struct {
		Key *string `json:"key"`
	}
	if err := decodeBody(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Key == nil || *in.Key == "" {
		fail(c, fault.Invalid("key", "is required"))
		return
	}
	p, err := a.auth.LoginWithKey(c.Request.Context(), *in.Key, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, sessionJSON(p))
}

// browserKey: GET /auth/key-v4/<key> logs a browser in with a cookie and
// sends it to the start page.
func (a *API) browserKey(c *gin.Context) {
	p, err := a.auth.LoginWithKey(c.Request.Context(), c.Param("key"), c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: cookieName, Value: p.Token, Path: "/", Secure: a.secure,
		SameSite: http.SameSiteLaxMode}) // readable by the page's script, which echoes it as x-xsrf-token
	c.Redirect(http.StatusFound, "/")
}

func whoamiJSON(u *auth.User) gin.H {
	return gin.H{"id": u.ID, "email": u.Email, "full_name": u.FullName, "phone_number": u.PhoneNumber,
		"roles": []string{u.Role}, "state": u.State, "vlans_per_user": u.VlansPerUser}
}

func (a *API) whoami(c *gin.Context) {
	p := mustPrincipal(c)
	c.JSON(http.StatusOK, whoamiJSON(&p.User))
}

func (a *API) logout(c *gin.Context) {
	p := mustPrincipal(c)
	if err := a.auth.Logout(c.Request.Context(), p.Token); err != nil {
		fail(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
	c.JSON(http.StatusOK, gin.H{})
}

// deleteToken ends a session by its token: one's own, or any for an admin.
func (a *API) deleteToken(c *gin.Context) {
	p := mustPrincipal(c)
	tok := c.Param("token")
	if tok != p.Token && !p.IsAdmin() {
		fail(c, fault.Forbidden("you may end only your own session"))
		return
	}
	if err := a.auth.Logout(c.Request.Context(), tok); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (a *API) setPassword(c *gin.Context) {
	var in struct {
		Password *string `json:"password"`
	}
	if err := decodeBody(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Password == nil {
		fail(c, fault.Invalid("password", "is required"))
		return
	}
	p := mustPrincipal(c)
	ref := c.Param("ref")
	if !p.IsAdmin() && ref != strconv.FormatInt(p.User.ID, 10) && !strings.EqualFold(ref, p.User.Email) {
		fail(c, fault.Forbidden("you may change only your own password"))
		return
	}
	if err := a.auth.SetPassword(c.Request.Context(), *p, ref, *in.Password); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// issueKey: POST /auth/v4/user/<id|email>/key (any body, even
// application/octet-stream) → {"id","key"}; id is the user's id.
func (a *API) issueKey(c *gin.Context) {
	u, key, err := a.auth.IssueKey(c.Request.Context(), c.Param("ref"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": strconv.FormatInt(u.ID, 10), "key": key})
}

func (a *API) authUsers(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	users, n, err := a.auth.ListUsers(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, users, n, whoamiJSON)
}

func (a *API) getTokenTTL(c *gin.Context) {
	ttl, err := a.auth.TokenTTL(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"value": strconv.Itoa(int(ttl / time.Minute))})
}

func (a *API) setTokenTTL(c *gin.Context) {
	var in struct {
		Value *string `json:"value"`
	}
	if err := decodeBody(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Value == nil {
		fail(c, fault.Invalid("value", "is required"))
		return
	}
	if err := a.auth.SetTokenTTL(c.Request.Context(), *in.Value); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"value": strings.TrimSpace(*in.Value)})
}
