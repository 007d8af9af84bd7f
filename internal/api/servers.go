package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"

	"github.com/dcimd/dcimd/internal/server"
)

// scope limits a @user to its own servers.
func scope(c *gin.Context) server.Scope {
	p := mustPrincipal(c)
	if p.IsAdmin() {
		return server.Scope{}
	}
	id := p.User.ID
	return server.Scope{OwnerID: &id}
}

func (a *API) serverRoutes(g *gin.RouterGroup) {
	s := g.Group("/server")
	s.GET("", a.listServers)
	s.GET("/configuration", adminOnly, a.configurations) // free counts cover servers a @user does not own
	s.GET("/:id", a.getServer)
	s.GET("/:id/ip", a.serverIPs)
	s.POST("", adminOnly, a.createServer)
	s.POST("/:id", adminOnly, a.editServer)
	s.DELETE("/:id", adminOnly, a.deleteServer)
	s.POST("/:id/owner", adminOnly, a.setOwner)
	s.DELETE("/:id/owner", adminOnly, a.releaseOwner)
	s.POST("/:id/switch_connection", adminOnly, a.addSwitchConnection)
	s.DELETE("/:id/switch_connection/:cid", adminOnly, a.removeSwitchConnection)
	s.POST("/:id/pdu_connection", adminOnly, a.setPDUConnection)
	s.DELETE("/:id/pdu_connection", adminOnly, a.removePDUConnection)
}

func (a *API) listServers(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	vs, n, err := a.inv.Views.ListViews(c.Request.Context(), scope(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, vs, n, serverJSON)
}

func (a *API) getServer(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	v, err := a.inv.GetView(c.Request.Context(), scope(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, serverJSON(&v))
}

func (a *API) configurations(c *gin.Context) {
	cs, err := a.inv.Views.Configurations(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, cs, len(cs), func(x *server.ConfigurationCount) gin.H {
		return gin.H{"configuration": x.Configuration, "free_server_count": x.FreeServerCount}
	})
}

// visibleServer checks a server exists within the caller's scope.
func (a *API) visibleServer(c *gin.Context) (int64, bool) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return 0, false
	}
	s, err := a.inv.Servers.Get(c.Request.Context(), id)
	if sc := scope(c); err == nil && sc.OwnerID != nil && (s.OwnerID == nil || *s.OwnerID != *sc.OwnerID) {
		err = fault.NotFound("server", id)
	}
	if err != nil {
		fail(c, err)
		return 0, false
	}
	return id, true
}

func (a *API) serverIPs(c *gin.Context) {
	id, ok := a.visibleServer(c)
	if !ok {
		return
	}
	q, ok := listQuery(c)
	if !ok {
		return
	}
	q.Where = and(q.Where, "server", id)
	ips, n, err := a.ips.ListIPs(c.Request.Context(), scope(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, ips, n, ipJSON)
}

func (a *API) createServer(c *gin.Context) {
	var b serverBody
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	v := server.Server{State: server.StateOK, PowerStatus: "unknown"}
	if err := b.apply(&v); err != nil {
		fail(c, err)
		return
	}
	if err := a.inv.CheckServer(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	if err := a.inv.Servers.Create(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, v.ID)
}

func (a *API) editServer(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	var b serverBody
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	v, err := a.inv.Servers.Get(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	if err := b.apply(&v); err != nil {
		fail(c, err)
		return
	}
	if err := a.inv.CheckServer(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	if err := a.inv.Servers.Update(c.Request.Context(), &v); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

func (a *API) deleteServer(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	if err := a.inv.Servers.Delete(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

func (a *API) setOwner(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	var b struct {
		Owner *int64 `json:"owner"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.Owner == nil {
		fail(c, fault.Invalid("owner", "is required"))
		return
	}
	if err := a.inv.SetOwner(c.Request.Context(), id, *b.Owner); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

func (a *API) releaseOwner(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	if err := a.inv.Release(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

func (a *API) addSwitchConnection(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	var b struct {
		SwitchPortID        *int64 `json:"switch_port_id"`
		IsIPMIConnection    *bool  `json:"is_ipmi_connection"`
		DoNotCollectTraffic *bool  `json:"do_not_collect_traffic"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.SwitchPortID == nil {
		fail(c, fault.Invalid("switch_port_id", "is required"))
		return
	}
	conn := server.SwitchConnection{ServerID: id, SwitchPortID: *b.SwitchPortID}
	if b.IsIPMIConnection != nil {
		conn.IsIPMIConnection = *b.IsIPMIConnection
	}
	if b.DoNotCollectTraffic != nil {
		conn.DoNotCollectTraffic = *b.DoNotCollectTraffic
	}
	if err := a.inv.ConnectSwitchPort(c.Request.Context(), &conn); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, conn.ID)
}

func (a *API) removeSwitchConnection(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	cid, ok := idParam(c, "cid", "switch connection")
	if !ok {
		return
	}
	if err := a.inv.Connections.RemoveSwitchConnection(c.Request.Context(), id, cid); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, cid)
}

func (a *API) setPDUConnection(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	var b struct {
		PDUPortID *int64 `json:"pdu_port_id"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.PDUPortID == nil {
		fail(c, fault.Invalid("pdu_port_id", "is required"))
		return
	}
	conn := server.PDUConnection{ServerID: id, PDUPortID: *b.PDUPortID}
	if err := a.inv.ConnectPDUPort(c.Request.Context(), &conn); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, conn.ID)
}

func (a *API) removePDUConnection(c *gin.Context) {
	id, ok := idParam(c, "id", "server")
	if !ok {
		return
	}
	if err := a.inv.Connections.RemovePDUConnection(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

func (a *API) listIPs(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	ips, n, err := a.ips.ListIPs(c.Request.Context(), scope(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, ips, n, ipJSON)
}

// listIPmgr serves IPmanager-style address rows (ip_addr, ipnet_name, ...).
func (a *API) listIPmgr(c *gin.Context) {
	q, ok := listQuery(c)
	if !ok {
		return
	}
	ips, n, err := a.ips.ListIPs(c.Request.Context(), scope(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, ips, n, func(ip *server.IP) gin.H {
		h := ipJSON(ip)
		h["ip_addr"], h["ipnet"], h["ipnet_name"] = ip.Name, ip.IPNetID, ip.Network
		return h
	})
}
