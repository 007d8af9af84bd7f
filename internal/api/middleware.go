package api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
)

const (
	ctxLogger    = "dcimd.logger"
	ctxPrincipal = "dcimd.principal"
	cookieName   = "ses6"
	headerXSRF   = "X-Xsrf-Token"
	headerReqID  = "X-Request-Id"
)

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestLog gives each request an id (or keeps a sane one from the
// client), a logger carrying it, and one log line when it ends.
func (a *API) requestLog(c *gin.Context) {
	id := c.GetHeader(headerReqID)
	if len(id) == 0 || len(id) > 64 {
		id = newRequestID()
	}
	c.Header(headerReqID, id)
	l := a.log.With("request_id", id)
	c.Set(ctxLogger, l)
	start := time.Now()
	c.Next()
	lvl := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		lvl = slog.LevelError
	}
	attrs := []any{"method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "remote_addr", c.ClientIP()}
	if p, ok := principal(c); ok {
		attrs = append(attrs, "user_id", p.User.ID)
	}
	l.Log(c.Request.Context(), lvl, "http request", attrs...)
}

// recoverJSON turns a panic into a 500 in the error format, logged with its stack.
func recoverJSON(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			logger(c).Error("panic in handler", "panic", r, "stack", string(debug.Stack()))
			fail(c, &fault.Error{Kind: fault.KindInternal, Msg: "internal error"})
		}
	}()
	c.Next()
}

// sessionToken finds the session in the x-xsrf-token header, the ses6
// cookie, or both (then they must match). A cookie alone is a browser: it
// may read, but a POST or DELETE also needs the header (double submit).
func sessionToken(c *gin.Context) (string, error) {
	hdr := c.GetHeader(headerXSRF)
	ck, _ := c.Cookie(cookieName)
	switch {
	case hdr != "" && ck != "" && hdr != ck:
		return "", fault.Unauthorized("Unauthorized")
	case hdr != "":
		return hdr, nil
	case ck == "":
		return "", fault.Unauthorized("Unauthorized")
	case c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead:
		return "", fault.Forbidden("a session cookie needs the x-xsrf-token header on " + c.Request.Method)
	}
	return ck, nil
}

// authn requires a valid session.
func (a *API) authn(c *gin.Context) {
	tok, err := sessionToken(c)
	if err != nil {
		fail(c, err)
		return
	}
	p, err := a.auth.Authenticate(c.Request.Context(), tok)
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(ctxPrincipal, &p)
	c.Next()
}

// adminOnly refuses callers without the @admin role, before any lookup, so
// that no answer depends on whether an object exists.
func adminOnly(c *gin.Context) {
	p := mustPrincipal(c)
	if !p.IsAdmin() {
		fail(c, fault.Forbidden("this needs the @admin role"))
		return
	}
	c.Next()
}

func principal(c *gin.Context) (*auth.Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return nil, false
	}
	return v.(*auth.Principal), true
}

func mustPrincipal(c *gin.Context) *auth.Principal {
	p, _ := principal(c)
	return p
}
