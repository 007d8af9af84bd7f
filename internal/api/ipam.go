package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/task"
)

// IPAM manages networks, pools and addresses (store.IPAM).
type IPAM interface {
	CreateNet(ctx context.Context, n *ipam.Net) error
	GetNet(ctx context.Context, id int64) (ipam.Net, error)
	ListNets(ctx context.Context, userspace int64) ([]ipam.Net, error)
	DeleteNet(ctx context.Context, id int64) error
	CreatePool(ctx context.Context, p *ipam.Pool, ranges []string) error
	AddRange(ctx context.Context, poolID int64, s string) (ipam.PoolRange, error)
	DeleteRange(ctx context.Context, poolID, rangeID int64) error
	GetPool(ctx context.Context, id int64) (ipam.Pool, error)
	ListPools(ctx context.Context) ([]ipam.Pool, error)
	DeletePool(ctx context.Context, id int64) error
	PlacePools(ctx context.Context, rackID, locationID *int64) (rack, location, public []int64, err error)
	Allocate(ctx context.Context, a ipam.Alloc) (ipam.IP, error)
	GetIP(ctx context.Context, id int64) (ipam.IP, error)
	SetStatus(ctx context.Context, id int64, status, info string) error
	Release(ctx context.Context, id int64) error
	// Edits.
	UpdateNetFields(ctx context.Context, id int64, gateway, vlan, note *string) (ipam.Net, error)
	UpdatePool(ctx context.Context, id int64, name, note *string, isPublic *bool) (ipam.Pool, error)
	// Admin tools.
	FreeAddrs(ctx context.Context, netID int64, limit int) ([]string, error)
	UpdateIP(ctx context.Context, id int64, p ipam.IPPatch) (ipam.IP, error)
	MoveIP(ctx context.Context, id int64, serverID *int64, setMain bool) (ipam.IP, error)
	AttachPool(ctx context.Context, poolID int64, locationID, rackID *int64) (ipam.PoolPlace, error)
	DetachPool(ctx context.Context, poolID, placeID int64) error
}

func (a *API) ipamRoutes(ip, dci *gin.RouterGroup) {
	adm := ip.Group("", adminOnly)
	adm.GET("/ipnet", a.listNets)
	adm.POST("/ipnet", a.createNet)
	adm.GET("/ipnet/:id", a.getNet)
	adm.POST("/ipnet/:id", a.editNet)
	adm.DELETE("/ipnet/:id", a.deleteNet)
	adm.GET("/ippool", a.listPools)
	adm.POST("/ippool", a.createPool)
	adm.GET("/ippool/:id", a.getPool)
	adm.POST("/ippool/:id", a.editPool)
	adm.DELETE("/ippool/:id", a.deletePool)
	adm.POST("/ippool/:id/range", a.addRange)
	adm.DELETE("/ippool/:id/range/:rid", a.deleteRange)
	adm.POST("/ippool/:id/place", a.attachPool)
	adm.DELETE("/ippool/:id/place/:pid", a.detachPool)
	adm.GET("/ipnet/:id/free", a.freeAddrs)
	adm.POST("/ip", a.createIP)
	adm.GET("/ip/:id", a.getIP)
	adm.POST("/ip/:id", a.editIP)
	adm.DELETE("/ip/:id", a.deleteIP)
	adm.POST("/ip/:id/move", a.moveIP)
	if a.tasks != nil {
		dci.POST("/server/:id/ip", a.allocateServerIP)
		dci.POST("/server/:id/ip/:ip_id", a.removeServerIP)
	}
}

func netJSON(n *ipam.Net) gin.H {
	parent := int64(0)
	if n.Parent != nil {
		parent = *n.Parent
	}
	return gin.H{"id": n.ID, "name": n.Name, "family": family(n.Family), "mask": n.PrefixLen, "gateway": n.Gateway,
		"userspace": n.Userspace, "vlan": n.VLAN, "note": n.Note, "type": n.Type, "parent": parent,
		"size": n.Size, "using_ip": n.Using, "total_ip": n.Total}
}

func poolJSON(p *ipam.Pool) gin.H {
	ranges := make([]gin.H, len(p.Ranges))
	for i, r := range p.Ranges {
		ranges[i] = gin.H{"id": r.ID, "name": r.Name, "ipnet": r.NetID, "family": family(r.Family)}
	}
	places := make([]gin.H, len(p.Places))
	for i, pl := range p.Places {
		places[i] = gin.H{"id": pl.ID, "location": pl.LocationID, "rack": pl.RackID}
	}
	return gin.H{"id": p.ID, "name": p.Name, "userspace": p.Userspace, "note": p.Note, "is_public": p.IsPublic,
		"using_ip": p.Using, "using_ipv4": p.Using4, "using_ipv6": p.Using6,
		"total_ip": p.Total, "total_ipv4": p.Total4, "total_ipv6": p.Total6, "ranges": ranges, "places": places}
}

func (a *API) listNets(c *gin.Context) {
	var us int64
	if s := c.Query("userspace"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			fail(c, fault.Invalid("userspace", "must be a positive number"))
			return
		}
		us = v
	}
	ns, err := a.ipam.ListNets(c.Request.Context(), us)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, ns, len(ns), netJSON)
}

type netBody struct {
	Name      string  `json:"name"`
	Gateway   *string `json:"gateway"`
	VLAN      *string `json:"vlan"`
	Note      *string `json:"note"`
	Userspace int64   `json:"userspace"`
	Type      string  `json:"type"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *API) createNet(c *gin.Context) {
	var b netBody
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.Name == "" {
		fail(c, fault.Invalid("name", "is required (a network in CIDR form)"))
		return
	}
	if b.Userspace < 0 {
		fail(c, fault.Invalid("userspace", "must be a positive number"))
		return
	}
	n := ipam.Net{Name: b.Name, Gateway: deref(b.Gateway), VLAN: deref(b.VLAN), Note: deref(b.Note), Userspace: b.Userspace, Type: b.Type}
	if err := a.ipam.CreateNet(c.Request.Context(), &n); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, n.ID)
}

func (a *API) getNet(c *gin.Context) { getOne(c, "id", "network", a.ipam.GetNet, netJSON) }

type netPatch struct {
	Gateway *string `json:"gateway"`
	VLAN    *string `json:"vlan"`
	Note    *string `json:"note"`
}

func (a *API) editNet(c *gin.Context) {
	editOne(c, "network", func(ctx context.Context, id int64, b *netPatch) error {
		_, err := a.ipam.UpdateNetFields(ctx, id, b.Gateway, b.VLAN, b.Note)
		return err
	})
}

func (a *API) deleteNet(c *gin.Context) { deleteOne(c, "network", a.ipam.DeleteNet) }

func (a *API) listPools(c *gin.Context) {
	ps, err := a.ipam.ListPools(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, ps, len(ps), poolJSON)
}

func (a *API) createPool(c *gin.Context) {
	var b struct {
		Name      string   `json:"name"`
		Note      *string  `json:"note"`
		IsPublic  bool     `json:"is_public"`
		Userspace int64    `json:"userspace"`
		Ranges    []string `json:"ranges"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.Userspace < 0 {
		fail(c, fault.Invalid("userspace", "must be a positive number"))
		return
	}
	p := ipam.Pool{Name: b.Name, Note: deref(b.Note), IsPublic: b.IsPublic, Userspace: b.Userspace}
	if err := a.ipam.CreatePool(c.Request.Context(), &p, b.Ranges); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, p.ID)
}

func (a *API) getPool(c *gin.Context) { getOne(c, "id", "pool", a.ipam.GetPool, poolJSON) }

type poolPatch struct {
	Name     *string `json:"name"`
	Note     *string `json:"note"`
	IsPublic *bool   `json:"is_public"`
}

func (a *API) editPool(c *gin.Context) {
	editOne(c, "pool", func(ctx context.Context, id int64, b *poolPatch) error {
		_, err := a.ipam.UpdatePool(ctx, id, b.Name, b.Note, b.IsPublic)
		return err
	})
}

func (a *API) deletePool(c *gin.Context) { deleteOne(c, "pool", a.ipam.DeletePool) }

func (a *API) addRange(c *gin.Context) {
	id, ok := idParam(c, "id", "pool")
	if !ok {
		return
	}
	var b struct {
		Name string `json:"name"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.Name == "" {
		fail(c, fault.Invalid("name", `is required ("first-last" or a CIDR)`))
		return
	}
	r, err := a.ipam.AddRange(c.Request.Context(), id, b.Name)
	if err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, r.ID)
}

func (a *API) deleteRange(c *gin.Context) {
	id, ok := idParam(c, "id", "pool")
	if !ok {
		return
	}
	rid, ok := idParam(c, "rid", "pool range")
	if !ok {
		return
	}
	if err := a.ipam.DeleteRange(c.Request.Context(), id, rid); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, rid)
}

// allocateServerIP reserves an address for a server under the network's
// lock and answers {"id","task"}: the task (ip_allocate) is recorded
// already complete, since an allocation is a database change with no
// device behind it, and a queued job would only cost round trips (the
// ip_allocate kind still runs jobs queued by older versions). With no
// address, network or pool given, the rack's pools, then the location's,
// then the public ones are tried in turn.
func (a *API) allocateServerIP(c *gin.Context) {
	id, ok := a.visibleServer(c)
	if !ok {
		return
	}
	var b struct {
		Domain        string `json:"domain"`
		Family        string `json:"family"`
		IPName        string `json:"ip_name"`
		IPNet         int64  `json:"ip_net"`
		IPPool        int64  `json:"ip_pool"`
		SetAsMainIPv4 bool   `json:"set_as_main_ipv4"`
		Userspace     int64  `json:"userspace"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	fam, err := parseFamily(b.Family, b.IPName == "")
	if err != nil {
		fail(c, err)
		return
	}
	if b.IPNet < 0 || b.IPPool < 0 || b.Userspace < 0 {
		fail(c, fault.Invalid("ip_net", "ids must be positive"))
		return
	}
	if (b.IPName != "" && (b.IPNet != 0 || b.IPPool != 0)) || (b.IPNet != 0 && b.IPPool != 0) {
		fail(c, fault.Invalid("ip_name", "give at most one of ip_name, ip_net and ip_pool"))
		return
	}
	if b.SetAsMainIPv4 && (fam == 6 || strings.Contains(b.IPName, ":")) {
		fail(c, fault.Invalid("set_as_main_ipv4", "an IPv6 address cannot be the main IPv4 address"))
		return
	}
	ctx := c.Request.Context()
	req := ipam.Alloc{Userspace: b.Userspace, Family: fam, Name: b.IPName, NetID: b.IPNet, PoolID: b.IPPool, ServerID: &id,
		Domain: b.Domain, Status: ipam.StatusOK, SetMain: b.SetAsMainIPv4}
	var ip ipam.IP
	if req.Name != "" || req.NetID != 0 || req.PoolID != 0 {
		ip, err = a.ipam.Allocate(ctx, req)
	} else {
		ip, err = a.allocateDefault(ctx, id, req)
	}
	if err != nil {
		fail(c, err)
		return
	}
	p := mustPrincipal(c)
	t, err := a.tasks.Done(ctx, task.Request{Kind: ops.KindIPAllocate, ServerID: &id, Params: map[string]any{"ip_id": ip.ID, "ip": ip.Name},
		UserID: &p.User.ID, UserEmail: p.User.Email}, "reserve "+ip.Name)
	if err != nil {
		if rerr := a.ipam.Release(context.WithoutCancel(ctx), ip.ID); rerr != nil {
			logger(c).Error("release address after a failed submit", "ip", ip.ID, "err", rerr)
		}
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": ip.ID, "task": t.ID})
}

func (a *API) allocateDefault(ctx context.Context, serverID int64, req ipam.Alloc) (ipam.IP, error) {
	s, err := a.inv.Servers.Get(ctx, serverID)
	if err != nil {
		return ipam.IP{}, err
	}
	rack, loc, pub, err := a.ipam.PlacePools(ctx, s.RackID, s.LocationID)
	if err != nil {
		return ipam.IP{}, err
	}
	seen := map[int64]bool{}
	for _, group := range [][]int64{rack, loc, pub} {
		for _, pid := range group {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			r := req
			r.PoolID = pid
			ip, err := a.ipam.Allocate(ctx, r)
			if err == nil {
				return ip, nil
			}
			if !errors.Is(err, fault.ErrConflict) {
				return ipam.IP{}, err
			}
		}
	}
	return ipam.IP{}, fault.Conflict("no pool of server %d (rack, location or public) has a free IPv%d address", serverID, req.Family)
}

// removeServerIP marks the address deleting and queues ip_remove.
func (a *API) removeServerIP(c *gin.Context) {
	id, ok := a.visibleServer(c)
	if !ok {
		return
	}
	ipID, ok := idParam(c, "ip_id", "ip")
	if !ok {
		return
	}
	var b struct{}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	ip, err := a.ipam.GetIP(ctx, ipID)
	switch {
	case err != nil:
	case ip.ServerID == nil || *ip.ServerID != id:
		err = fault.NotFound("ip", ipID)
	case ip.Status == ipam.StatusAllocating || ip.Status == ipam.StatusDeleting || ip.Status == ipam.StatusInProgress:
		err = fault.Conflict("address %s is %s; wait for its task to end", ip.Name, ip.Status)
	case ip.Permanent && !mustPrincipal(c).IsAdmin():
		err = fault.Forbidden(fmt.Sprintf("address %s is permanent; only an admin removes it", ip.Name))
	}
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.ipam.SetStatus(ctx, ipID, ipam.StatusDeleting, ""); err != nil {
		fail(c, err)
		return
	}
	p := mustPrincipal(c)
	t, err := a.tasks.Submit(ctx, task.Request{Kind: ops.KindIPRemove, ServerID: &id, Params: map[string]any{"ip_id": ipID},
		UserID: &p.User.ID, UserEmail: p.User.Email})
	if err != nil {
		_ = a.ipam.SetStatus(context.WithoutCancel(ctx), ipID, ip.Status, "")
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": ipID, "task": t.ID})
}

// freeAddrs lists the next free addresses of a network, lowest first, as
// allocation would hand them out: GET /ipnet/{id}/free?limit=n (default 10).
func (a *API) freeAddrs(c *gin.Context) {
	id, ok := idParam(c, "id", "network")
	if !ok {
		return
	}
	limit := 10
	if s := c.Query("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			fail(c, fault.Invalid("limit", "must be a number between 1 and 1000"))
			return
		}
		limit = v
	}
	free, err := a.ipam.FreeAddrs(c.Request.Context(), id, limit)
	if err != nil {
		fail(c, err)
		return
	}
	listJSON(c, free, len(free), func(s *string) gin.H { return gin.H{"name": *s} })
}

func ipamIPJSON(ip *ipam.IP) gin.H {
	return gin.H{"id": ip.ID, "name": ip.Name, "family": family(ip.Family), "ipnet": ip.NetID, "userspace": ip.Userspace,
		"server": ip.ServerID, "domain": ip.Domain, "status": ip.Status, "note": ip.Note, "reserved": ip.Reserved,
		"permanent": ip.Permanent}
}

// createIP is an admin's address: with a server, assigned to it at once
// (status ok, no task); without, a reservation that allocation never hands
// out. The address is exact (name), or the lowest free one of a network
// or a pool.
func (a *API) createIP(c *gin.Context) {
	var b struct {
		Name      string `json:"name"`
		Family    string `json:"family"`
		IPNet     int64  `json:"ip_net"`
		IPPool    int64  `json:"ip_pool"`
		Userspace int64  `json:"userspace"`
		Server    *int64 `json:"server"`
		Domain    string `json:"domain"`
		Note      string `json:"note"`
		Permanent bool   `json:"permanent"`
		SetMain   bool   `json:"set_as_main"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	fam, err := parseFamily(b.Family, false)
	if err != nil {
		fail(c, err)
		return
	}
	if b.IPNet < 0 || b.IPPool < 0 || b.Userspace < 0 {
		fail(c, fault.Invalid("ip_net", "ids must be positive"))
		return
	}
	ctx := c.Request.Context()
	if b.Server != nil {
		if _, err := a.inv.Servers.Get(ctx, *b.Server); err != nil {
			if errors.Is(err, fault.ErrNotFound) {
				err = fault.Invalid("server", "server %d does not exist", *b.Server)
			}
			fail(c, err)
			return
		}
	} else if b.SetMain || b.Permanent {
		fail(c, fault.Invalid("server", "set_as_main and permanent need a server"))
		return
	}
	ip, err := a.ipam.Allocate(ctx, ipam.Alloc{Userspace: b.Userspace, Family: fam, Name: b.Name, NetID: b.IPNet, PoolID: b.IPPool,
		ServerID: b.Server, Domain: b.Domain, Note: b.Note, Reserved: b.Server == nil, Permanent: b.Permanent, SetMain: b.SetMain,
		Status: ipam.StatusOK})
	if err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, ip.ID)
}

func (a *API) getIP(c *gin.Context) { getOne(c, "id", "ip", a.ipam.GetIP, ipamIPJSON) }

type ipPatch struct {
	Domain    *string `json:"domain"`
	Note      *string `json:"note"`
	Permanent *bool   `json:"permanent"`
}

func (a *API) editIP(c *gin.Context) {
	editOne(c, "ip", func(ctx context.Context, id int64, b *ipPatch) error {
		_, err := a.ipam.UpdateIP(ctx, id, ipam.IPPatch{Domain: b.Domain, Note: b.Note, Permanent: b.Permanent})
		return err
	})
}

// deleteIP releases an address at once (an admin's tool; clients remove
// their servers' addresses through the task of POST /server/{id}/ip/{ip_id}).
func (a *API) deleteIP(c *gin.Context) {
	deleteOne(c, "ip", func(ctx context.Context, id int64) error {
		ip, err := a.ipam.GetIP(ctx, id)
		if err == nil && (ip.Status == ipam.StatusAllocating || ip.Status == ipam.StatusDeleting) {
			err = fault.Conflict("address %s is %s; wait for its task to end", ip.Name, ip.Status)
		}
		if err != nil {
			return err
		}
		return a.ipam.Release(ctx, id)
	})
}

// moveIP gives an address to another server ({"server": id}) or makes it a
// reservation ({"server": null}).
func (a *API) moveIP(c *gin.Context) {
	id, ok := idParam(c, "id", "ip")
	if !ok {
		return
	}
	var b struct {
		Server  *int64 `json:"server"`
		SetMain bool   `json:"set_as_main"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.Server != nil && *b.Server <= 0 {
		fail(c, fault.Invalid("server", "must be a server id or null"))
		return
	}
	if b.Server == nil && b.SetMain {
		fail(c, fault.Invalid("set_as_main", "needs a server"))
		return
	}
	if _, err := a.ipam.MoveIP(c.Request.Context(), id, b.Server, b.SetMain); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

// attachPool makes a pool one that a location's or a rack's servers
// allocate from by default: {"location": id} or {"rack": id}.
func (a *API) attachPool(c *gin.Context) {
	id, ok := idParam(c, "id", "pool")
	if !ok {
		return
	}
	var b struct {
		Location *int64 `json:"location"`
		Rack     *int64 `json:"rack"`
	}
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	for _, v := range []struct {
		field string
		id    *int64
	}{{"location", b.Location}, {"rack", b.Rack}} {
		if v.id != nil && *v.id <= 0 {
			fail(c, fault.Invalid(v.field, "must be a positive id"))
			return
		}
	}
	pl, err := a.ipam.AttachPool(c.Request.Context(), id, b.Location, b.Rack)
	if err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, pl.ID)
}

func (a *API) detachPool(c *gin.Context) {
	id, ok := idParam(c, "id", "pool")
	if !ok {
		return
	}
	pid, ok := idParam(c, "pid", "pool attachment")
	if !ok {
		return
	}
	if err := a.ipam.DetachPool(c.Request.Context(), id, pid); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, pid)
}

// parseFamily reads "ipv4"/"ipv6" (or 4/6); "" is 0 unless required.
func parseFamily(s string, required bool) (int, error) {
	switch s {
	case "ipv4", "4":
		return 4, nil
	case "ipv6", "6":
		return 6, nil
	case "":
		if !required {
			return 0, nil
		}
		return 0, fault.Invalid("family", `is required: "ipv4" or "ipv6"`)
	}
	return 0, fault.Invalid("family", `must be "ipv4" or "ipv6"`)
}

// getOne answers GET of one object by the id in path parameter param.
func getOne[T any](c *gin.Context, param, what string, load func(context.Context, int64) (T, error), out func(*T) gin.H) {
	id, ok := idParam(c, param, what)
	if !ok {
		return
	}
	v, err := load(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out(&v))
}

// editOne answers POST of an edit to the object of path parameter "id":
// the body decoded strictly into B, then apply, then {"id"}.
func editOne[B any](c *gin.Context, what string, apply func(context.Context, int64, *B) error) {
	id, ok := idParam(c, "id", what)
	if !ok {
		return
	}
	var b B
	if err := decodeBody(c, &b); err != nil {
		fail(c, err)
		return
	}
	if err := apply(c.Request.Context(), id, &b); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}

// deleteOne answers DELETE of the object of path parameter "id": del,
// then {"id"}.
func deleteOne(c *gin.Context, what string, del func(context.Context, int64) error) {
	id, ok := idParam(c, "id", what)
	if !ok {
		return
	}
	if err := del(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	idJSON(c, http.StatusOK, id)
}
