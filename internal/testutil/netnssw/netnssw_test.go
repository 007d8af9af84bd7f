package netnssw_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/snmpc"
	"github.com/dcimd/dcimd/internal/testutil/netnssw"
)

const (
	ifDescr        = ".1.3.6.1.2.1.2.2.1.2"
	ifAdminStatus  = ".1.3.6.1.2.1.2.2.1.7"
	basePortIfIdx  = ".1.3.6.1.2.1.17.1.4.1.2"
	tpFdbPort      = ".1.3.6.1.2.1.17.4.3.1.2"
	qTpFdbPort     = ".1.3.6.1.2.1.17.7.1.2.2.1.2"
	tpFdbStatus    = ".1.3.6.1.2.1.17.4.3.1.3"
	learnedStatus  = 3
	ownEntryStatus = 4
)

func walk(t *testing.T, a snmpc.Access, root string) []gosnmp.SnmpPDU {
	t.Helper()
	a.Timeout = 2 * time.Second
	s, err := snmpc.Open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vars, err := s.BulkWalk(root)
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return vars
}

// macIndex is a MAC as the six arcs of a table index.
func macIndex(mac string) string {
	var arcs []string
	for _, h := range strings.Split(mac, ":") {
		var b int
		fmt.Sscanf(h, "%x", &b)
		arcs = append(arcs, fmt.Sprint(b))
	}
	return strings.Join(arcs, ".")
}

func TestSwitch(t *testing.T) {
	t.Parallel()
	var names []string
	t.Run("build", func(t *testing.T) {
		start := time.Now()
		sw := netnssw.Start(t, netnssw.Options{Ports: 3})
		t.Logf("Start took %s; switch %s at %s", time.Since(start).Round(time.Millisecond), sw.NS, sw.Target())
		names = append(names, sw.NS, sw.HostsNS)
		if !sw.Addr.IsValid() || !strings.HasPrefix(sw.Addr.String(), "198.18.") {
			t.Errorf("agent address %s is not in 198.18.0.0/16", sw.Addr)
		}

		descr := map[int]string{}
		for _, v := range walk(t, sw.Access(netnssw.V2cRO), ifDescr) {
			idx, _ := snmpc.Suffix(v.Name, ifDescr)
			descr[int(idx[0])], _ = snmpc.String(v)
		}
		for i := 1; i <= 3; i++ {
			if up, oper := sw.LinkState(t, i); !up || oper != "UP" {
				t.Errorf("port %d: admin up %v, oper %s", i, up, oper)
			}
			if got := descr[sw.PortIfIndex(i)]; got != sw.PortName(i) {
				t.Errorf("ifDescr.%d = %q, want %q", sw.PortIfIndex(i), got, sw.PortName(i))
			}
		}
		if n := len(sw.LearnedMACs(t)); n != 0 {
			t.Errorf("the bridge learned %d MACs before any frame was sent", n)
		}
		ports := walk(t, sw.Access(netnssw.V3RO), basePortIfIdx)
		if len(ports) != 3 {
			t.Errorf("dot1dBasePortIfIndex has %d rows, want 3", len(ports))
		}

		sw.Ping(t, 1, 3)
		learned := sw.LearnedMACs(t)
		if learned[sw.HostMAC(1)] != 1 || learned[sw.HostMAC(3)] != 3 || len(learned) != 2 {
			t.Errorf("learned %v, want host 1 on port 1 and host 3 on port 3", learned)
		}
		q := map[string]int{}
		for _, v := range walk(t, sw.Access(netnssw.V2cRW), qTpFdbPort) {
			idx, _ := snmpc.Suffix(v.Name, qTpFdbPort)
			n, _ := snmpc.Int(v)
			q[fmt.Sprint(idx)] = n
		}
		for _, i := range []int{1, 3} {
			key := fmt.Sprintf("[1 %s]", strings.ReplaceAll(macIndex(sw.HostMAC(i)), ".", " "))
			if q[key] != i { // bridge port numbers follow the port numbers here
				t.Errorf("dot1qTpFdbPort%s = %d, want %d (table %v)", key, q[key], i, q)
			}
		}

		// The read-only user may read but not write.
		s, err := snmpc.Open(context.Background(), sw.Access(netnssw.V3RO))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Set(fmt.Sprintf("%s.%d", ifAdminStatus, sw.PortIfIndex(2)), 2)
		s.Close()
		if err == nil || !sw.LinkUp(t, 2) {
			t.Errorf("SET by the read-only user = %v, port 2 up %v", err, sw.LinkUp(t, 2))
		}

		// The agent comes back with the same credentials (v3 users too).
		sw.StopAgent(t)
		a := sw.Access(netnssw.V2cRW)
		a.Timeout = 300 * time.Millisecond
		if s, err := snmpc.Open(context.Background(), a); err == nil {
			_, err = s.Get(ifDescr + ".1")
			s.Close()
			if !snmpc.IsTransient(err) {
				t.Errorf("GET with the agent stopped = %v, want a transient error", err)
			}
		}
		sw.StartAgent(t)
		if len(walk(t, sw.Access(netnssw.V3RW), ifDescr)) < 5 {
			t.Error("v3 walk after a restart found fewer than 5 interfaces")
		}
	})
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); err == nil {
			t.Errorf("namespace %s still exists after the test", n)
		}
	}
}

func TestFDBOptions(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 2, VLAN: 42, FDBTables: "both", SelfEntries: true})
	sw.Ping(t, 2, 1)
	status := map[string]int{}
	for _, v := range walk(t, sw.Access(netnssw.V2cRO), tpFdbStatus) {
		idx, _ := snmpc.Suffix(v.Name, tpFdbStatus)
		n, _ := snmpc.Int(v)
		status[strings.Trim(strings.ReplaceAll(fmt.Sprint(idx), " ", "."), "[]")] = n
	}
	if status[macIndex(sw.HostMAC(1))] != learnedStatus || status[macIndex(sw.HostMAC(2))] != learnedStatus {
		t.Errorf("status of the hosts' MACs: %v", status)
	}
	own := 0
	for _, st := range status {
		if st == ownEntryStatus {
			own++
		}
	}
	if own != 2 {
		t.Errorf("%d entries with status self, want the 2 ports' own MACs (%v)", own, status)
	}
	for _, v := range walk(t, sw.Access(netnssw.V2cRO), qTpFdbPort) {
		if idx, _ := snmpc.Suffix(v.Name, qTpFdbPort); idx[0] != 42 {
			t.Errorf("Q-BRIDGE entry %s is not in fdb 42", v.Name)
		}
	}

	none := netnssw.Start(t, netnssw.Options{Ports: 1, FDBTables: "none"})
	if got := walk(t, none.Access(netnssw.V2cRO), ".1.3.6.1.2.1.17"); len(got) != 0 {
		t.Errorf("FDBTables none serves %d objects under BRIDGE-MIB", len(got))
	}
	if got := walk(t, none.Access(netnssw.V2cRO), tpFdbPort); len(got) != 0 {
		t.Errorf("FDBTables none serves %d dot1dTpFdbPort rows", len(got))
	}
}
