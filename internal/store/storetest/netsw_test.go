package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

func port(idx int, name, admin string) netsw.Port {
	return netsw.Port{Index: idx, Name: name, Descr: "descr " + name, Alias: "alias " + name, Type: 6, SpeedMbps: 1000,
		Admin: admin, Oper: admin}
}

// TestSwitchPortSync: discovery adds ports, keeps a connected port on its
// physical port through an ifIndex renumbering (matched by name), adopts a
// port entered by hand, marks vanished ports without deleting them, and
// brings them back.
func TestSwitchPortSync(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		sp := db.SwitchPorts()
		sw := f.switchDev("sw-sync")
		hand := server.SwitchPort{SwitchID: sw.ID, Identity: "uplink", AdminStatus: "unknown", OperStatus: "unknown"}
		f.must(f.inv.SwitchPorts.Create(f.ctx, &hand), "hand port")
		now := time.Now().UTC()
		res, err := sp.SyncPorts(f.ctx, sw.ID, []netsw.Port{port(1, "Gi0/1", "up"), port(2, "Gi0/2", "up"), port(3, "Gi0/3", "down")}, now)
		f.must(err, "first sync")
		if res.Added != 3 || res.Vanished != 1 {
			t.Fatalf("first sync %+v", res)
		}
		ps, _, err := f.inv.SwitchPorts.List(f.ctx, where(t, "switch_id EQ "+strconv.FormatInt(sw.ID, 10)))
		f.must(err, "list")
		byName := map[string]server.SwitchPort{}
		for _, p := range ps {
			byName[p.Name] = p
		}
		if g := byName["Gi0/2"]; g.Identity != "2" || g.Alias != "alias Gi0/2" || g.IfType != 6 || g.Speed != 1000 || g.AdminStatus != "up" {
			t.Fatalf("port Gi0/2 %+v", g)
		}
		srv := f.server("sync-srv")
		conn := server.SwitchConnection{ServerID: srv.ID, SwitchPortID: byName["Gi0/2"].ID}
		f.must(f.inv.Connections.AddSwitchConnection(f.ctx, &conn), "connect")

		// The switch rebooted and renumbered: Gi0/2 is now ifIndex 7, and
		// ifIndex 2 is a new port Gi0/9. Gi0/3 is gone.
		res, err = sp.SyncPorts(f.ctx, sw.ID, []netsw.Port{port(1, "Gi0/1", "up"), port(7, "Gi0/2", "up"), port(2, "Gi0/9", "up")}, now)
		f.must(err, "renumbered sync")
		if res.Added != 1 || res.Updated != 2 || res.Vanished != 1 {
			t.Fatalf("renumbered sync %+v", res)
		}
		refs, err := sp.ServerPorts(f.ctx, srv.ID)
		f.must(err, "server ports")
		if len(refs) != 1 || refs[0].Identity != "7" || refs[0].Name != "Gi0/2" {
			t.Fatalf("connected port after renumbering %+v", refs)
		}
		gone, err := f.inv.SwitchPorts.Get(f.ctx, byName["Gi0/3"].ID)
		if err != nil || !gone.Vanished || gone.OperStatus != "unknown" {
			t.Fatalf("vanished port %+v %v", gone, err)
		}
		// It comes back (on a free ifIndex).
		res, err = sp.SyncPorts(f.ctx, sw.ID, []netsw.Port{port(1, "Gi0/1", "up"), port(7, "Gi0/2", "up"), port(2, "Gi0/9", "up"),
			port(3, "Gi0/3", "down")}, now)
		f.must(err, "return sync")
		if res.Returned != 1 || res.Added != 0 {
			t.Fatalf("return sync %+v", res)
		}
		if back, _ := f.inv.SwitchPorts.Get(f.ctx, byName["Gi0/3"].ID); back.Vanished || back.Identity != "3" {
			t.Fatalf("returned port %+v", back)
		}
		// A hand-entered port with an ifIndex identity is adopted.
		hand2 := server.SwitchPort{SwitchID: sw.ID, Identity: "12", AdminStatus: "unknown", OperStatus: "unknown"}
		f.must(f.inv.SwitchPorts.Create(f.ctx, &hand2), "hand port 2")
		_, err = sp.SyncPorts(f.ctx, sw.ID, []netsw.Port{port(1, "Gi0/1", "up"), port(7, "Gi0/2", "up"), port(2, "Gi0/9", "up"),
			port(3, "Gi0/3", "down"), port(12, "Te1/1", "up")}, now)
		f.must(err, "adopt sync")
		if got, _ := f.inv.SwitchPorts.Get(f.ctx, hand2.ID); got.Name != "Te1/1" || got.Vanished {
			t.Fatalf("adopted port %+v", got)
		}
		_, err = sp.SyncPorts(f.ctx, 999999, nil, now)
		wantKind(t, err, fault.ErrNotFound, "sync a missing switch")
	})
}

// TestSwitchPortTraffic: statuses, counters and hourly traffic buckets,
// server state.
func TestSwitchPortTraffic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		sp := db.SwitchPorts()
		sw := f.switchDev("sw-traffic")
		p1, p2 := f.switchPort(sw.ID, "1"), f.switchPort(sw.ID, "2")
		srv := f.server("traffic-srv")
		for _, p := range []int64{p1.ID, p2.ID} {
			c := server.SwitchConnection{ServerID: srv.ID, SwitchPortID: p, DoNotCollectTraffic: p == p2.ID}
			f.must(f.inv.Connections.AddSwitchConnection(f.ctx, &c), "connect")
		}
		all, err := sp.ConnectedPorts(f.ctx)
		f.must(err, "connected")
		if len(all) != 2 || all[0].ServerID != srv.ID || all[1].DoNotCollect != true {
			t.Fatalf("connected %+v", all)
		}
		now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
		f.must(sp.SetPortStatus(f.ctx, map[int64]netsw.Status{p1.ID: {Admin: "down", Oper: "down"}, p2.ID: {Admin: "up"}}, now), "status")
		g1, _ := f.inv.SwitchPorts.Get(f.ctx, p1.ID)
		g2, _ := f.inv.SwitchPorts.Get(f.ctx, p2.ID)
		if g1.AdminStatus != "down" || g1.OperStatus != "down" || g2.AdminStatus != "up" || g2.OperStatus != "down" {
			t.Fatalf("statuses %+v %+v", g1, g2)
		}
		c, err := sp.Counters(f.ctx, []int64{p1.ID})
		f.must(err, "counters")
		if !c[p1.ID].At.IsZero() {
			t.Fatalf("fresh port has a reading %+v", c[p1.ID])
		}
		big := uint64(1<<63 + 5) // beyond int64: kept bit-exact
		f.must(sp.RecordTraffic(f.ctx, []netsw.TrafficSample{{PortID: p1.ID, ServerID: srv.ID, At: now, InDelta: 1000, OutDelta: 2000,
			Raw: netsw.CounterState{In: big, Out: 7, Uptime: 90 * time.Second}}}), "record 1")
		f.must(sp.RecordTraffic(f.ctx, []netsw.TrafficSample{{PortID: p1.ID, ServerID: srv.ID, At: now.Add(10 * time.Minute), InDelta: 500,
			OutDelta: 1, Raw: netsw.CounterState{In: big + 500, Out: 8, Uptime: 690 * time.Second}}}), "record 2")
		f.must(sp.RecordTraffic(f.ctx, []netsw.TrafficSample{{PortID: p1.ID, ServerID: srv.ID, At: now.Add(time.Hour), InDelta: 3,
			OutDelta: 4, Raw: netsw.CounterState{In: big + 503, Out: 12, Uptime: 4000 * time.Second}}}), "record 3")
		c, _ = sp.Counters(f.ctx, []int64{p1.ID})
		if c[p1.ID].In != big+503 || c[p1.ID].Out != 12 || c[p1.ID].Uptime != 4000*time.Second || c[p1.ID].At.IsZero() {
			t.Fatalf("last reading %+v", c[p1.ID])
		}
		day := now.Truncate(24 * time.Hour)
		tr, err := sp.Traffic(f.ctx, srv.ID, day, day.Add(24*time.Hour))
		f.must(err, "traffic")
		if len(tr) != 1 || tr[0].InOctets != 1503 || tr[0].OutOctets != 2005 || tr[0].PortID != p1.ID {
			t.Fatalf("day traffic %+v", tr)
		}
		tr, _ = sp.Traffic(f.ctx, srv.ID, now.Truncate(time.Hour), now.Truncate(time.Hour).Add(time.Hour))
		if len(tr) != 1 || tr[0].InOctets != 1500 {
			t.Fatalf("hour traffic %+v", tr)
		}
		_, err = sp.Traffic(f.ctx, 999999, day, day.Add(time.Hour))
		wantKind(t, err, fault.ErrNotFound, "traffic of a missing server")

		f.must(sp.SetState(f.ctx, srv.ID, server.StateSuspendError, "port Gi0/1: timeout"), "state")
		got, _ := f.inv.Servers.Get(f.ctx, srv.ID)
		if got.State != server.StateSuspendError || got.StateInfo != "port Gi0/1: timeout" {
			t.Fatalf("state %q %q", got.State, got.StateInfo)
		}
		wantKind(t, sp.SetState(f.ctx, 999999, "ok", ""), fault.ErrNotFound, "state of a missing server")
	})
}
