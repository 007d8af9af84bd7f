package lab

import (
	"context"
	"fmt"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/lab/pdusim"
	"github.com/dcimd/dcimd/internal/lab/switchsim"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
)

// Names of what the lab creates. Everything is found again by these names,
// so a second start adds what is missing and changes nothing else, except
// the BMC, PDU and switch records' ports and credentials, which follow
// the simulators of this start.
const (
	locationName = "Lab DC"
	geolocation  = "Science Park 610, Amsterdam (52.3560, 4.9536)"
	switchPorts  = 48 // 1-24 host NICs, 25-48 BMC ports; plus two uplinks
	outletsPer   = 24 // APC AP7941
	// switchProfile is the netsw profile of the simulated switches:
	// standard IF-MIB and BRIDGE-MIB, nothing vendor specific.
	switchProfile = "generic"
	uplinkMbps    = 100000
)

func serverName(i int) string  { return fmt.Sprintf("lab-%03d", i+1) }
func rackName(r int) string    { return fmt.Sprintf("A%02d", r+1) }
func pduName(r int) string     { return fmt.Sprintf("pdu-lab-a%02d", r+1) }
func switchName(r int) string  { return fmt.Sprintf("sw-lab-a%02d", r+1) }
func uplinkAlias(k int) string { return fmt.Sprintf("uplink to spine-%d", k) }

// layout places n servers in racks of at most 20 (each rack has one PDU
// and one switch), at least two racks.
type layout struct{ servers, racks, perRack int }

func newLayout(n int) layout {
	racks := max(2, (n+19)/20)
	return layout{servers: n, racks: racks, perRack: max(1, (n+racks-1)/racks)}
}

// place gives server i's rack and its position in the rack (from 1): its
// unit, PDU outlet and switch port.
func (l layout) place(i int) (rack, pos int) { return i / l.perRack, i%l.perRack + 1 }

// owned tells which servers the demo user rents: half of them.
func owned(i int) bool { return i%4 < 2 }

func eqStr(field, v string) listq.Node {
	return &listq.Compare{Field: field, Op: "EQ", Value: listq.Value{Kind: listq.KindString, Str: v}}
}

func eqInt(field string, v int64) listq.Node {
	return &listq.Compare{Field: field, Op: "EQ", Value: listq.Value{Kind: listq.KindInt, Int: v}}
}

func and(a, b listq.Node) listq.Node { return &listq.Binary{Op: "AND", Left: a, Right: b} }

// ensure returns the object matching where, or creates it with mk.
func ensure[T any](ctx context.Context, r server.Repo[T], what string, where listq.Node, mk func() (T, error)) (T, bool, error) {
	vs, _, err := r.List(ctx, listq.Query{Where: where, Limit: 1})
	if err != nil {
		var zero T
		return zero, false, fmt.Errorf("look up %s: %w", what, err)
	}
	if len(vs) > 0 {
		return vs[0], false, nil
	}
	v, err := mk()
	if err != nil {
		return v, false, fmt.Errorf("%s: %w", what, err)
	}
	if err := r.Create(ctx, &v); err != nil {
		return v, false, fmt.Errorf("create %s: %w", what, err)
	}
	return v, true, nil
}

// seeded is what the inventory looks like after seeding.
type seeded struct {
	created     int     // objects created by this start
	serverIDs   []int64 // by server index
	firstServer int64
}

type seeder struct {
	svc      *server.Service
	lay      layout
	bmcs     []*bmcsim.BMC
	pdus     []*pdusim.PDU
	switches []*switchsim.Switch
	demoID   int64
	out      seeded
}

func (s *seeder) count(created bool) {
	if created {
		s.out.created++
	}
}

func ptr[T any](v T) *T { return &v }

func (s *seeder) run(ctx context.Context) (seeded, error) {
	loc, c, err := ensure(ctx, s.svc.Locations, "location "+locationName, eqStr("name", locationName), func() (server.Location, error) {
		v := server.Location{Name: locationName, Geolocation: geolocation, Userspace: 1}
		return v, v.Validate()
	})
	if err != nil {
		return s.out, err
	}
	s.count(c)
	platforms := map[string]int64{}
	for _, m := range models {
		p, c, err := ensure(ctx, s.svc.Platforms, "platform "+m.platform, eqStr("name", m.platform), func() (server.Platform, error) {
			v := server.Platform{Name: m.platform, Size: m.size, Type: "rack"}
			return v, v.Validate()
		})
		if err != nil {
			return s.out, err
		}
		s.count(c)
		platforms[m.platform] = p.ID
	}
	racks := make([]server.Rack, s.lay.racks)
	pdus := make([]server.PDU, s.lay.racks)
	for r := range racks {
		rack, c, err := ensure(ctx, s.svc.Racks, "rack "+rackName(r), and(eqStr("name", rackName(r)), eqInt("location_id", loc.ID)),
			func() (server.Rack, error) {
				v := server.Rack{Name: rackName(r), Size: 42, LocationID: loc.ID}
				return v, s.svc.CheckRack(ctx, &v)
			})
		if err != nil {
			return s.out, err
		}
		s.count(c)
		racks[r] = rack
		if pdus[r], err = s.pdu(ctx, r, loc.ID, rack.ID); err != nil {
			return s.out, err
		}
		if err := s.switchWithPorts(ctx, r, loc.ID, rack.ID); err != nil {
			return s.out, err
		}
	}
	s.out.serverIDs = make([]int64, s.lay.servers)
	for i := range s.lay.servers {
		r, pos := s.lay.place(i)
		id, err := s.server(ctx, i, loc.ID, racks[r].ID, pos, platforms)
		if err != nil {
			return s.out, err
		}
		s.out.serverIDs[i] = id
		if err := s.connect(ctx, i, id, pdus[r], r, pos); err != nil {
			return s.out, err
		}
	}
	if len(s.out.serverIDs) > 0 {
		s.out.firstServer = s.out.serverIDs[0]
	}
	return s.out, nil
}

// pdu ensures rack r's PDU and its outlets, and points the record at
// this start's simulated PDU.
func (s *seeder) pdu(ctx context.Context, r int, locID, rackID int64) (server.PDU, error) {
	sim := s.pdus[r]
	access := server.SNMPAccess{Address: sim.Host(), Port: sim.Port(), Version: "v2c", Community: secret.String(sim.Community())}
	d, c, err := ensure(ctx, s.svc.PDUs, "pdu "+pduName(r), eqStr("name", pduName(r)), func() (server.PDU, error) {
		v := server.PDU{Name: pduName(r), SNMP: access, Profile: server.PDUProfileAPCRack, LocationID: &locID, RackID: &rackID}
		if err := v.Validate(); err != nil {
			return v, err
		}
		return v, s.svc.CheckPlaced(ctx, v.LocationID, v.RackID)
	})
	if err != nil {
		return d, err
	}
	s.count(c)
	if !c && (d.SNMP.Port != access.Port || d.SNMP.Address != access.Address || d.SNMP.Community != access.Community) {
		d.SNMP.Address, d.SNMP.Port, d.SNMP.Version, d.SNMP.Community = access.Address, access.Port, access.Version, access.Community
		if err := s.svc.PDUs.Update(ctx, &d); err != nil {
			return d, fmt.Errorf("point pdu %s at the simulator: %w", d.Name, err)
		}
	}
	for n := 1; n <= sim.Outlets(); n++ {
		_, c, err := ensure(ctx, s.svc.PDUPorts, fmt.Sprintf("outlet %d of %s", n, d.Name),
			and(eqInt("pdu_id", d.ID), eqStr("identity", fmt.Sprint(n))), func() (server.PDUPort, error) {
				v := server.PDUPort{PDUID: d.ID, Identity: fmt.Sprint(n), Name: fmt.Sprintf("Outlet %d", n), PowerStatus: server.StatusUnknown}
				return v, v.Validate()
			})
		if err != nil {
			return d, err
		}
		s.count(c)
	}
	return d, nil
}

// switchWithPorts ensures rack r's top-of-rack switch and its ports, and
// points the record at this start's simulated switch. Port identities are
// the simulator's ifIndex values. A port the inventory has down (a
// suspended server) is set down on the new simulator too.
func (s *seeder) switchWithPorts(ctx context.Context, r int, locID, rackID int64) error {
	sim := s.switches[r]
	access := server.SNMPAccess{Address: sim.Host(), Port: sim.Port(), Version: "v2c", Community: secret.String(sim.Community())}
	sw, c, err := ensure(ctx, s.svc.Switches, "switch "+switchName(r), eqStr("name", switchName(r)), func() (server.Switch, error) {
		v := server.Switch{Name: switchName(r), Profile: switchProfile, LocationID: &locID, RackID: &rackID, Unit: ptr(42), SNMP: access}
		if err := v.Validate(); err != nil {
			return v, err
		}
		return v, s.svc.CheckPlaced(ctx, v.LocationID, v.RackID)
	})
	if err != nil {
		return err
	}
	s.count(c)
	if !c && (sw.SNMP.Address != access.Address || sw.SNMP.Port != access.Port || sw.SNMP.Version != access.Version ||
		sw.SNMP.Community != access.Community || sw.Profile != switchProfile || sw.ReadOnly) {
		sw.SNMP.Address, sw.SNMP.Port, sw.SNMP.Version, sw.SNMP.Community = access.Address, access.Port, access.Version, access.Community
		sw.Profile, sw.ReadOnly = switchProfile, false
		if err := s.svc.Switches.Update(ctx, &sw); err != nil {
			return fmt.Errorf("point switch %s at the simulator: %w", sw.Name, err)
		}
	}
	for n := 1; n <= sim.Ports(); n++ {
		idx := sim.IfIndex(n)
		speed, desc := int64(switchsim.DefaultSpeedMbps), ""
		if n > switchPorts {
			speed, desc = uplinkMbps, uplinkAlias(n-switchPorts)
		}
		p, c, err := ensure(ctx, s.svc.SwitchPorts, fmt.Sprintf("port %d of %s", idx, sw.Name),
			and(eqInt("switch_id", sw.ID), eqStr("identity", fmt.Sprint(idx))), func() (server.SwitchPort, error) {
				v := server.SwitchPort{SwitchID: sw.ID, Identity: fmt.Sprint(idx), Name: fmt.Sprintf("Ethernet1/%d", n), Description: desc,
					AdminStatus: server.StatusUp, OperStatus: server.StatusDown, Speed: speed}
				if sim.OperUp(idx) {
					v.OperStatus = server.StatusUp
				}
				return v, v.Validate()
			})
		if err != nil {
			return err
		}
		s.count(c)
		if p.AdminStatus == server.StatusDown {
			if err := sim.SetAdmin(idx, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// server ensures server i and its BMC record, pointed at this start's
// simulated BMC.
func (s *seeder) server(ctx context.Context, i int, locID, rackID int64, unit int, platforms map[string]int64) (int64, error) {
	m := modelFor(i)
	name := serverName(i)
	v, c, err := ensure(ctx, s.svc.Servers, "server "+name, eqStr("name", name), func() (server.Server, error) {
		v := server.Server{Name: name, Domain: name + ".lab.example.net", MAC: macFor(i+1, 0), Configuration: m.config,
			LocationID: &locID, RackID: &rackID, Unit: ptr(unit), PlatformID: ptr(platforms[m.platform]), EFI: i%2 == 0,
			State: server.StateOK, PowerStatus: server.StatusUnknown, HardwareInfo: hardwareInfo(m, i+1)}
		if owned(i) && s.demoID != 0 {
			v.OwnerID = &s.demoID
		}
		return v, s.svc.CheckServer(ctx, &v)
	})
	if err != nil {
		return 0, err
	}
	s.count(c)

	sim := s.bmcs[i]
	want := server.BMC{ServerID: &v.ID, Address: sim.Host(), Port: sim.Port(), Username: sim.User(),
		Password: secret.String(sim.Password()), Type: server.IPMILanplus, CipherSuite: 17, Privilege: "administrator",
		Status: server.StatusUnknown}
	b, c, err := ensure(ctx, s.svc.BMCs, "ipmi of "+name, eqInt("server_id", v.ID), func() (server.BMC, error) {
		return want, s.svc.CheckBMC(ctx, &want)
	})
	if err != nil {
		return 0, err
	}
	s.count(c)
	if !c && (b.Address != want.Address || b.Port != want.Port || b.Username != want.Username || b.Password != want.Password) {
		b.Address, b.Port, b.Username, b.Password = want.Address, want.Port, want.Username, want.Password
		if err := s.svc.BMCs.Update(ctx, &b); err != nil {
			return 0, fmt.Errorf("point the ipmi of %s at its simulator: %w", name, err)
		}
	}
	return v.ID, nil
}

// connect ensures server i's PDU outlet and its two switch ports (host
// NIC and BMC), unless the server already has connections.
func (s *seeder) connect(ctx context.Context, i int, id int64, d server.PDU, r, pos int) error {
	view, err := s.svc.GetView(ctx, server.Scope{}, id)
	if err != nil {
		return err
	}
	if view.PDU == nil {
		ports, _, err := s.svc.PDUPorts.List(ctx, listq.Query{Where: and(eqInt("pdu_id", d.ID), eqStr("identity", fmt.Sprint(pos))), Limit: 1})
		if err != nil {
			return err
		}
		if len(ports) == 1 {
			if err := s.svc.ConnectPDUPort(ctx, &server.PDUConnection{ServerID: id, PDUPortID: ports[0].ID}); err != nil {
				return fmt.Errorf("connect %s to %s outlet %d: %w", serverName(i), d.Name, pos, err)
			}
			s.count(true)
		}
	}
	if len(view.SwitchPorts) > 0 {
		return nil
	}
	sws, _, err := s.svc.Switches.List(ctx, listq.Query{Where: eqStr("name", switchName(r)), Limit: 1})
	if err != nil || len(sws) == 0 {
		return err
	}
	for _, p := range []struct {
		port int
		ipmi bool
	}{{pos, false}, {pos + switchPorts/2, true}} {
		idx := s.switches[r].IfIndex(p.port)
		ports, _, err := s.svc.SwitchPorts.List(ctx, listq.Query{Where: and(eqInt("switch_id", sws[0].ID), eqStr("identity", fmt.Sprint(idx))), Limit: 1})
		if err != nil {
			return err
		}
		if len(ports) == 0 {
			continue
		}
		if err := s.svc.ConnectSwitchPort(ctx, &server.SwitchConnection{ServerID: id, SwitchPortID: ports[0].ID, IsIPMIConnection: p.ipmi}); err != nil {
			return fmt.Errorf("connect %s to %s port %d: %w", serverName(i), sws[0].Name, idx, err)
		}
		s.count(true)
	}
	return nil
}
