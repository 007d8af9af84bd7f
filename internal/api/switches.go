package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/task"
)

// SwitchPorts is switch port control (netsw.Service).
type SwitchPorts interface {
	Plan(ctx context.Context, serverID int64) ([]netsw.SwitchGroup, error)
	PortMACs(ctx context.Context, switchID, portID int64) ([]netsw.MAC, error)
	Traffic(ctx context.Context, serverID int64, from, to time.Time) ([]netsw.PortTraffic, error)
	Port(ctx context.Context, switchID, portID int64) (netsw.PortRef, error)
}

// ServerStates changes a server's state and finds servers by MAC
// (store.SwitchPorts).
type ServerStates interface {
	// CompareAndSetState sets state to `to` only while it is `from`.
	CompareAndSetState(ctx context.Context, serverID int64, from, to string) error
	// ServersByMAC maps MACs (lower case) to the servers that have them.
	ServersByMAC(ctx context.Context, macs []string) (map[string]server.MACOwner, error)
}

func (a *API) switchRoutes(dci *gin.RouterGroup) {
	adm := dci.Group("", adminOnly)
	adm.POST("/server/:id/suspend", a.suspendAction(true))
	adm.POST("/server/:id/resume", a.suspendAction(false))
	adm.POST("/switch/:id/refresh", a.refreshSwitch)
	adm.POST("/switch/:id/port/:item_id/up", a.portAction(true))
	adm.POST("/switch/:id/port/:item_id/down", a.portAction(false))
	adm.GET("/switch/:id/port/:item_id/mac", a.portMACs)
	dci.GET("/server/:id/traffic", a.serverTraffic)
}

// switchCreated queues the port discovery of a new switch.
func (a *API) switchCreated(c *gin.Context, v *server.Switch) gin.H {
	if a.tasks == nil || a.switches == nil {
		return nil
	}
	t, err := a.submit(c, task.Request{Kind: ops.KindSwitchRefresh, Params: map[string]any{"switch_id": v.ID}})
	if err != nil {
		logger(c).Error("queue the port discovery of a new switch", "switch_id", v.ID, "err", err)
		return nil
	}
	return gin.H{"task": t.ID}
}

func (a *API) submit(c *gin.Context, req task.Request) (task.Task, error) {
	p := mustPrincipal(c)
	req.UserID, req.UserEmail = &p.User.ID, p.User.Email
	return a.tasks.Submit(c.Request.Context(), req)
}

// suspendAction cuts (suspend) or restores (resume) a server's network:
// every switch port except the IPMI ones, as a task. A server already in
// the wanted state gets a task that completes without touching a switch.
func (a *API) suspendAction(suspend bool) gin.HandlerFunc {
	kind, during, done := ops.KindResume, server.StateResuming, server.StateOK
	from := []string{server.StateSuspended, server.StateSuspendError, server.StateResumeError, server.StateResuming}
	if suspend {
		kind, during, done = ops.KindSuspend, server.StateSuspending, server.StateSuspended
		from = []string{server.StateOK, server.StateSuspendError, server.StateResumeError, server.StateSuspending}
	}
	return func(c *gin.Context) {
		id, ok := a.visibleServer(c)
		if !ok {
			return
		}
		var b struct{}
		if err := decodeBody(c, &b); err != nil {
			fail(c, err)
			return
		}
		ctx := c.Request.Context()
		s, err := a.inv.Servers.Get(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		noop := s.State == done
		if !noop && !slices.Contains(from, s.State) {
			fail(c, fault.Conflict("server %d is %s; it cannot be %s now", id, s.State, strings.TrimSuffix(kind, "e")+"ed"))
			return
		}
		if !noop {
			if _, err := a.switches.Plan(ctx, id); err != nil {
				fail(c, err)
				return
			}
		}
		t, err := a.submit(c, task.Request{Kind: kind, ServerID: &id, Params: map[string]any{"noop": noop}})
		if err != nil {
			fail(c, err)
			return
		}
		if !noop {
			// Visible at once; the task sets it too, and a task that
			// already moved on is not overwritten.
			if err := a.states.CompareAndSetState(ctx, id, s.State, during); err != nil {
				logger(c).Warn("mark server state", "server_id", id, "err", err)
			}
		}
		c.JSON(http.StatusOK, gin.H{"id": id, "task": t.ID})
	}
}

func (a *API) refreshSwitch(c *gin.Context) {
	id, ok := idParam(c, "id", "switch")
	if !ok {
		return
	}
	var b struct{}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if _, err := a.inv.Switches.Get(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	t, err := a.submit(c, task.Request{Kind: ops.KindSwitchRefresh, Params: map[string]any{"switch_id": id}})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "task": t.ID})
}

// switchPort loads the port of the path, checking it is on that switch.
func (a *API) switchPort(c *gin.Context) (server.SwitchPort, bool) {
	sid, ok := idParam(c, "id", "switch")
	if !ok {
		return server.SwitchPort{}, false
	}
	pid, ok := idParam(c, "item_id", "switch port")
	if !ok {
		return server.SwitchPort{}, false
	}
	p, err := a.inv.SwitchPorts.Get(c.Request.Context(), pid)
	if err == nil && p.SwitchID != sid {
		err = fault.NotFound("switch port", pid)
	}
	if err != nil {
		fail(c, err)
		return p, false
	}
	return p, true
}

// portAction sets one port up or down by hand, as a task. An IPMI port is
// refused: cutting it would lose the server's management.
func (a *API) portAction(up bool) gin.HandlerFunc {
	kind := ops.KindPortDown
	if up {
		kind = ops.KindPortUp
	}
	return func(c *gin.Context) {
		p, ok := a.switchPort(c)
		if !ok {
			return
		}
		var b struct {
			Force bool `json:"force"`
		}
		if err := decodeBody(c, &b); err != nil {
			fail(c, err)
			return
		}
		ctx := c.Request.Context()
		sw, err := a.inv.Switches.Get(ctx, p.SwitchID)
		if err != nil {
			fail(c, err)
			return
		}
		if sw.ReadOnly {
			fail(c, fault.Conflict("switch %s is marked read-only in dcimd", sw.Name))
			return
		}
		if p.Vanished {
			fail(c, fault.Conflict("port %s vanished from the switch at the last refresh", p.Name))
			return
		}
		var serverID *int64
		ref, err := a.switches.Port(ctx, p.SwitchID, p.ID)
		if err == nil {
			_, err = ref.Index()
		}
		if err != nil {
			fail(c, err)
			return
		}
		if ref.ServerID != 0 {
			if ref.IsIPMI && !up && !b.Force {
				fail(c, fault.Conflict("port %s carries the IPMI of server %d; send {\"force\":true} to cut it anyway", p.Name, ref.ServerID))
				return
			}
			serverID = &ref.ServerID
		}
		t, err := a.submit(c, task.Request{Kind: kind, ServerID: serverID, Params: map[string]any{"switch_id": p.SwitchID, "port_id": p.ID}})
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": p.ID, "task": t.ID})
	}
}

// portMACs reads the switch's forwarding table live and lists the MACs
// learned on the port, each with the server (or BMC) it belongs to.
func (a *API) portMACs(c *gin.Context) {
	p, ok := a.switchPort(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	macs, err := a.switches.PortMACs(ctx, p.SwitchID, p.ID)
	if err != nil {
		fail(c, err)
		return
	}
	keys := make([]string, len(macs))
	for i, m := range macs {
		keys[i] = m.MAC
	}
	owners, err := a.states.ServersByMAC(ctx, keys)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, macs, len(macs), func(m *netsw.MAC) gin.H {
		h := gin.H{"mac": m.MAC, "vlan": m.VLAN, "server": nil}
		if o, ok := owners[m.MAC]; ok {
			h["server"] = gin.H{"id": o.ServerID, "name": o.ServerName}
		}
		return h
	})
}

// serverTraffic sums a server's switch traffic: ?period=day|month with
// ?date=YYYY-MM-DD (UTC, default today), or ?from=&to= in RFC 3339.
func (a *API) serverTraffic(c *gin.Context) {
	id, ok := a.visibleServer(c)
	if !ok {
		return
	}
	from, to, err := trafficPeriod(c, time.Now().UTC())
	if err != nil {
		fail(c, err)
		return
	}
	ports, err := a.switches.Traffic(c.Request.Context(), id, from, to)
	if err != nil {
		fail(c, err)
		return
	}
	var in, out int64
	list := make([]gin.H, len(ports))
	for i, p := range ports {
		in, out = in+p.InOctets, out+p.OutOctets
		list[i] = gin.H{"port_id": p.PortID, "name": p.PortName, "switch": p.SwitchID, "in_bytes": p.InOctets, "out_bytes": p.OutOctets}
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339),
		"in_bytes": in, "out_bytes": out, "total_bytes": in + out, "ports": list})
}

func trafficPeriod(c *gin.Context, now time.Time) (time.Time, time.Time, error) {
	if f, t := c.Query("from"), c.Query("to"); f != "" || t != "" {
		from, err := time.Parse(time.RFC3339, f)
		if err != nil {
			return from, from, fault.Invalid("from", "must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
		}
		to, err := time.Parse(time.RFC3339, t)
		if err != nil {
			return from, to, fault.Invalid("to", "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")
		}
		if !from.Before(to) {
			return from, to, fault.Invalid("from", "must be before to")
		}
		return from.UTC(), to.UTC(), nil
	}
	day := now.Truncate(24 * time.Hour)
	if d := c.Query("date"); d != "" {
		v, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return day, day, fault.Invalid("date", "must be a date, e.g. 2026-11-25")
		}
		day = v.UTC()
	}
	switch c.DefaultQuery("period", "day") {
	case "day":
		return day, day.AddDate(0, 0, 1), nil
	case "month":
		m := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		return m, m.AddDate(0, 1, 0), nil
	}
	return day, day, fault.Invalid("period", `must be "day" or "month"`)
}
