package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// TestUniqueNames: a second object with a taken name (or identity within its
// parent, or MAC) is a conflict, on insert and on rename.
func TestUniqueNames(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ctx, s := f.ctx, f.inv
		loc := f.location("dup-loc")
		f.rack("dup-rack", loc.ID)
		f.platform("dup-plat")
		f.chassis("dup-chassis")
		sw := f.switchDev("dup-switch")
		f.switchPort(sw.ID, "7")
		pdu := f.pdu("dup-pdu")
		f.pduPort(pdu.ID, "3")
		f.osTemplate("dup-tmpl")
		dupSrv := f.server("dup-server", func(v *server.Server) { v.MAC = mac(t, "52:54:00:00:00:01") })
		f.bmc(&dupSrv.ID, "pw")
		f.user("dup@example.com", "@user")

		cases := []struct {
			name   string
			create func() error
		}{
			{"location", func() error { return s.Locations.Create(ctx, &server.Location{Name: "dup-loc"}) }},
			{"rack in the same location", func() error {
				return s.Racks.Create(ctx, &server.Rack{Name: "dup-rack", Size: 42, LocationID: loc.ID})
			}},
			{"platform", func() error {
				return s.Platforms.Create(ctx, &server.Platform{Name: "dup-plat", Size: 1, Type: "server"})
			}},
			{"chassis", func() error {
				return s.Chassis.Create(ctx, &server.Chassis{Name: "dup-chassis", Size: 1, ServerSlotCount: 1})
			}},
			{"switch", func() error {
				return s.Switches.Create(ctx, &server.Switch{Name: "dup-switch", SNMP: server.SNMPAccess{Address: "192.0.2.9"}})
			}},
			{"switch port identity", func() error { return s.SwitchPorts.Create(ctx, &server.SwitchPort{SwitchID: sw.ID, Identity: "7"}) }},
			{"pdu", func() error {
				return s.PDUs.Create(ctx, &server.PDU{Name: "dup-pdu", SNMP: server.SNMPAccess{Address: "192.0.2.9"}})
			}},
			{"pdu port identity", func() error { return s.PDUPorts.Create(ctx, &server.PDUPort{PDUID: pdu.ID, Identity: "3"}) }},
			{"os template", func() error { return s.OSTemplates.Create(ctx, &server.OSTemplate{Name: "dup-tmpl"}) }},
			{"server name", func() error { return s.Servers.Create(ctx, &server.Server{Name: "dup-server", State: server.StateOK}) }},
			{"server mac", func() error {
				return s.Servers.Create(ctx, &server.Server{Name: "other", MAC: mac(t, "52:54:00:00:00:01"), State: server.StateOK})
			}},
			{"second bmc of a server", func() error {
				return s.BMCs.Create(ctx, &server.BMC{ServerID: &dupSrv.ID, Address: "198.51.100.9", Type: server.IPMILanplus})
			}},
			{"server renamed onto a taken name", func() error {
				v := f.server("to-rename")
				v.Name = "dup-server"
				return s.Servers.Update(ctx, &v)
			}},
			{"user email, other case", func() error { _, err := createUser(ctx, db, "DUP@example.com"); return err }},
		}
		for _, c := range cases {
			wantKind(t, c.create(), fault.ErrConflict, c.name)
		}
		// A rack name is unique per location only.
		f.rack("dup-rack", f.location("dup-loc-2").ID)
	})
}

func createUser(ctx context.Context, db *store.DB, email string) (int64, error) {
	u := newUser(email, "@user")
	err := db.Auth().CreateUser(ctx, &u)
	return u.ID, err
}

// TestDeleteReferenced: deleting an object something still refers to is a
// conflict, and nothing is deleted.
func TestDeleteReferenced(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ctx, s := f.ctx, f.inv
		loc := f.location("ref-loc")
		rack := f.rack("ref-rack", loc.ID)
		plat := f.platform("ref-plat")
		ch := f.chassis("ref-chassis")
		sw := f.switchDev("ref-switch")
		port := f.switchPort(sw.ID, "1")
		pdu := f.pdu("ref-pdu")
		outlet := f.pduPort(pdu.ID, "1")
		srv := f.server("ref-server", func(v *server.Server) {
			v.LocationID, v.RackID, v.PlatformID, v.ChassisID = &loc.ID, &rack.ID, &plat.ID, &ch.ID
		})
		f.connectPort(srv.ID, port.ID)
		f.must(s.Connections.SetPDUConnection(ctx, &server.PDUConnection{ServerID: srv.ID, PDUPortID: outlet.ID}), "connect outlet")

		cases := []struct {
			name   string
			delete func() error
			exists func() error
		}{
			{"location with a rack", func() error { return s.Locations.Delete(ctx, loc.ID) },
				func() error { _, err := s.Locations.Get(ctx, loc.ID); return err }},
			{"rack with a server", func() error { return s.Racks.Delete(ctx, rack.ID) },
				func() error { _, err := s.Racks.Get(ctx, rack.ID); return err }},
			{"platform used by a server", func() error { return s.Platforms.Delete(ctx, plat.ID) },
				func() error { _, err := s.Platforms.Get(ctx, plat.ID); return err }},
			{"chassis holding a server", func() error { return s.Chassis.Delete(ctx, ch.ID) },
				func() error { _, err := s.Chassis.Get(ctx, ch.ID); return err }},
			{"switch port with a server connection", func() error { return s.SwitchPorts.Delete(ctx, port.ID) },
				func() error { _, err := s.SwitchPorts.Get(ctx, port.ID); return err }},
			{"switch whose port has a server connection", func() error { return s.Switches.Delete(ctx, sw.ID) },
				func() error { _, err := s.SwitchPorts.Get(ctx, port.ID); return err }},
			{"pdu port with a server connection", func() error { return s.PDUPorts.Delete(ctx, outlet.ID) },
				func() error { _, err := s.PDUPorts.Get(ctx, outlet.ID); return err }},
		}
		for _, c := range cases {
			wantKind(t, c.delete(), fault.ErrConflict, c.name)
			if err := c.exists(); err != nil {
				t.Fatalf("%s: object gone after a refused delete: %v", c.name, err)
			}
		}
		if v := f.viewOf(server.Scope{}, "ref-server"); len(v.SwitchPorts) != 1 || v.PDU == nil {
			t.Fatalf("server connections changed by refused deletes: %+v", v)
		}

		// Deleting the server itself drops its connections and unlinks its
		// BMC and addresses; then the port and outlet are free to go.
		bmc := f.bmc(&srv.ID, "pw")
		ip := f.ip("10.9.0.1", f.ipnet("ref-net", "10.9.0.254"), &srv.ID)
		f.must(s.Servers.Delete(ctx, srv.ID), "delete server")
		if b, err := s.BMCs.Get(ctx, bmc.ID); err != nil || b.ServerID != nil {
			t.Fatalf("bmc of a deleted server: %v, %v", b.ServerID, err)
		}
		ips, _, err := db.IPs().ListIPs(ctx, server.Scope{}, where(t, "server IS NULL"))
		if err != nil || len(ips) != 1 || ips[0].ID != ip {
			t.Fatalf("address of a deleted server not released: %+v, %v", ips, err)
		}
		f.must(s.SwitchPorts.Delete(ctx, port.ID), "delete a freed switch port")
		f.must(s.PDUPorts.Delete(ctx, outlet.ID), "delete a freed outlet")
	})
}

// TestCredentialsAtRest: SNMP and BMC secrets are sealed in their columns
// and come back in plain text through the repositories.
func TestCredentialsAtRest(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ctx, s := f.ctx, f.inv
		snmp := server.SNMPAccess{Address: "192.0.2.50", Port: 161, Version: "v3", Community: "community-plain-1",
			V3User: "ops", AuthProtocol: "SHA256", AuthPass: "authpass-plain-2", PrivProtocol: "AES", PrivPass: "privpass-plain-3"}
		sw := server.Switch{Name: "sec-switch", SNMP: snmp, Profile: "generic"}
		f.must(s.Switches.Create(ctx, &sw), "create switch")
		pdu := server.PDU{Name: "sec-pdu", SNMP: snmp, Profile: "apc"}
		f.must(s.PDUs.Create(ctx, &pdu), "create pdu")
		bmc := f.bmc(nil, "bmc-plain-4")

		sealed := func(q string, id int64, plains ...string) {
			t.Helper()
			cols := make([]string, len(plains))
			dest := make([]any, len(cols))
			for i := range cols {
				dest[i] = &cols[i]
			}
			if err := db.SQL().QueryRowContext(ctx, rebind(db, q), id).Scan(dest...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for i, c := range cols {
				if !strings.HasPrefix(c, "v1:") || strings.Contains(c, plains[i]) {
					t.Errorf("%s: column %d is %q, want a v1: sealed value without %q", q, i, c, plains[i])
				}
			}
		}
		snmpCols := `SELECT community_enc, v3_auth_pass_enc, v3_priv_pass_enc FROM %s WHERE id = ?`
		sealed(strings.Replace(snmpCols, "%s", "switches", 1), sw.ID, "community-plain-1", "authpass-plain-2", "privpass-plain-3")
		sealed(strings.Replace(snmpCols, "%s", "pdus", 1), pdu.ID, "community-plain-1", "authpass-plain-2", "privpass-plain-3")
		sealed(`SELECT password_enc FROM ipmis WHERE id = ?`, bmc.ID, "bmc-plain-4")

		gotSw, err := s.Switches.Get(ctx, sw.ID)
		f.must(err, "get switch")
		gotPDU, err := s.PDUs.Get(ctx, pdu.ID)
		f.must(err, "get pdu")
		for _, a := range []server.SNMPAccess{gotSw.SNMP, gotPDU.SNMP} {
			if a.Community.Reveal() != "community-plain-1" || a.AuthPass.Reveal() != "authpass-plain-2" ||
				a.PrivPass.Reveal() != "privpass-plain-3" {
				t.Errorf("snmp secrets did not round-trip")
			}
		}
		gotBMC, err := s.BMCs.Get(ctx, bmc.ID)
		f.must(err, "get bmc")
		if gotBMC.Password.Reveal() != "bmc-plain-4" {
			t.Errorf("bmc password did not round-trip")
		}
	})
}
