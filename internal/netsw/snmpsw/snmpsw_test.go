package snmpsw_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpsw"
	"github.com/dcimd/dcimd/internal/snmpc"
	"github.com/dcimd/dcimd/internal/testutil/netnssw"
)

// driver talks to a fake switch with one of its credentials; a switch on
// a veth answers in a millisecond, so 1 s is plenty.
func driver(sw *netnssw.Switch, c netnssw.Cred, opts ...snmpsw.Option) *snmpsw.Switch {
	a := sw.Access(c)
	a.Timeout, a.Retries = time.Second, 1
	return snmpsw.New(a, opts...)
}

// timed runs fn and logs how long it took (for the report, never checked).
func timed(t *testing.T, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := fn()
	t.Logf("%-34s %8s  err=%v", what, time.Since(start).Round(10*time.Microsecond), err)
	return err
}

func deviceError(t *testing.T, sw *netnssw.Switch, err error) *netsw.DeviceError {
	t.Helper()
	var de *netsw.DeviceError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want a *netsw.DeviceError", err, err)
	}
	if de.Device != "switch "+sw.Target() {
		t.Errorf("Device = %q, want %q", de.Device, "switch "+sw.Target())
	}
	for _, s := range sw.Secrets() {
		if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v", err, de), s) {
			t.Errorf("error %q leaks a secret", err)
		}
	}
	return de
}

func TestPorts(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 4})
	for _, c := range []struct {
		name string
		cred netnssw.Cred
		v1   bool
	}{{"v2c", netnssw.V2cRO, false}, {"v3", netnssw.V3RO, false}, {"v1", netnssw.V2cRO, true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := sw.Access(c.cred)
			if c.v1 {
				a.Version = "v1"
			}
			d := snmpsw.New(a, snmpsw.WithTimeout(time.Second))
			var ports []netsw.Port
			if err := timed(t, "Ports "+c.name, func() (err error) { ports, err = d.Ports(context.Background()); return }); err != nil {
				t.Fatal(err)
			}
			byIndex := map[int]netsw.Port{}
			for k, p := range ports {
				byIndex[p.Index] = p
				if k > 0 && ports[k-1].Index >= p.Index {
					t.Errorf("ports not in ifIndex order: %d after %d", p.Index, ports[k-1].Index)
				}
			}
			for i := 1; i <= 4; i++ {
				want := netsw.Port{Index: sw.PortIfIndex(i), Name: sw.PortName(i), Descr: sw.PortName(i),
					Type: 6, SpeedMbps: 10000, Admin: netsw.Up, Oper: netsw.Up}
				if got := byIndex[want.Index]; got != want {
					t.Errorf("port %d = %+v, want %+v", i, got, want)
				}
			}
			if lo := ports[0]; lo.Name != "lo" || lo.Type != 24 {
				t.Errorf("first interface = %+v, want lo (softwareLoopback)", lo)
			}
			if len(ports) != 4+3 { // lo, mgmt0, br0
				t.Errorf("%d interfaces, want 7", len(ports))
			}
		})
	}
}

func TestSetAdmin(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 3})
	for port, c := range []struct {
		name string
		cred netnssw.Cred
		v1   bool
	}{{"v2c", netnssw.V2cRW, false}, {"v3 authPriv", netnssw.V3RW, false}, {"v1", netnssw.V2cRW, true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			i := port + 1
			idx := sw.PortIfIndex(i)
			a := sw.Access(c.cred)
			a.Timeout = time.Second
			if c.v1 {
				a.Version = "v1"
			}
			d := snmpsw.New(a)
			ctx := context.Background()
			for _, up := range []bool{false, true} {
				word := map[bool]string{true: netsw.Up, false: netsw.Down}[up]
				if err := timed(t, fmt.Sprintf("SetAdmin(%d, %s)", idx, word), func() error { return d.SetAdmin(ctx, idx, up) }); err != nil {
					t.Fatal(err)
				}
				if admin, oper := sw.LinkState(t, i); admin != up {
					t.Errorf("after %s: ip link shows %s admin up=%v oper %s", word, sw.PortName(i), admin, oper)
				}
				var st map[int]netsw.Status
				if err := timed(t, "Status", func() (err error) { st, err = d.Status(ctx, []int{idx}); return }); err != nil {
					t.Fatal(err)
				}
				// The interface cache is off: oper follows at once.
				if want := (netsw.Status{Admin: word, Oper: word}); st[idx] != want {
					t.Errorf("after %s: Status = %+v, want %+v", word, st[idx], want)
				}
			}
			// Setting the value a port already has still writes and reads back.
			if err := d.SetAdmin(ctx, idx, true); err != nil || !sw.LinkUp(t, i) {
				t.Errorf("SetAdmin(up) on an up port = %v, link up %v", err, sw.LinkUp(t, i))
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 8})
	sw.SetHostLink(t, 2, false) // port 2: admin up, no carrier
	sw.SetPortLink(t, 3, false) // port 3: down from the console
	idx := []int{999}
	for i := 1; i <= 8; i++ {
		idx = append(idx, sw.PortIfIndex(i), sw.PortIfIndex(i)) // duplicates are read once
	}
	for _, version := range []string{"v2c", "v1"} {
		a := sw.Access(netnssw.V2cRO)
		a.Version, a.Timeout = version, time.Second
		// Batches of 3 objects; on v1 the missing ifIndex 999 fails its
		// whole GET with noSuchName and is asked again without it.
		st, err := snmpsw.New(a, snmpsw.WithBatch(3)).Status(context.Background(), idx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 8 {
			t.Errorf("%s: %d ports, want 8 (ifIndex 999 does not exist): %v", version, len(st), st)
		}
		for i := 1; i <= 8; i++ {
			want := netsw.Status{Admin: netsw.Up, Oper: netsw.Up}
			switch i {
			case 2:
				want.Oper = netsw.Down
			case 3:
				want = netsw.Status{Admin: netsw.Down, Oper: netsw.Down}
			}
			if got := st[sw.PortIfIndex(i)]; got != want {
				t.Errorf("%s: port %d = %+v, want %+v", version, i, got, want)
			}
		}
	}
	d := driver(sw, netnssw.V2cRO)
	if st, err := d.Status(context.Background(), nil); err != nil || len(st) != 0 {
		t.Errorf("Status(nil) = %v, %v", st, err)
	}
	_, err := d.Status(context.Background(), []int{sw.PortIfIndex(1), 0})
	if de := deviceError(t, sw, err); de.Transient || !strings.Contains(de.Msg, "invalid ifIndex 0") {
		t.Errorf("Status with ifIndex 0 = %v", err)
	}
}

func TestRefusedWrites(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 2})
	tests := []struct {
		name  string
		cred  netnssw.Cred
		index func() int
		want  string
	}{
		{"read-only community", netnssw.V2cRO, func() int { return sw.PortIfIndex(1) }, "switch refused the write: read-only community or view"},
		{"read-only v3 user", netnssw.V3RO, func() int { return sw.PortIfIndex(2) }, "switch refused the write: read-only community or view"},
		{"no such port", netnssw.V2cRW, func() int { return 999 }, "999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idx := tt.index()
			err := timed(t, tt.name, func() error { return driver(sw, tt.cred).SetAdmin(context.Background(), idx, false) })
			de := deviceError(t, sw, err)
			if de.Transient || netsw.IsTransient(err) {
				t.Errorf("error is transient, want permanent: %v", err)
			}
			if !strings.Contains(de.Msg, tt.want) || de.Op != fmt.Sprintf("set port %d down", idx) {
				t.Errorf("op %q, message %q; want %q", de.Op, de.Msg, tt.want)
			}
		})
	}
	for i := 1; i <= 2; i++ {
		if !sw.LinkUp(t, i) {
			t.Errorf("port %d is down after refused writes", i)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 1})
	short := func(c netnssw.Cred, mutate func(*snmpc.Access)) *snmpsw.Switch {
		a := sw.Access(c)
		mutate(&a)
		return snmpsw.New(a, snmpsw.WithTimeout(200*time.Millisecond), snmpsw.WithRetries(1))
	}
	tests := []struct {
		name      string
		d         *snmpsw.Switch
		transient bool
		want      string
	}{
		// A v2c agent drops a wrong community without a word: a timeout.
		{"wrong community", short(netnssw.V2cRW, func(a *snmpc.Access) { a.Community = "n0t-the-community" }),
			true, "no answer after 2 attempts of 200ms"},
		{"wrong v3 auth password", short(netnssw.V3RW, func(a *snmpc.Access) { a.AuthPass = "n0t-the-auth-pass" }),
			false, `refused the credentials of user "ops"`},
		{"unknown v3 user", short(netnssw.V3RW, func(a *snmpc.Access) { a.V3User = "nobody" }),
			false, `refused the credentials of user "nobody"`},
		{"wrong v3 privacy password", short(netnssw.V3RW, func(a *snmpc.Access) { a.PrivPass = "n0t-the-priv-pass" }),
			true, "no answer after 2 attempts of 200ms"},
		{"bad configuration", short(netnssw.V3RW, func(a *snmpc.Access) { a.AuthPass = "short" }),
			false, "invalid configuration: SNMPv3 auth password must have at least 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := timed(t, tt.name, func() error { return tt.d.SetAdmin(context.Background(), sw.PortIfIndex(1), false) })
			de := deviceError(t, sw, err)
			if de.Transient != tt.transient || netsw.IsTransient(err) != tt.transient {
				t.Errorf("transient = %v, want %v: %v", de.Transient, tt.transient, err)
			}
			if !strings.Contains(de.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.want)
			}
			for _, s := range []string{"n0t-the", "short"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks the wrong secret", err)
				}
			}
		})
	}
	if !sw.LinkUp(t, 1) {
		t.Error("port 1 went down although every request was refused")
	}
}

func TestAgentStopped(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 1})
	d := driver(sw, netnssw.V2cRW)
	idx := sw.PortIfIndex(1)
	ctx := context.Background()
	if err := d.SetAdmin(ctx, idx, false); err != nil {
		t.Fatal(err)
	}
	sw.StopAgent(t)
	err := timed(t, "SetAdmin with the agent stopped", func() error { return d.SetAdmin(ctx, idx, true) })
	if de := deviceError(t, sw, err); !de.Transient || !netsw.IsTransient(err) {
		t.Errorf("error is permanent, want transient: %v", err)
	}
	if _, err := d.Ports(ctx); !netsw.IsTransient(err) {
		t.Errorf("Ports with the agent stopped = %v, want a transient error", err)
	}
	if sw.LinkUp(t, 1) {
		t.Error("port 1 came up without an agent")
	}
	sw.StartAgent(t)
	if err := timed(t, "SetAdmin after the restart", func() error { return d.SetAdmin(ctx, idx, true) }); err != nil {
		t.Fatal(err)
	}
	if !sw.LinkUp(t, 1) {
		t.Error("port 1 is still down after the restart and SetAdmin(up)")
	}
}

func TestContextEnds(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 1})
	// Dropped requests (a wrong community) with a long timeout: the call
	// ends with ctx, not with the timeout.
	a := sw.Access(netnssw.V2cRW)
	a.Community = "n0t-the-community"
	d := snmpsw.New(a, snmpsw.WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.SetAdmin(ctx, sw.PortIfIndex(1), false) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !netsw.IsTransient(err) {
			t.Errorf("err = %v, want a transient error wrapping context.DeadlineExceeded", err)
		}
		deviceError(t, sw, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SetAdmin still running 10s after its ctx ended")
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	sw := netnssw.Start(t, netnssw.Options{Ports: 3})
	d := driver(sw, netnssw.V3RO)
	ctx := context.Background()
	idx := []int{sw.PortIfIndex(1), sw.PortIfIndex(2), sw.PortIfIndex(3), 999}
	before, err := d.Counters(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Uptime <= 0 || len(before.In) != 3 || len(before.Out) != 3 {
		t.Fatalf("Counters = %+v, want an uptime and 3 ports", before)
	}
	for range 3 {
		sw.Ping(t, 1, 2)
	}
	after, err := d.Counters(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	// Three frames of 78 octets each way between hosts 1 and 2.
	for _, i := range []int{1, 2} {
		x := sw.PortIfIndex(i)
		if in, out := after.In[x]-before.In[x], after.Out[x]-before.Out[x]; in < 3*78 || out < 3*78 {
			t.Errorf("port %d counted in +%d, out +%d octets; want at least %d each", i, in, out, 3*78)
		}
	}
	if x := sw.PortIfIndex(3); after.In[x] != before.In[x] {
		t.Errorf("port 3 received %d octets, want none", after.In[x]-before.In[x])
	}
	if after.Uptime < before.Uptime {
		t.Errorf("uptime went back: %s then %s", before.Uptime, after.Uptime)
	}
}

func TestFDB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts netnssw.Options
		vlan int // of the entries; 0 = BRIDGE-MIB only
	}{
		{"both tables", netnssw.Options{Ports: 4}, 1},
		{"Q-BRIDGE only, VLAN 42, own MACs listed as self", netnssw.Options{Ports: 4, FDBTables: "qbridge", VLAN: 42, SelfEntries: true}, 42},
		{"BRIDGE-MIB only", netnssw.Options{Ports: 4, FDBTables: "bridge", SelfEntries: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sw := netnssw.Start(t, tt.opts)
			d := driver(sw, netnssw.V2cRO)
			ctx := context.Background()
			fdb, err := d.FDB(ctx)
			if err != nil || len(fdb) != 0 {
				t.Fatalf("FDB before any traffic = %v, %v; want empty", fdb, err)
			}
			sw.Ping(t, 1, 2)
			sw.Ping(t, 4, 1)
			if err := timed(t, "FDB", func() (err error) { fdb, err = d.FDB(ctx); return }); err != nil {
				t.Fatal(err)
			}
			var want []netsw.FDBEntry
			for _, i := range []int{1, 2, 4} { // ifIndexes grow with the port number
				want = append(want, netsw.FDBEntry{MAC: sw.HostMAC(i), Index: sw.PortIfIndex(i), VLAN: tt.vlan})
			}
			if fmt.Sprint(fdb) != fmt.Sprint(want) {
				t.Errorf("FDB = %v\nwant %v", fdb, want)
			}
		})
	}
	t.Run("no bridge MIBs", func(t *testing.T) {
		t.Parallel()
		sw := netnssw.Start(t, netnssw.Options{Ports: 2, FDBTables: "none"})
		sw.Ping(t, 1, 2)
		fdb, err := driver(sw, netnssw.V3RO).FDB(context.Background())
		if err != nil || len(fdb) != 0 {
			t.Errorf("FDB = %v, %v; want empty and no error", fdb, err)
		}
	})
}
