package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// viewOf reads the one view named name within scope.
func (f *fx) viewOf(scope server.Scope, name string) server.View {
	f.t.Helper()
	vs, n, err := f.inv.Views.ListViews(f.ctx, scope, where(f.t, "name EQ '"+name+"'"))
	if err != nil || len(vs) != 1 || n != 1 {
		f.t.Fatalf("view of %s: %d views, total %d, err %v", name, len(vs), n, err)
	}
	return vs[0]
}

// TestListViews: a fully related server comes back with every relation
// assembled; a bare one with nil relations and empty lists.
func TestListViews(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		loc := f.location("v-loc")
		rack := f.rack("v-rack", loc.ID)
		plat, ch, tmpl := f.platform("v-plat"), f.chassis("v-chassis"), f.osTemplate("v-tmpl")
		owner := f.user("v-owner@example.com", "@user")
		full := f.server("v-full", func(v *server.Server) {
			v.LocationID, v.RackID, v.PlatformID, v.ChassisID, v.Slot = &loc.ID, &rack.ID, &plat.ID, &ch.ID, ptr(2)
			v.OwnerID, v.OSTemplateID = &owner.ID, &tmpl.ID
		})
		bare := f.server("v-bare")
		bmc := f.bmc(&full.ID, "pw")
		net := f.ipnet("v-net", "10.0.0.1")
		ip1, ip2 := f.ip("10.0.0.10", net, &full.ID), f.ip("10.0.0.11", net, &full.ID)
		f.ip("10.0.0.12", net, nil)
		sw := f.switchDev("v-switch")
		p1, p2 := f.switchPort(sw.ID, "1"), f.switchPort(sw.ID, "2")
		c1 := f.connectPort(full.ID, p1.ID)
		c2 := server.SwitchConnection{ServerID: full.ID, SwitchPortID: p2.ID, IsIPMIConnection: true, DoNotCollectTraffic: true}
		f.must(f.inv.Connections.AddSwitchConnection(f.ctx, &c2), "connect port 2")
		pdu := f.pdu("v-pdu")
		outlet := f.pduPort(pdu.ID, "4")
		pc := server.PDUConnection{ServerID: full.ID, PDUPortID: outlet.ID}
		f.must(f.inv.Connections.SetPDUConnection(f.ctx, &pc), "connect outlet")

		v := f.viewOf(server.Scope{}, "v-full")
		if v.ID != full.ID || v.Location == nil || v.Location.ID != loc.ID || v.Location.Name != "v-loc" ||
			v.Location.Geolocation != loc.Geolocation || v.Rack == nil || v.Rack.ID != rack.ID || v.Rack.Size != 42 ||
			v.Platform == nil || v.Platform.Name != "v-plat" || v.Chassis == nil || v.Chassis.ServerSlotCount != 16 ||
			v.Owner == nil || *v.Owner != (server.Owner{ID: owner.ID, Email: owner.Email}) ||
			v.OSTemplate == nil || v.OSTemplate.Name != "v-tmpl" || !reflect.DeepEqual(v.OSTemplate.Tags, []string{"linux"}) ||
			v.BMC == nil || v.BMC.ID != bmc.ID || v.BMC.Address != bmc.Address || v.BMC.Type != bmc.Type {
			t.Fatalf("relations not assembled: %+v", v)
		}
		if len(v.IPs) != 2 || v.IPs[0].ID != ip1 || v.IPs[1].ID != ip2 || v.IPs[0].Name != "10.0.0.10" ||
			v.IPs[0].Gateway != "10.0.0.1" || v.IPs[0].Network != "v-net" || v.IPs[0].IPNetID != net || v.IPs[0].StatusInfo == nil {
			t.Fatalf("ips: %+v", v.IPs)
		}
		wantPorts := []server.PortLink{
			{ConnectionID: c1.ID, PortID: p1.ID, SwitchID: sw.ID, Description: p1.Description, AdminStatus: "up", OperStatus: "down"},
			{ConnectionID: c2.ID, PortID: p2.ID, SwitchID: sw.ID, Description: p2.Description, AdminStatus: "up", OperStatus: "down",
				DoNotCollectTraffic: true, IsIPMIConnection: true},
		}
		if !reflect.DeepEqual(v.SwitchPorts, wantPorts) {
			t.Fatalf("switch ports:\n got %+v\nwant %+v", v.SwitchPorts, wantPorts)
		}
		wantOutlet := server.OutletLink{ConnectionID: pc.ID, PortID: outlet.ID, PortIdentity: "4", PDUID: pdu.ID, PDUName: "v-pdu",
			PowerStatus: "up"}
		if v.PDU == nil || *v.PDU != wantOutlet {
			t.Fatalf("pdu: got %+v, want %+v", v.PDU, wantOutlet)
		}

		b := f.viewOf(server.Scope{}, "v-bare")
		if b.ID != bare.ID || b.Location != nil || b.Rack != nil || b.Platform != nil || b.Chassis != nil || b.Owner != nil ||
			b.OSTemplate != nil || b.BMC != nil || b.PDU != nil || b.IPs == nil || len(b.IPs) != 0 ||
			b.SwitchPorts == nil || len(b.SwitchPorts) != 0 {
			t.Fatalf("bare server: %+v", b)
		}

		scoped, n, err := f.inv.Views.ListViews(f.ctx, server.Scope{OwnerID: &owner.ID}, all)
		if err != nil || n != 1 || len(scoped) != 1 || scoped[0].ID != full.ID {
			t.Fatalf("owner scope: %d views, total %d, err %v", len(scoped), n, err)
		}
		stranger := f.user("v-stranger@example.com", "@user")
		if vs, n, err := f.inv.Views.ListViews(f.ctx, server.Scope{OwnerID: &stranger.ID}, all); err != nil || n != 0 || len(vs) != 0 {
			t.Fatalf("stranger scope: %d views, total %d, err %v", len(vs), n, err)
		}
		for expr, want := range map[string]int64{"owner_email IS null": bare.ID, "owner_email EQ 'v-owner@example.com'": full.ID,
			"owner_email CP 'V-OWNER%'": full.ID} {
			vs, n, err := f.inv.Views.ListViews(f.ctx, server.Scope{}, where(t, expr))
			if err != nil || n != 1 || len(vs) != 1 || vs[0].ID != want {
				t.Errorf("%s: %d views, total %d, err %v", expr, len(vs), n, err)
			}
		}

		ips, n, err := db.IPs().ListIPs(f.ctx, server.Scope{OwnerID: &owner.ID}, all)
		if err != nil || n != 2 || len(ips) != 2 || ips[0].ServerName != "v-full" || ips[0].ServerID == nil || *ips[0].ServerID != full.ID {
			t.Fatalf("owner's ips: %+v, total %d, err %v", ips, n, err)
		}
		if ips, n, err := db.IPs().ListIPs(f.ctx, server.Scope{}, where(t, "server IS NULL AND network EQ 'v-net'")); err != nil ||
			n != 1 || ips[0].Name != "10.0.0.12" || ips[0].ServerID != nil {
			t.Fatalf("free ips: %+v, total %d, err %v", ips, n, err)
		}
	})
}

// TestListViewsQueryCount: reading 50 servers with their IPs and ports costs
// as many queries as reading one.
func TestListViewsQueryCount(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		net := f.ipnet("qc-net", "10.1.0.1")
		sw := f.switchDev("qc-switch")
		pdu := f.pdu("qc-pdu")
		for i := range 50 {
			s := f.server(fmt.Sprintf("qc-%02d", i))
			f.ip(fmt.Sprintf("10.1.0.%d", 2*i+10), net, &s.ID)
			f.ip(fmt.Sprintf("10.1.0.%d", 2*i+11), net, &s.ID)
			f.connectPort(s.ID, f.switchPort(sw.ID, fmt.Sprint(i)).ID)
			pc := server.PDUConnection{ServerID: s.ID, PDUPortID: f.pduPort(pdu.ID, fmt.Sprint(i)).ID}
			f.must(f.inv.Connections.SetPDUConnection(f.ctx, &pc), "connect outlet")
		}
		count := func(expr string, want int) int64 {
			before := db.QueryCount()
			vs, _, err := f.inv.Views.ListViews(f.ctx, server.Scope{}, where(t, expr))
			after := db.QueryCount()
			if err != nil || len(vs) != want {
				t.Fatalf("%s: %d views, err %v", expr, len(vs), err)
			}
			for _, v := range vs {
				if len(v.IPs) != 2 || len(v.SwitchPorts) != 1 || v.PDU == nil {
					t.Fatalf("%s: server %s not fully assembled: %+v", expr, v.Name, v)
				}
			}
			return after - before
		}
		one, fifty := count("name EQ 'qc-07'", 1), count("name CP 'qc-%'", 50)
		if one != fifty || one == 0 {
			t.Fatalf("ListViews ran %d queries for 1 server and %d for 50; want the same constant", one, fifty)
		}
	})
}

// TestConfigurations counts free servers (no owner, state ok, not new).
func TestConfigurations(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		u := f.user("conf@example.com", "@user")
		for i, mod := range []func(*server.Server){
			func(v *server.Server) { v.Configuration = "c1" },
			func(v *server.Server) { v.Configuration = "c1" },
			func(v *server.Server) { v.Configuration, v.OwnerID = "c1", &u.ID },
			func(v *server.Server) { v.Configuration, v.State = "c1", server.StateSuspended },
			func(v *server.Server) { v.Configuration, v.IsNew = "c1", true },
			func(v *server.Server) { v.Configuration, v.OwnerID = "c2", &u.ID },
			func(v *server.Server) { v.Configuration = "" },
		} {
			f.server(fmt.Sprintf("conf-%d", i), mod)
		}
		got, err := f.inv.Views.Configurations(f.ctx)
		want := []server.ConfigurationCount{{Configuration: "c1", FreeServerCount: 2}, {Configuration: "c2", FreeServerCount: 0}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("configurations: got %+v (%v), want %+v", got, err, want)
		}
	})
}

// TestOwnershipAndConnections: SetOwner and release; connection conflicts
// leave the earlier links in place.
func TestOwnershipAndConnections(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ctx, views, conns := f.ctx, f.inv.Views, f.inv.Connections
		u := f.user("own@example.com", "@user")
		a, b := f.server("own-a"), f.server("own-b")
		f.must(views.SetOwner(ctx, a.ID, &u.ID), "set owner")
		if got, _ := f.inv.Servers.Get(ctx, a.ID); got.OwnerID == nil || *got.OwnerID != u.ID {
			t.Fatalf("owner not set: %v", got.OwnerID)
		}
		f.must(views.SetOwner(ctx, a.ID, nil), "release")
		if got, _ := f.inv.Servers.Get(ctx, a.ID); got.OwnerID != nil {
			t.Fatalf("owner not released: %v", *got.OwnerID)
		}
		wantKind(t, views.SetOwner(ctx, 1<<40, &u.ID), fault.ErrNotFound, "owner of a missing server")
		wantKind(t, views.SetOwner(ctx, a.ID, ptr(int64(1<<40))), fault.ErrConflict, "missing owner")
		if ok, err := f.inv.Users.UserExists(ctx, u.ID); !ok || err != nil {
			t.Fatalf("UserExists(%d) = %v, %v", u.ID, ok, err)
		}
		if ok, err := f.inv.Users.UserExists(ctx, 1<<40); ok || err != nil {
			t.Fatalf("UserExists(missing) = %v, %v", ok, err)
		}

		sw := f.switchDev("own-switch")
		port := f.switchPort(sw.ID, "1")
		c := f.connectPort(a.ID, port.ID)
		err := conns.AddSwitchConnection(ctx, &server.SwitchConnection{ServerID: b.ID, SwitchPortID: port.ID})
		wantKind(t, err, fault.ErrConflict, "port already connected")
		wantKind(t, conns.RemoveSwitchConnection(ctx, b.ID, c.ID), fault.ErrNotFound, "another server's connection")
		f.must(conns.RemoveSwitchConnection(ctx, a.ID, c.ID), "remove connection")
		wantKind(t, conns.RemoveSwitchConnection(ctx, a.ID, c.ID), fault.ErrNotFound, "connection removed twice")

		pdu := f.pdu("own-pdu")
		o1, o2 := f.pduPort(pdu.ID, "1"), f.pduPort(pdu.ID, "2")
		f.must(conns.SetPDUConnection(ctx, &server.PDUConnection{ServerID: a.ID, PDUPortID: o1.ID}), "connect a")
		f.must(conns.SetPDUConnection(ctx, &server.PDUConnection{ServerID: b.ID, PDUPortID: o2.ID}), "connect b")
		err = conns.SetPDUConnection(ctx, &server.PDUConnection{ServerID: a.ID, PDUPortID: o2.ID})
		wantKind(t, err, fault.ErrConflict, "outlet taken")
		if v := f.viewOf(server.Scope{}, "own-a"); v.PDU == nil || v.PDU.PortID != o1.ID {
			t.Fatalf("a refused replacement dropped the earlier outlet: %+v", v.PDU)
		}
		f.must(conns.RemovePDUConnection(ctx, a.ID), "remove outlet")
		f.must(conns.SetPDUConnection(ctx, &server.PDUConnection{ServerID: b.ID, PDUPortID: o1.ID}), "move b to the freed outlet")
		if v := f.viewOf(server.Scope{}, "own-b"); v.PDU == nil || v.PDU.PortID != o1.ID {
			t.Fatalf("b's outlet not replaced: %+v", v.PDU)
		}
		wantKind(t, conns.RemovePDUConnection(ctx, a.ID), fault.ErrNotFound, "outlet removed twice")
	})
}
