package snmpsw_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpsw"
	"github.com/dcimd/dcimd/internal/snmpc"
	"github.com/dcimd/dcimd/internal/snmpc/snmpctest"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
)

// Behaviour a real snmpd will not show on demand, against a scripted agent.

func scripted(t *testing.T, h snmpctest.Handler, opts ...snmpsw.Option) (*snmpsw.Switch, *snmpctest.Agent) {
	t.Helper()
	a := snmpctest.Start(t, h)
	return snmpsw.New(snmpc.Access{Address: "127.0.0.1", Port: a.Port(), Community: "c", Timeout: time.Second}, opts...), a
}

func integer(oid string, v int) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Integer, Value: v}
}

func TestStatusTooBig(t *testing.T) {
	t.Parallel()
	var table snmpctest.Table
	for i := 1; i <= 30; i++ {
		table = append(table, integer(fmt.Sprintf(".1.3.6.1.2.1.2.2.1.7.%d", i), 1+i%2),
			integer(fmt.Sprintf(".1.3.6.1.2.1.2.2.1.8.%d", i), 2))
	}
	table.Sort()
	d, a := scripted(t, func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
		if len(req.Variables) > 7 {
			return &gosnmp.SnmpPacket{Error: gosnmp.TooBig, Variables: req.Variables}
		}
		return table.Answer(req)
	})
	idx := make([]int, 30)
	for i := range idx {
		idx[i] = i + 1
	}
	st, err := d.Status(context.Background(), idx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 30; i++ {
		want := netsw.Status{Admin: map[bool]string{true: netsw.Up, false: netsw.Down}[i%2 == 0], Oper: netsw.Down}
		if st[i] != want {
			t.Errorf("port %d = %+v, want %+v", i, st[i], want)
		}
	}
	var sizes []int
	for _, r := range a.Requests() {
		sizes = append(sizes, len(r.Variables))
	}
	// 20 refused, 10 refused, then batches of 5.
	if len(sizes) < 3 || sizes[0] != 20 || sizes[1] != 10 || sizes[2] != 5 {
		t.Errorf("GET sizes = %v, want 20, 10, 5, 5, ...", sizes)
	}
	for _, n := range sizes[2:] {
		if n > 5 {
			t.Errorf("GET of %d objects after tooBig at 10 (sizes %v)", n, sizes)
		}
	}
}

func TestSetNotApplied(t *testing.T) {
	t.Parallel()
	table := snmpctest.Table{integer(".1.3.6.1.2.1.2.2.1.7.5", 1)}
	d, _ := scripted(t, func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
		if req.PDUType == gosnmp.SetRequest {
			return &gosnmp.SnmpPacket{Variables: req.Variables} // accepted, never applied
		}
		return table.Answer(req)
	}, snmpsw.WithConfirmWait(150*time.Millisecond), snmpsw.WithPollInterval(20*time.Millisecond))
	err := d.SetAdmin(context.Background(), 5, false)
	var de *netsw.DeviceError
	if !errors.As(err, &de) || de.Transient ||
		!strings.Contains(de.Msg, "accepted the SET but ifAdminStatus.5 still reads up(1), not down(2), after 150ms") {
		t.Errorf("err = %v, want a permanent read-back mismatch", err)
	}
	if de != nil && de.Op != "set port 5 down" {
		t.Errorf("Op = %q", de.Op)
	}
}

func TestPortsWithoutIfXTable(t *testing.T) {
	t.Parallel()
	table := snmpctest.Table{
		{Name: ".1.3.6.1.2.1.2.2.1.2.1", Type: gosnmp.OctetString, Value: []byte("GigabitEthernet0/1")},
		{Name: ".1.3.6.1.2.1.2.2.1.2.2", Type: gosnmp.OctetString, Value: []byte("GigabitEthernet0/2")},
		integer(".1.3.6.1.2.1.2.2.1.3.1", 6),
		integer(".1.3.6.1.2.1.2.2.1.3.2", 6),
		{Name: ".1.3.6.1.2.1.2.2.1.5.1", Type: gosnmp.Gauge32, Value: uint(1_000_000_000)},
		{Name: ".1.3.6.1.2.1.2.2.1.5.2", Type: gosnmp.Gauge32, Value: uint(100_000_000)},
		integer(".1.3.6.1.2.1.2.2.1.7.1", 1),
		integer(".1.3.6.1.2.1.2.2.1.7.2", 2),
		integer(".1.3.6.1.2.1.2.2.1.8.1", 7), // lowerLayerDown
		integer(".1.3.6.1.2.1.2.2.1.8.2", 2),
		{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: []byte("old-switch")},
	}.Sort()
	d, _ := scripted(t, table.Answer)
	ports, err := d.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []netsw.Port{
		{Index: 1, Name: "GigabitEthernet0/1", Descr: "GigabitEthernet0/1", Type: 6, SpeedMbps: 1000, Admin: netsw.Up, Oper: netsw.Unknown},
		{Index: 2, Name: "GigabitEthernet0/2", Descr: "GigabitEthernet0/2", Type: 6, SpeedMbps: 100, Admin: netsw.Down, Oper: netsw.Down},
	}
	if fmt.Sprint(ports) != fmt.Sprint(want) {
		t.Errorf("Ports = %+v\nwant %+v", ports, want)
	}
}

func TestFDBMerge(t *testing.T) {
	t.Parallel()
	mac := func(last int) string { return fmt.Sprintf("0.17.34.51.68.%d", last) } // 00:11:22:33:44:xx
	table := snmpctest.Table{
		// bridge ports 1, 2, 3 are ifIndex 101, 102, 103; port 9 has none.
		integer(".1.3.6.1.2.1.17.1.4.1.2.1", 101),
		integer(".1.3.6.1.2.1.17.1.4.1.2.2", 102),
		integer(".1.3.6.1.2.1.17.1.4.1.2.3", 103),
		// fdb 5 is VLAN 100's alone; fdb 1 is shared by VLANs 1 and 2.
		{Name: ".1.3.6.1.2.1.17.7.1.4.2.1.3.0.100", Type: gosnmp.Gauge32, Value: uint(5)},
		{Name: ".1.3.6.1.2.1.17.7.1.4.2.1.3.0.1", Type: gosnmp.Gauge32, Value: uint(1)},
		{Name: ".1.3.6.1.2.1.17.7.1.4.2.1.3.0.2", Type: gosnmp.Gauge32, Value: uint(1)},
		// Q-BRIDGE: learned on 1 in fdb 5, learned on 2 in fdb 1, self on 3,
		// learned on port 0 (unknown) and on port 9 (no ifIndex).
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.2.5."+mac(1), 1),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.2.1."+mac(2), 2),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.2.1."+mac(3), 3),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.2.1."+mac(4), 0),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.2.1."+mac(5), 9),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.3.5."+mac(1), 3),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.3.1."+mac(2), 3),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.3.1."+mac(3), 4),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.3.1."+mac(4), 3),
		integer(".1.3.6.1.2.1.17.7.1.2.2.1.3.1."+mac(5), 3),
		// BRIDGE-MIB: mac 1 on port 1 again (a duplicate), mac 6 on port 3
		// (no status column: learned), mac 7 invalid, a malformed index.
		integer(".1.3.6.1.2.1.17.4.3.1.2."+mac(1), 1),
		integer(".1.3.6.1.2.1.17.4.3.1.2."+mac(6), 3),
		integer(".1.3.6.1.2.1.17.4.3.1.2."+mac(7), 2),
		integer(".1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68.300", 2),
		integer(".1.3.6.1.2.1.17.4.3.1.3."+mac(7), 2),
	}.Sort()
	d, _ := scripted(t, table.Answer)
	fdb, err := d.FDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []netsw.FDBEntry{
		{MAC: "00:11:22:33:44:01", Index: 101, VLAN: 100},
		{MAC: "00:11:22:33:44:02", Index: 102, VLAN: 1}, // shared fdb: the fdb id
		{MAC: "00:11:22:33:44:06", Index: 103, VLAN: 0},
	}
	if fmt.Sprint(fdb) != fmt.Sprint(want) {
		t.Errorf("FDB = %v\nwant %v", fdb, want)
	}
}

func TestSilentSwitch(t *testing.T) {
	t.Parallel()
	silent := udpproxy.StartSilent(t)
	d := snmpsw.New(snmpc.Access{Address: "127.0.0.1", Port: silent.Port(), Community: "c"},
		snmpsw.WithTimeout(150*time.Millisecond), snmpsw.WithRetries(1))
	ctx := context.Background()
	calls := map[string]func() error{
		"Ports":    func() error { _, err := d.Ports(ctx); return err },
		"Status":   func() error { _, err := d.Status(ctx, []int{1}); return err },
		"SetAdmin": func() error { return d.SetAdmin(ctx, 1, false) },
		"Counters": func() error { _, err := d.Counters(ctx, []int{1}); return err },
		"FDB":      func() error { _, err := d.FDB(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := call()
			var de *netsw.DeviceError
			if !errors.As(err, &de) || !de.Transient || de.Device != fmt.Sprintf("switch 127.0.0.1:%d", silent.Port()) ||
				!strings.Contains(de.Msg, "no answer after 2 attempts of 150ms") {
				t.Errorf("%s = %v, want a transient timeout of switch 127.0.0.1:%d", name, err, silent.Port())
			}
		})
	}
}
