package pdusim_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/pdusim"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/pdu"
	"github.com/dcimd/dcimd/internal/secret"
)

type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(n int, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, strconv.Itoa(n)+map[bool]string{true: " on", false: " off"}[on])
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.log, ", ")
}

func start(t *testing.T, o pdusim.Options) *pdusim.PDU {
	t.Helper()
	p, err := pdusim.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func driver(p *pdusim.PDU, community string) *pdu.PDU {
	return pdu.New(pdu.Access{Address: p.Host(), Port: p.Port(), Version: "v2c", Community: secret.String(community),
		Timeout: 300 * time.Millisecond}, pdu.APCRack(), pdu.WithResetWait(300*time.Millisecond),
		pdu.WithPollInterval(20*time.Millisecond))
}

// TestDriverOnSimulatedPDU runs dcimd's PDU driver (profile apc-rpdu)
// against the agent: the walk the poller does, and on, off and reboot.
func TestDriverOnSimulatedPDU(t *testing.T) {
	t.Parallel()
	ev := &events{}
	sim := start(t, pdusim.Options{Outlets: 24, Off: []int{3}, RebootDelay: 200 * time.Millisecond, OnChange: ev.add})
	d := driver(sim, pdusim.DefaultCommunity)
	ctx := context.Background()

	all, err := d.Outlets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 24 || all[1] != power.On || all[3] != power.Off || all[24] != power.On {
		t.Fatalf("Outlets = %v, want 24 outlets, 3 off", all)
	}
	o := d.Outlet(3)
	for _, step := range []struct {
		name string
		fn   func(context.Context) error
		want bool
	}{{"On", o.On, true}, {"On again", o.On, true}, {"Off", o.Off, false}, {"Reset", o.Reset, true}} {
		if err := step.fn(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if sim.On(3) != step.want {
			t.Fatalf("after %s outlet 3 on=%v", step.name, sim.On(3))
		}
	}
	// The driver's Reset of an outlet that is off is a plain on.
	if got, want := sim.Counters(), (pdusim.Counters{On: 2, Off: 1}); got != want {
		t.Fatalf("counters = %+v, want %+v", got, want)
	}
	if got := ev.String(); got != "3 on, 3 off, 3 on" {
		t.Fatalf("events = %q", got)
	}
}

func TestRebootCycles(t *testing.T) {
	t.Parallel()
	ev := &events{}
	sim := start(t, pdusim.Options{RebootDelay: 200 * time.Millisecond, OnChange: ev.add})
	if err := driver(sim, pdusim.DefaultCommunity).Outlet(2).Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ev.String(); got != "2 off, 2 on" {
		t.Fatalf("events = %q, want the outlet off then on", got)
	}
	if c := sim.Counters(); c.Reboot != 1 {
		t.Fatalf("counters = %+v, want one reboot", c)
	}
}

func gosnmpClient(t *testing.T, p *pdusim.PDU, v gosnmp.SnmpVersion, community string) *gosnmp.GoSNMP {
	t.Helper()
	g := &gosnmp.GoSNMP{Target: p.Host(), Port: uint16(p.Port()), Version: v, Community: community,
		Timeout: 300 * time.Millisecond, Retries: 0}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// TestRejectedSets: the agent refuses bad SETs with the SNMP error a
// real agent uses, and changes nothing.
func TestRejectedSets(t *testing.T) {
	t.Parallel()
	sim := start(t, pdusim.Options{})
	ctl := pdusim.ControlCommandOID + ".1"
	tests := []struct {
		name    string
		version gosnmp.SnmpVersion
		pdu     gosnmp.SnmpPDU
		want    gosnmp.SNMPError
	}{
		{"value out of range", gosnmp.Version2c, gosnmp.SnmpPDU{Name: ctl, Type: gosnmp.Integer, Value: 7}, gosnmp.WrongValue},
		{"wrong type", gosnmp.Version2c, gosnmp.SnmpPDU{Name: ctl, Type: gosnmp.OctetString, Value: []byte("off")}, gosnmp.WrongType},
		{"status is read-only", gosnmp.Version2c, gosnmp.SnmpPDU{Name: pdusim.StatusStateOID + ".1", Type: gosnmp.Integer, Value: 2}, gosnmp.NotWritable},
		{"no such outlet", gosnmp.Version2c, gosnmp.SnmpPDU{Name: pdusim.ControlCommandOID + ".99", Type: gosnmp.Integer, Value: 2}, gosnmp.NoCreation},
		{"v1 value out of range", gosnmp.Version1, gosnmp.SnmpPDU{Name: ctl, Type: gosnmp.Integer, Value: 0}, gosnmp.BadValue},
		{"v1 read-only", gosnmp.Version1, gosnmp.SnmpPDU{Name: pdusim.StatusStateOID + ".1", Type: gosnmp.Integer, Value: 2}, gosnmp.NoSuchName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := gosnmpClient(t, sim, tc.version, pdusim.DefaultCommunity)
			pkt, err := g.Set([]gosnmp.SnmpPDU{tc.pdu})
			if err != nil {
				t.Fatalf("Set: %v (gosnmp returns the refusal in the packet, not as an error)", err)
			}
			if pkt.Error != tc.want || pkt.ErrorIndex != 1 {
				t.Fatalf("error status %v index %d, want %v index 1", pkt.Error, pkt.ErrorIndex, tc.want)
			}
		})
	}
	if !sim.On(1) || sim.Counters().Refused != int64(len(tests)) {
		t.Fatalf("outlet 1 on=%v counters=%+v after refused SETs", sim.On(1), sim.Counters())
	}
	// Our driver reports a refused SET as a permanent error.
	bad := pdu.New(pdu.Access{Address: sim.Host(), Port: sim.Port(), Community: secret.String(pdusim.DefaultCommunity)},
		pdu.GenericProfile(pdu.Generic{StatusOID: pdusim.StatusStateOID, ControlOID: pdusim.StatusStateOID,
			OnValue: 1, OffValue: 2, StatusOn: 1, StatusOff: 2}))
	err := bad.Outlet(1).Off(context.Background())
	var de *power.DeviceError
	if !errors.As(err, &de) || de.Transient || !strings.Contains(err.Error(), "notWritable") {
		t.Fatalf("Off through a read-only OID = %v, want a permanent notWritable", err)
	}
}

func TestGetAndWalk(t *testing.T) {
	t.Parallel()
	sim := start(t, pdusim.Options{Outlets: 4, Name: "pdu-a1", OutletNames: []string{"srv-1"}})
	g := gosnmpClient(t, sim, gosnmp.Version2c, pdusim.DefaultCommunity)
	pkt, err := g.Get([]string{".1.3.6.1.2.1.1.5.0", pdusim.StatusStateOID + ".9", ".1.3.6.1.4.1.9.9.9.0"})
	if err != nil {
		t.Fatal(err)
	}
	if v := pkt.Variables; string(v[0].Value.([]byte)) != "pdu-a1" || v[1].Type != gosnmp.NoSuchInstance || v[2].Type != gosnmp.NoSuchObject {
		t.Fatalf("GET answered %+v", v)
	}
	for _, walk := range []func(string) ([]gosnmp.SnmpPDU, error){g.WalkAll, g.BulkWalkAll} {
		vars, err := walk(".1.3.6.1.4.1.318.1.1.12.3.5.1.1")
		if err != nil {
			t.Fatal(err)
		}
		if len(vars) != 12 || string(vars[4].Value.([]byte)) != "srv-1" {
			t.Fatalf("walk of the status table: %d values %+v", len(vars), vars)
		}
	}
	all, err := g.BulkWalkAll(".1.3")
	if err != nil || len(all) != 4+4*6 {
		t.Fatalf("walk of everything: %d values, %v", len(all), err)
	}
}

func TestWrongCommunityGetsNoAnswer(t *testing.T) {
	t.Parallel()
	sim := start(t, pdusim.Options{Community: "s3cret"})
	g := gosnmpClient(t, sim, gosnmp.Version2c, "public")
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Fatal("the agent answered a request with the wrong community")
	}
	_, err := driver(sim, "public").Outlets(context.Background())
	if !power.IsTransient(err) {
		t.Fatalf("driver with the wrong community: %v, want a transient (timeout) error", err)
	}
}

// TestNetSNMPTools checks the agent with net-snmp's command line tools.
func TestNetSNMPTools(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"snmpget", "snmpset", "snmpbulkwalk"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI (Debian package snmp)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	sim := start(t, pdusim.Options{Outlets: 2})
	run := func(tool string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, tool, append([]string{"-v2c", "-c", pdusim.DefaultCommunity, "-On", "-t", "1", "-r", "1",
			"udp:" + sim.Addr()}, args...)...)
		cmd.Env = append(os.Environ(), "MIBS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
		}
		return string(out)
	}
	run("snmpset", pdusim.ControlCommandOID+".2", "i", "2")
	if sim.On(2) {
		t.Fatal("snmpset immediateOff left outlet 2 on")
	}
	if out := run("snmpget", pdusim.StatusStateOID+".2"); !strings.Contains(out, "INTEGER: 2") {
		t.Fatalf("snmpget status = %q", out)
	}
	if out := run("snmpbulkwalk", ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"); strings.Count(out, "INTEGER") != 2 {
		t.Fatalf("snmpbulkwalk = %q", out)
	}
}
