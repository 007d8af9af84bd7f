package lab

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

type switchRecord struct {
	ID       int64
	Name     string
	Address  string
	Port     int    `json:"snmp_port"`
	Version  string `json:"snmp_version"`
	Profile  string
	ReadOnly bool `json:"read_only"`
}

type switchPortRecord struct {
	ID          int64
	Identity    string
	Name        string
	AdminStatus string `json:"admin_status"`
}

func (r *running) switchRecords() map[string]switchRecord {
	r.t.Helper()
	var l struct{ List []switchRecord }
	r.call(http.MethodGet, "/api/dci/v3/switch?limit=1000", nil, http.StatusOK, &l, "")
	m := map[string]switchRecord{}
	for _, s := range l.List {
		m[s.Name] = s
	}
	return m
}

func (r *running) switchPorts(id int64) []switchPortRecord {
	r.t.Helper()
	var l struct{ List []switchPortRecord }
	r.call(http.MethodGet, fmt.Sprintf("/api/dci/v3/switch/%d/port?limit=1000", id), nil, http.StatusOK, &l, "")
	return l.List
}

// checkSwitches: every switch record points at its running simulator
// (read-write v2c, profile generic), the records' port identities are the
// simulator's ifIndex values, and the simulator's forwarding table has
// the servers' NIC and BMC MACs on the ports the inventory connects.
func (r *running) checkSwitches(servers int) {
	r.t.Helper()
	lay := newLayout(servers)
	records := r.switchRecords()
	if len(r.switches) != lay.racks {
		r.t.Fatalf("%d simulated switches, want one per rack (%d)", len(r.switches), lay.racks)
	}
	for k, sim := range r.switches {
		rec, ok := records[switchName(k)]
		if !ok {
			r.t.Fatalf("no switch record %s", switchName(k))
		}
		if rec.Address != "127.0.0.1" || rec.Port != sim.Port() || rec.Version != "v2c" || rec.Profile != "generic" || rec.ReadOnly {
			r.t.Errorf("switch %s: %+v, want 127.0.0.1:%d v2c generic read-write", rec.Name, rec, sim.Port())
		}
		ports := r.switchPorts(rec.ID)
		if len(ports) != sim.Ports() {
			r.t.Errorf("switch %s: %d port records, the simulator has %d", rec.Name, len(ports), sim.Ports())
		}
		for _, p := range ports {
			idx, err := strconv.Atoi(p.Identity)
			if err != nil || idx < 1 || idx > sim.Ports() || p.Name != fmt.Sprintf("Ethernet1/%d", idx) {
				r.t.Errorf("switch %s: port record %+v is not one of the simulator's ifIndexes", rec.Name, p)
			}
		}

		g := &gosnmp.GoSNMP{Target: rec.Address, Port: uint16(rec.Port), Version: gosnmp.Version2c, Community: sim.Community(),
			Timeout: time.Second}
		if err := g.Connect(); err != nil {
			r.t.Fatal(err)
		}
		vars, err := g.BulkWalkAll(switchsim.Dot1qTpFdbPortOID)
		g.Conn.Close()
		if err != nil {
			r.t.Fatalf("switch %s: walk of the FDB: %v", rec.Name, err)
		}
		fdb := map[string]int{}
		for _, v := range vars {
			fdb[v.Name] = v.Value.(int)
		}
		at := func(mac net.HardwareAddr) string {
			s := switchsim.Dot1qTpFdbPortOID + ".1"
			for _, b := range mac {
				s += fmt.Sprintf(".%d", b)
			}
			return s
		}
		for i := range servers {
			rack, pos := lay.place(i)
			if rack != k {
				continue
			}
			for _, p := range []struct {
				mac  net.HardwareAddr
				port int
			}{{macFor(i+1, 0), pos}, {bmcMAC(i + 1), pos + switchPorts/2}} {
				if !sim.AdminUp(p.port) {
					continue // suspended: down, and its MAC flushed
				}
				if got := fdb[at(p.mac)]; got != p.port || !sim.OperUp(p.port) {
					r.t.Errorf("switch %s: %s's %s at port %d (oper up %v), want %d", rec.Name, serverName(i), p.mac, got,
						sim.OperUp(p.port), p.port)
				}
			}
		}
		if sim.OperUp(lay.perRack+1) || !sim.OperUp(switchPorts+1) {
			r.t.Errorf("switch %s: a port without a server is up, or an uplink is down", rec.Name)
		}
	}
}

// setPortDown sets a switch port record down, as a suspend would.
func (r *running) setPortDown(sw string, identity string) {
	r.t.Helper()
	rec := r.switchRecords()[sw]
	for _, p := range r.switchPorts(rec.ID) {
		if p.Identity == identity {
			r.call(http.MethodPost, fmt.Sprintf("/api/dci/v3/switch/%d/port/%d", rec.ID, p.ID),
				map[string]string{"admin_status": "down"}, http.StatusOK, nil, "")
			return
		}
	}
	r.t.Fatalf("switch %s has no port %s", sw, identity)
}
