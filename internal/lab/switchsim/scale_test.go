package switchsim_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

// startMany starts n switches of DefaultPorts generated ports.
func startMany(tb testing.TB, n int) []*switchsim.Switch {
	tb.Helper()
	all := make([]*switchsim.Switch, n)
	for k := range all {
		s, err := switchsim.Start(context.Background(), switchsim.Options{Name: fmt.Sprintf("sw-%d", k+1)})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		all[k] = s
	}
	return all
}

// suspendResume sets one port down or up over SNMP and reads it back, as
// a driver's SetAdmin does: two requests per port change.
func suspendResume(g *gosnmp.GoSNMP, ifIndex int, up bool) error {
	v := switchsim.StatusDown
	if up {
		v = switchsim.StatusUp
	}
	name := oid(switchsim.IfAdminStatusOID, ifIndex)
	if pkt, err := g.Set([]gosnmp.SnmpPDU{{Name: name, Type: gosnmp.Integer, Value: v}}); err != nil || pkt.Error != gosnmp.NoError {
		return fmt.Errorf("SET %s: %v %v", name, pkt, err)
	}
	pkt, err := g.Get([]string{name})
	if err != nil || pkt.Variables[0].Value != v {
		return fmt.Errorf("read back %s: %v %v", name, pkt, err)
	}
	return nil
}

// TestFleetScale: 20 switches of 48 ports, 500 suspend/resume operations
// spread over them, one client per switch.
func TestFleetScale(t *testing.T) {
	t.Parallel()
	const switches, ops = 20, 500
	all := startMany(t, switches)
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, switches)
	for k, sw := range all {
		g := client(t, sw, gosnmp.Version2c, switchsim.DefaultCommunity)
		wg.Go(func() {
			for op := k; op < ops; op += switches {
				// Round r (of 25) suspends (even r) or resumes (odd r) port r/2+1.
				round := op / switches
				if err := suspendResume(g, round/2+1, round%2 == 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	took := time.Since(began)
	var tot switchsim.Stats
	for _, sw := range all {
		tot = tot.Add(sw.Stats())
	}
	if tot.PortSets != ops || tot.PortChanges != ops || tot.Requests != 2*ops || tot.Refused != 0 || tot.Dropped != 0 {
		t.Fatalf("fleet stats %+v, want %d port changes in %d requests", tot, ops, 2*ops)
	}
	for _, sw := range all {
		for p := 1; p <= switchsim.DefaultPorts; p++ {
			if !sw.AdminUp(p) && p != 13 { // 25 rounds: the last one (port 13) suspends
				t.Fatalf("%s port %d left down", sw.Name(), p)
			}
		}
	}
	t.Logf("%d suspend/resume operations on %d switches × %d ports in %v (%.1f SNMP requests per port change)",
		ops, switches, switchsim.DefaultPorts, took, float64(tot.Requests)/float64(tot.PortChanges))
	if took > 20*time.Second {
		t.Fatalf("took %v", took)
	}
}

// BenchmarkSuspendResume is one port change with read-back against one
// switch of 20 running in the process.
func BenchmarkSuspendResume(b *testing.B) {
	sw := startMany(b, 20)[7]
	g := &gosnmp.GoSNMP{Target: sw.Host(), Port: uint16(sw.Port()), Version: gosnmp.Version2c,
		Community: switchsim.DefaultCommunity, Timeout: time.Second}
	if err := g.Connect(); err != nil {
		b.Fatal(err)
	}
	defer g.Conn.Close()
	i := 0
	for b.Loop() {
		if err := suspendResume(g, i%switchsim.DefaultPorts+1, (i/switchsim.DefaultPorts)%2 == 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
