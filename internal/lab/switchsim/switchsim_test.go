package switchsim_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

func start(t *testing.T, o switchsim.Options) *switchsim.Switch {
	t.Helper()
	s, err := switchsim.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(t *testing.T, s *switchsim.Switch, v gosnmp.SnmpVersion, community string) *gosnmp.GoSNMP {
	t.Helper()
	g := &gosnmp.GoSNMP{Target: s.Host(), Port: uint16(s.Port()), Version: v, Community: community,
		Timeout: 300 * time.Millisecond, Retries: 0, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// clock is an injected time source the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func oid(base string, idx ...int) string {
	var b strings.Builder
	b.WriteString(base)
	for _, i := range idx {
		b.WriteString("." + strconv.Itoa(i))
	}
	return b.String()
}

func parse(t *testing.T, s string) []uint32 {
	t.Helper()
	var out []uint32
	for _, p := range strings.Split(strings.TrimPrefix(s, "."), ".") {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			t.Fatalf("bad OID %q", s)
		}
		out = append(out, uint32(n))
	}
	return out
}

// objectsPerPort: 11 ifTable + 5 ifXTable columns, 2 dot1dBasePort columns.
const objectsPerPort = 11 + 5 + 2

// TestWalks walks the whole agent with GETNEXT and GETBULK in v2c and
// with GETNEXT in v1: strictly increasing OIDs, every object, and no
// Counter64 for v1.
func TestWalks(t *testing.T) {
	t.Parallel()
	const ports = 12 // two-digit ifIndex: 10 sorts after 9, not after 1
	sw := start(t, switchsim.Options{Ports: switchsim.GeneratePorts("walk", ports)})
	macs := ports + ports/3
	want := 6 + ports*objectsPerPort + macs*5

	for _, tc := range []struct {
		name    string
		version gosnmp.SnmpVersion
		bulk    bool
		want    int
	}{
		{"v2c getnext", gosnmp.Version2c, false, want},
		{"v2c getbulk", gosnmp.Version2c, true, want},
		{"v1 getnext", gosnmp.Version1, false, want - 2*ports},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := client(t, sw, tc.version, switchsim.DefaultReadCommunity)
			walk := g.WalkAll
			if tc.bulk {
				walk = g.BulkWalkAll
			}
			vars, err := walk(".1.3")
			if err != nil {
				t.Fatal(err)
			}
			if len(vars) != tc.want {
				t.Fatalf("%d objects, want %d", len(vars), tc.want)
			}
			for i := 1; i < len(vars); i++ {
				if slices.Compare(parse(t, vars[i-1].Name), parse(t, vars[i].Name)) >= 0 {
					t.Fatalf("%s after %s", vars[i].Name, vars[i-1].Name)
				}
			}
			for _, v := range vars {
				if v.Type == gosnmp.Counter64 && tc.version == gosnmp.Version1 {
					t.Fatalf("v1 walk returned Counter64 %s", v.Name)
				}
			}
		})
	}
}

func TestGetAnswers(t *testing.T) {
	t.Parallel()
	sw := start(t, switchsim.Options{Name: "sw-get", Ports: []switchsim.Port{{SpeedMbps: 1000, Alias: "srv-1"}, {Name: "xe-0/0/1"}}})
	v2 := client(t, sw, gosnmp.Version2c, switchsim.DefaultReadCommunity)
	pkt, err := v2.Get([]string{switchsim.SysNameOID, oid(switchsim.IfSpeedOID, 1), oid(switchsim.IfHighSpeedOID, 1),
		oid(switchsim.IfAliasOID, 1), oid(switchsim.IfNameOID, 2), oid(switchsim.IfDescrOID, 2), switchsim.IfNumberOID,
		oid(switchsim.IfAdminStatusOID, 3), ".1.3.6.1.4.1.9.9.9.0", oid(switchsim.Dot1dTpFdbPortOID, 2, 0, 0, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	v := pkt.Variables
	if string(v[0].Value.([]byte)) != "sw-get" || v[1].Value != uint(1_000_000_000) || v[2].Value != uint(1000) ||
		string(v[3].Value.([]byte)) != "srv-1" || string(v[4].Value.([]byte)) != "xe-0/0/1" || string(v[5].Value.([]byte)) != "xe-0/0/1" ||
		v[6].Value != 2 || v[7].Type != gosnmp.NoSuchInstance || v[8].Type != gosnmp.NoSuchObject || v[9].Type != gosnmp.NoSuchInstance {
		t.Fatalf("GET answered %+v", v)
	}
	// Past the last object: endOfMibView in v2c, noSuchName in v1.
	pkt, err = v2.GetNext([]string{".1.4"})
	if err != nil || pkt.Variables[0].Type != gosnmp.EndOfMibView {
		t.Fatalf("GETNEXT past the end: %+v %v", pkt, err)
	}
	v1 := client(t, sw, gosnmp.Version1, switchsim.DefaultReadCommunity)
	for _, req := range []func([]string) (*gosnmp.SnmpPacket, error){v1.Get, v1.GetNext} {
		pkt, err = req([]string{switchsim.SysNameOID, ".1.4"})
		if err != nil || pkt.Error != gosnmp.NoSuchName || pkt.ErrorIndex != 2 {
			t.Fatalf("v1 request for a missing object: %+v %v", pkt, err)
		}
	}
	// SNMPv1 cannot carry Counter64: the HC counters do not exist for it.
	pkt, err = v1.Get([]string{oid(switchsim.IfHCInOctetsOID, 1)})
	if err != nil || pkt.Error != gosnmp.NoSuchName {
		t.Fatalf("v1 GET of ifHCInOctets: %+v %v", pkt, err)
	}
}

func TestSetAdminStatus(t *testing.T) {
	t.Parallel()
	ports := switchsim.GeneratePorts("sw-set", 4)
	ports[3].Unplugged = true
	sw := start(t, switchsim.Options{Name: "sw-set", Ports: ports, IndexBase: 100})
	g := client(t, sw, gosnmp.Version2c, switchsim.DefaultCommunity)
	set := func(idx, v int) {
		t.Helper()
		pkt, err := g.Set([]gosnmp.SnmpPDU{{Name: oid(switchsim.IfAdminStatusOID, idx), Type: gosnmp.Integer, Value: v}})
		if err != nil || pkt.Error != gosnmp.NoError {
			t.Fatalf("SET ifAdminStatus.%d = %d: %+v %v", idx, v, pkt, err)
		}
	}
	status := func(idx int) (admin, oper int) {
		t.Helper()
		pkt, err := g.Get([]string{oid(switchsim.IfAdminStatusOID, idx), oid(switchsim.IfOperStatusOID, idx)})
		if err != nil {
			t.Fatal(err)
		}
		return pkt.Variables[0].Value.(int), pkt.Variables[1].Value.(int)
	}
	set(102, 2)
	if a, o := status(102); a != 2 || o != 2 || sw.AdminUp(102) || sw.OperUp(102) {
		t.Fatalf("after SET down: admin %d oper %d", a, o)
	}
	set(102, 2) // again: acknowledged, no change
	set(102, 1)
	if a, o := status(102); a != 1 || o != 1 {
		t.Fatalf("after SET up: admin %d oper %d", a, o)
	}
	set(104, 1) // no cable: stays oper down
	if a, o := status(104); a != 1 || o != 2 {
		t.Fatalf("unplugged port: admin %d oper %d, want up/down", a, o)
	}
	if err := sw.SetPlugged(104, true); err != nil || !sw.OperUp(104) {
		t.Fatalf("plugging the cable: %v, oper up %v", err, sw.OperUp(104))
	}
	if st := sw.Stats(); st.Set != 4 || st.PortSets != 4 || st.PortChanges != 2 || st.Refused != 0 {
		t.Fatalf("stats %+v, want 4 SETs, 2 changes", st)
	}
	if err := sw.SetAdmin(1, false); err == nil {
		t.Fatal("SetAdmin of ifIndex 1 on a switch whose ports start at 101 succeeded")
	}
}

// TestRefusedSets: refused SETs get the status a real agent answers, and
// change nothing.
func TestRefusedSets(t *testing.T) {
	t.Parallel()
	sw := start(t, switchsim.Options{})
	ro := start(t, switchsim.Options{ReadOnly: true})
	admin := oid(switchsim.IfAdminStatusOID, 1)
	down := gosnmp.SnmpPDU{Name: admin, Type: gosnmp.Integer, Value: 2}
	tests := []struct {
		name      string
		sw        *switchsim.Switch
		version   gosnmp.SnmpVersion
		community string
		pdus      []gosnmp.SnmpPDU
		want      gosnmp.SNMPError
		index     uint8
	}{
		{"testing(3)", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: admin, Type: gosnmp.Integer, Value: 3}}, gosnmp.WrongValue, 1},
		{"zero", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: admin, Type: gosnmp.Integer, Value: 0}}, gosnmp.WrongValue, 1},
		{"string", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: admin, Type: gosnmp.OctetString, Value: "down"}}, gosnmp.WrongType, 1},
		{"ifOperStatus", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: oid(switchsim.IfOperStatusOID, 1), Type: gosnmp.Integer, Value: 2}}, gosnmp.NotWritable, 1},
		{"ifAlias", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: oid(switchsim.IfAliasOID, 1), Type: gosnmp.OctetString, Value: "x"}}, gosnmp.NotWritable, 1},
		{"unknown object", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: ".1.3.6.1.4.1.9.9.9.0", Type: gosnmp.Integer, Value: 2}}, gosnmp.NotWritable, 1},
		{"no such port", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: oid(switchsim.IfAdminStatusOID, 49), Type: gosnmp.Integer, Value: 2}}, gosnmp.NoCreation, 1},
		{"second varbind bad", sw, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{down, {Name: oid(switchsim.IfAdminStatusOID, 2), Type: gosnmp.Integer, Value: 7}}, gosnmp.WrongValue, 2},
		{"read-only community", sw, gosnmp.Version2c, switchsim.DefaultReadCommunity, []gosnmp.SnmpPDU{down}, gosnmp.NoAccess, 1},
		{"read-only switch", ro, gosnmp.Version2c, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{down}, gosnmp.NoAccess, 1},
		{"v1 testing(3)", sw, gosnmp.Version1, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: admin, Type: gosnmp.Integer, Value: 3}}, gosnmp.BadValue, 1},
		{"v1 ifOperStatus", sw, gosnmp.Version1, switchsim.DefaultCommunity, []gosnmp.SnmpPDU{{Name: oid(switchsim.IfOperStatusOID, 1), Type: gosnmp.Integer, Value: 2}}, gosnmp.NoSuchName, 1},
		{"v1 read-only community", sw, gosnmp.Version1, switchsim.DefaultReadCommunity, []gosnmp.SnmpPDU{down}, gosnmp.NoSuchName, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkt, err := client(t, tc.sw, tc.version, tc.community).Set(tc.pdus)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if pkt.Error != tc.want || pkt.ErrorIndex != tc.index {
				t.Fatalf("error status %v index %d, want %v index %d", pkt.Error, pkt.ErrorIndex, tc.want, tc.index)
			}
		})
	}
	for _, s := range []*switchsim.Switch{sw, ro} {
		if !s.AdminUp(1) || !s.AdminUp(2) || s.Stats().PortSets != 0 {
			t.Fatalf("a refused SET changed the switch: port 1 up %v, port 2 up %v, %+v", s.AdminUp(1), s.AdminUp(2), s.Stats())
		}
	}
	if got := sw.Stats().Refused + ro.Stats().Refused; got != int64(len(tests)) {
		t.Fatalf("%d refused, want %d", got, len(tests))
	}
}

func TestWrongCommunityGetsNoAnswer(t *testing.T) {
	t.Parallel()
	sw := start(t, switchsim.Options{Community: "s3cret", ReadCommunity: "r3ad"})
	if _, err := client(t, sw, gosnmp.Version2c, "public").Get([]string{switchsim.SysNameOID}); err == nil {
		t.Fatal("the switch answered a request with the wrong community")
	}
	if st := sw.Stats(); st.Dropped != 1 || st.Requests != 0 {
		t.Fatalf("stats %+v, want one dropped request", st)
	}
}

// TestCounters: octet counters grow at the port's rate while it is up,
// stand still while it is down, and start again from zero with sysUpTime
// at a restart.
func TestCounters(t *testing.T) {
	t.Parallel()
	clk := newClock()
	sw := start(t, switchsim.Options{Clock: clk.Now, Ports: []switchsim.Port{{InRate: 1000, OutRate: 10}, {}}})
	g := client(t, sw, gosnmp.Version2c, switchsim.DefaultCommunity)
	read := func() (uptime uint32, in, out, in2 uint64) {
		t.Helper()
		pkt, err := g.Get([]string{switchsim.SysUpTimeOID, oid(switchsim.IfHCInOctetsOID, 1), oid(switchsim.IfHCOutOctetsOID, 1),
			oid(switchsim.IfHCInOctetsOID, 2)})
		if err != nil {
			t.Fatal(err)
		}
		v := pkt.Variables
		return v[0].Value.(uint32), v[1].Value.(uint64), v[2].Value.(uint64), v[3].Value.(uint64)
	}
	rate2, _ := switchsim.DefaultRates(2)
	clk.Add(10 * time.Second)
	if up, in, out, in2 := read(); up != 1000 || in != 10_000 || out != 100 || in2 != 10*rate2 {
		t.Fatalf("after 10s: uptime %d in %d out %d in(2) %d", up, in, out, in2)
	}
	if err := sw.SetAdmin(1, false); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	if _, in, out, in2 := read(); in != 10_000 || out != 100 || in2 != 15*rate2 {
		t.Fatalf("port 1 down for 5s: in %d out %d, in(2) %d", in, out, in2)
	}
	_ = sw.SetAdmin(1, true)
	clk.Add(1500 * time.Millisecond)
	if _, in, _, _ := read(); in != 11_500 {
		t.Fatalf("up again for 1.5s: in %d, want 11500", in)
	}
	if in, _ := sw.Octets(1); in != 11_500 {
		t.Fatalf("Octets(1) = %d", in)
	}
	sw.Restart()
	clk.Add(2 * time.Second)
	if up, in, out, _ := read(); up != 200 || in != 2000 || out != 20 {
		t.Fatalf("2s after a restart: uptime %d in %d out %d", up, in, out)
	}
}

// TestFDB walks both forwarding tables and the bridge port map; a port
// that goes down loses its MAC addresses.
func TestFDB(t *testing.T) {
	t.Parallel()
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	ports := []switchsim.Port{{MACs: []net.HardwareAddr{mac("02:00:00:00:00:01")}}, {Unplugged: true},
		{MACs: []net.HardwareAddr{mac("02:00:00:00:00:03"), mac("02:00:00:00:00:02")}}}
	sw := start(t, switchsim.Options{Ports: ports, IndexBase: 1000, VLAN: 10})
	g := client(t, sw, gosnmp.Version2c, switchsim.DefaultReadCommunity)
	fdb := func() (q, d map[string]int) {
		t.Helper()
		q, d = map[string]int{}, map[string]int{}
		for base, m := range map[string]map[string]int{switchsim.Dot1qTpFdbPortOID: q, switchsim.Dot1dTpFdbPortOID: d} {
			vars, err := g.BulkWalkAll(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vars {
				m[strings.TrimPrefix(v.Name, base+".")] = v.Value.(int)
			}
		}
		return q, d
	}
	q, d := fdb()
	wantQ := map[string]int{"10.2.0.0.0.0.1": 1, "10.2.0.0.0.0.2": 3, "10.2.0.0.0.0.3": 3}
	wantD := map[string]int{"2.0.0.0.0.1": 1, "2.0.0.0.0.2": 3, "2.0.0.0.0.3": 3}
	if fmt.Sprint(q) != fmt.Sprint(wantQ) || fmt.Sprint(d) != fmt.Sprint(wantD) {
		t.Fatalf("FDB: Q-BRIDGE %v BRIDGE %v", q, d)
	}
	vars, err := g.WalkAll(switchsim.Dot1dBasePortIfIndexOID)
	if err != nil || len(vars) != 3 || vars[2].Name != switchsim.Dot1dBasePortIfIndexOID+".3" || vars[2].Value != 1003 {
		t.Fatalf("dot1dBasePortIfIndex: %+v %v", vars, err)
	}
	_ = sw.SetAdmin(1003, false)
	if q, d := fdb(); len(q) != 1 || len(d) != 1 || q["10.2.0.0.0.0.1"] != 1 {
		t.Fatalf("FDB with port 3 down: %v %v", q, d)
	}
}

func TestSilentAndLatency(t *testing.T) {
	t.Parallel()
	sw := start(t, switchsim.Options{})
	g := client(t, sw, gosnmp.Version2c, switchsim.DefaultReadCommunity)
	sw.SetSilent(true)
	if _, err := g.Get([]string{switchsim.SysNameOID}); err == nil {
		t.Fatal("a silent switch answered")
	}
	sw.SetSilent(false)
	sw.SetLatency(150 * time.Millisecond)
	// Held answers do not hold the agent: four requests at once take one latency.
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			g := &gosnmp.GoSNMP{Target: sw.Host(), Port: uint16(sw.Port()), Version: gosnmp.Version2c,
				Community: switchsim.DefaultReadCommunity, Timeout: time.Second}
			if err := g.Connect(); err != nil {
				errs <- err
				return
			}
			defer g.Conn.Close()
			_, err := g.Get([]string{switchsim.SysNameOID})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(began); d < 150*time.Millisecond || d > 550*time.Millisecond {
		t.Fatalf("four requests with 150ms latency took %v", d)
	}
}
