package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/task"
)

// Pinger tells whether the database answers (for /readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// IPLister lists addresses for the ip lists.
type IPLister interface {
	ListIPs(ctx context.Context, scope server.Scope, q listq.Query) ([]server.IP, int, error)
}

// Deps are the services the API fronts.
type Deps struct {
	Auth           *auth.Service
	Inventory      *server.Service
	IPs            IPLister
	DB             Pinger
	Tasks          *task.Engine
	TaskReader     TaskReader
	Power          *power.Service
	IPAM           IPAM         // networks, pools, allocation; nil leaves /ip/v3/ipnet, /ippool and server/{id}/ip writes out
	Switches       SwitchPorts  // switch port control; with Tasks and States it adds suspend/resume and the port routes
	States         ServerStates // server state changes and MAC lookups for the switch routes
	Log            *slog.Logger
	SecureCookie   bool
	TrustedProxies []string
	// Metrics is served at GET /metrics, behind MetricsToken when set.
	Metrics      http.Handler
	MetricsToken string
	// NetbootStatus, when set, answers GET /api/dci/v3/netboot/status.
	NetbootStatus func() map[string]any
}

// API holds the handlers.
type API struct {
	auth   *auth.Service
	inv    *server.Service
	ips    IPLister
	db     Pinger
	log    *slog.Logger
	secure bool

	tasks      *task.Engine
	taskReader TaskReader
	power      *power.Service
	ipam       IPAM
	switches   SwitchPorts
	states     ServerStates

	netbootStatus func() map[string]any
}

// New builds the gin engine with every route.
func New(d Deps) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	a := &API{auth: d.Auth, inv: d.Inventory, ips: d.IPs, db: d.DB, log: d.Log, secure: d.SecureCookie,
		tasks: d.Tasks, taskReader: d.TaskReader, power: d.Power, ipam: d.IPAM, switches: d.Switches, states: d.States, netbootStatus: d.NetbootStatus}
	if a.log == nil {
		a.log = slog.Default()
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RemoveExtraSlash = true
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	e.Use(a.requestLog, recoverJSON, screenRequest)
	e.NoRoute(func(c *gin.Context) { fail(c, &fault.Error{Kind: fault.KindNotFound, Msg: "no such route"}) })
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"error": gin.H{"code": http.StatusMethodNotAllowed,
			"msg": "method " + c.Request.Method + " is not allowed here", "value": nil}})
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", a.readyz)
	if d.Metrics != nil {
		e.GET("/metrics", metricsAuth(d.MetricsToken), gin.WrapH(d.Metrics))
	}
	for _, prefix := range []string{"/api", ""} {
		a.routes(e.Group(prefix))
	}
	return e, nil
}

func (a *API) readyz(c *gin.Context) {
	if err := a.db.Ping(c.Request.Context()); err != nil {
		logger(c).Warn("not ready", "err", err)
		fail(c, &fault.Error{Kind: fault.KindUnavailable, Msg: "database is not reachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (a *API) routes(g *gin.RouterGroup) {
	pub := g.Group("/auth/v4/public")
	pub.POST("/token", a.login)
	pub.POST("/key", a.loginKey)
	g.GET("/auth/key-v4/:key", a.browserKey)

	au := g.Group("/auth/v4", a.authn)
	au.GET("/whoami", a.whoami)
	au.POST("/logout", a.logout)
	au.DELETE("/token/:token", a.deleteToken)
	au.POST("/user/:ref/password", a.setPassword)
	au.POST("/user/:ref/key", adminOnly, a.issueKey)
	au.GET("/user", adminOnly, a.authUsers)
	au.GET("/setting/token_ttl", adminOnly, a.getTokenTTL)
	au.POST("/setting/token_ttl", adminOnly, a.setTokenTTL)

	dci := g.Group("/dci/v3", a.authn)
	a.serverRoutes(dci)
	if a.tasks != nil {
		a.taskRoutes(dci)
	}
	a.userRoutes(dci)
	a.inventoryRoutes(dci.Group("", adminOnly))
	dci.GET("/ip", a.listIPs)
	dci.GET("/ipmgr/ip", a.listIPmgr)

	ip := g.Group("/ip/v3", a.authn)
	ip.GET("/ip", a.listIPmgr)
	if a.ipam != nil {
		a.ipamRoutes(ip, dci)
	}
	if a.tasks != nil && a.switches != nil && a.states != nil {
		a.switchRoutes(dci)
	}
	if a.netbootStatus != nil {
		dci.GET("/netboot/status", adminOnly, func(c *gin.Context) { c.JSON(http.StatusOK, a.netbootStatus()) })
	}
}

// idParam parses a numeric path parameter; garbage is a 404 like any
// other unknown object.
func idParam(c *gin.Context, name, what string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		fail(c, fault.NotFound(what, c.Param(name)))
		return 0, false
	}
	return id, true
}

// listQuery parses where/orderby/limit.
func listQuery(c *gin.Context) (listq.Query, bool) {
	q, err := listq.Parse(c.Query("where"), c.Query("orderby"), c.Query("limit"))
	if err != nil {
		if le, ok := err.(*listq.Error); ok {
			v := gin.H{"param": le.Param}
			if le.Field != "" {
				v["field"] = le.Field
			}
			if le.Pos >= 0 {
				v["position"] = le.Pos
			}
			fail(c, &fault.Error{Kind: fault.KindInvalid, Msg: le.Error(), Field: le.Param, Value: v})
			return q, false
		}
		fail(c, err)
		return q, false
	}
	return q, true
}

// and adds a condition to a client's where.
func and(n listq.Node, field string, id int64) listq.Node {
	c := &listq.Compare{Field: field, Op: "EQ", Value: listq.Value{Kind: listq.KindInt, Int: id}}
	if n == nil {
		return c
	}
	return &listq.Binary{Op: "AND", Left: c, Right: n}
}

func listJSON[T, J any](c *gin.Context, items []T, size int, conv func(*T) J) {
	out := make([]J, len(items))
	for i := range items {
		out[i] = conv(&items[i])
	}
	c.JSON(http.StatusOK, gin.H{"list": out, "size": size})
}

func idJSON(c *gin.Context, status int, id int64) { c.JSON(status, gin.H{"id": id}) }

// metricsAuth checks the bearer token of a scrape (none when token is "").
func metricsAuth(token string) gin.HandlerFunc {
	want := []byte("Bearer " + token)
	return func(c *gin.Context) {
		if token != "" && subtle.ConstantTimeCompare([]byte(c.GetHeader("Authorization")), want) != 1 {
			fail(c, fault.Unauthorized("GET /metrics needs Authorization: Bearer <http.metrics_token>"))
			return
		}
		c.Next()
	}
}
