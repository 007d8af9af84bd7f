package snmpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/snmpc"
	"github.com/dcimd/dcimd/internal/snmpc/snmpctest"
	"github.com/dcimd/dcimd/internal/testutil/snmppdu"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
)

const (
	statusCol  = ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4" // rPDUOutletStatusOutletState, read-only
	commandCol = ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4" // rPDUOutletControlOutletCommand
	sysName    = ".1.3.6.1.2.1.1.5.0"                // scalar served by snmpd itself
	bridgeMIB  = ".1.3.6.1.2.1.17.7.1.2.2.1.2"       // not implemented by the PDU agent
)

func agentAccess(a *snmppdu.Agent, version string) snmpc.Access {
	acc := snmpc.Access{Address: a.Addr, Port: a.Port, Version: version, Timeout: time.Second, Retries: 1}
	if version == "v3" {
		acc.V3User = a.V3User
		acc.AuthProtocol, acc.AuthPass = "SHA", secret.String(a.AuthPass)
		acc.PrivProtocol, acc.PrivPass = "AES", secret.String(a.PrivPass)
	} else {
		acc.Community = secret.String(a.Community)
	}
	return acc
}

func open(t *testing.T, ctx context.Context, a snmpc.Access) *snmpc.Session {
	t.Helper()
	s, err := snmpc.Open(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSessionAgainstSnmpd(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 5, Off: []int{2}})
	for _, version := range []string{"v1", "v2c", "v3"} {
		t.Run(version, func(t *testing.T) {
			s := open(t, context.Background(), agentAccess(a, version))

			vars, err := s.Get(statusCol+".1", statusCol+".2", statusCol+".9")
			if err != nil && version != "v1" {
				t.Fatal(err)
			}
			if version == "v1" {
				// v1 has no exception values: the whole GET fails.
				if e := snmpc.AsError(err); e == nil || e.Status != gosnmp.NoSuchName || e.Index != 3 || e.Transient {
					t.Fatalf("v1 GET of a missing instance = %v, want a permanent noSuchName", err)
				}
				if vars, err = s.Get(statusCol+".1", statusCol+".2"); err != nil {
					t.Fatal(err)
				}
			} else if !snmpc.IsException(vars[2]) || snmpc.CheckValue("GET", vars[2]) == nil {
				t.Errorf("outlet 9 = %v, want an exception", vars[2])
			}
			for i, want := range []int{1, 2} {
				if n, err := snmpc.Int(vars[i]); err != nil || n != want {
					t.Errorf("outlet %d = %d, %v; want %d", i+1, n, err, want)
				}
			}

			walked, err := s.BulkWalk(statusCol)
			if err != nil || len(walked) != 5 {
				t.Fatalf("walk = %d values, %v; want 5", len(walked), err)
			}
			for i, v := range walked {
				if idx, ok := snmpc.Suffix(v.Name, statusCol); !ok || len(idx) != 1 || int(idx[0]) != i+1 {
					t.Errorf("walk value %d is %s", i, v.Name)
				}
			}
			if walked, err := s.BulkWalk(bridgeMIB); err != nil || len(walked) != 0 {
				t.Errorf("walk of an unimplemented subtree = %v, %v; want nothing", walked, err)
			}

			if err := s.Set(commandCol+".3", 2); err != nil {
				t.Fatal(err)
			}
			if got := a.OutletState(3); got != snmppdu.StateOff {
				t.Errorf("outlet 3 = %s after the SET, want off", got)
			}
			err = s.Set(statusCol+".3", 1)
			if e := snmpc.AsError(err); e == nil || e.Transient || !strings.Contains(e.Msg, "agent refused the SET of "+statusCol+".3") {
				t.Errorf("SET of a read-only column = %v, want a permanent refusal", err)
			}
		})
	}

	t.Run("read-only community", func(t *testing.T) {
		acc := agentAccess(a, "v2c")
		acc.Community = secret.String(a.ROCommunity)
		s := open(t, context.Background(), acc)
		if vars, err := s.Get(sysName); err != nil || vars[0].Type != gosnmp.OctetString {
			t.Fatalf("GET sysName = %v, %v", vars, err)
		}
		err := s.Set(commandCol+".4", 2)
		e := snmpc.AsError(err)
		if e == nil || e.Transient || e.Status != gosnmp.NoAccess || strings.Contains(e.Msg, a.ROCommunity) {
			t.Errorf("SET with the read-only community = %v (status %v)", err, e.Status)
		}
		if got := a.OutletState(4); got != snmppdu.StateOn {
			t.Errorf("outlet 4 = %s, want on", got)
		}
	})
}

func TestOpenAndNetworkFailures(t *testing.T) {
	t.Parallel()
	if _, err := snmpc.Open(context.Background(), snmpc.Access{Address: "127.0.0.1", Community: ""}); err == nil ||
		snmpc.IsTransient(err) || !strings.Contains(err.Error(), "invalid configuration: SNMP community is empty") {
		t.Errorf("Open with no community = %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := snmpc.Open(cancelled, snmpc.Access{Address: "127.0.0.1", Community: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled ctx = %v", err)
	}

	t.Run("nobody listening", func(t *testing.T) {
		t.Parallel()
		c := udpproxy.Listen(t)
		port := udpproxy.PortOf(c)
		c.Close()
		s := open(t, context.Background(), snmpc.Access{Address: "127.0.0.1", Port: port, Community: "x", Timeout: 2 * time.Second})
		_, err := s.Get(sysName)
		if e := snmpc.AsError(err); !e.Transient || !strings.Contains(e.Msg, "no SNMP agent listening") {
			t.Errorf("GET = %v, want a transient port unreachable", err)
		}
	})

	t.Run("silent agent, timeout", func(t *testing.T) {
		t.Parallel()
		silent := udpproxy.StartSilent(t)
		s := open(t, context.Background(), snmpc.Access{Address: "127.0.0.1", Port: silent.Port(), Community: "x",
			Timeout: 100 * time.Millisecond, Retries: 1})
		_, err := s.BulkWalk(statusCol)
		if e := snmpc.AsError(err); !e.Transient || !strings.Contains(e.Msg, "no answer after 2 attempts of 100ms") {
			t.Errorf("walk = %v, want a transient timeout", err)
		}
	})

	t.Run("silent agent, ctx cancelled", func(t *testing.T) {
		t.Parallel()
		silent := udpproxy.StartSilent(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := open(t, ctx, snmpc.Access{Address: "127.0.0.1", Port: silent.Port(), Community: "x", Timeout: time.Minute})
		time.AfterFunc(100*time.Millisecond, cancel)
		done := make(chan error, 1)
		go func() { _, err := s.Get(sysName); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || !snmpc.IsTransient(err) {
				t.Errorf("GET = %v, want a transient context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("GET still waiting 10s after the ctx ended")
		}
	})
}

func TestWalkEdgeCases(t *testing.T) {
	t.Parallel()
	col := ".1.3.6.1.2.1.2.2.1.2"
	var table snmpctest.Table
	for i := 1; i <= 40; i++ {
		table = append(table, gosnmp.SnmpPDU{Name: fmt.Sprintf("%s.%d", col, i), Type: gosnmp.OctetString, Value: []byte(fmt.Sprintf("port%d", i))})
	}
	table = append(table, gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.2.2.1.3.1", Type: gosnmp.Integer, Value: 6}).Sort()

	t.Run("tooBig halves the repetitions", func(t *testing.T) {
		t.Parallel()
		a := snmpctest.Start(t, func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
			if req.PDUType == gosnmp.GetBulkRequest && req.MaxRepetitions > 5 {
				return &gosnmp.SnmpPacket{Error: gosnmp.TooBig, Variables: req.Variables}
			}
			return table.Answer(req)
		})
		s := open(t, context.Background(), snmpc.Access{Address: "127.0.0.1", Port: a.Port(), Community: "c", Timeout: time.Second, MaxRepetitions: 40})
		vars, err := s.BulkWalk(col)
		if err != nil || len(vars) != 40 {
			t.Fatalf("walk = %d values, %v; want 40", len(vars), err)
		}
		var reps []uint32
		for _, r := range a.Requests() {
			reps = append(reps, r.MaxRepetitions)
		}
		if reps[0] != 40 || reps[1] != 20 || reps[2] != 10 || reps[3] != 5 {
			t.Errorf("repetitions asked = %v, want 40, 20, 10, 5, ...", reps)
		}
	})

	t.Run("refusal fails the walk", func(t *testing.T) {
		t.Parallel()
		a := snmpctest.Start(t, func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
			if req.PDUType == gosnmp.GetBulkRequest && req.Variables[0].Name != col {
				return &gosnmp.SnmpPacket{Error: gosnmp.GenErr, ErrorIndex: 1, Variables: req.Variables}
			}
			return table.Answer(req)
		})
		s := open(t, context.Background(), snmpc.Access{Address: "127.0.0.1", Port: a.Port(), Community: "c", Timeout: time.Second, MaxRepetitions: 10})
		vars, err := s.BulkWalk(col)
		if e := snmpc.AsError(err); e == nil || !e.Transient || e.Status != gosnmp.GenErr || vars != nil {
			t.Errorf("walk = %d values, %v; want a genErr failure and no partial table", len(vars), err)
		}
	})

	t.Run("OIDs not increasing", func(t *testing.T) {
		t.Parallel()
		a := snmpctest.Start(t, func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
			resp := table.Answer(req)
			if len(resp.Variables) > 2 {
				resp.Variables[2] = resp.Variables[0]
			}
			return resp
		})
		s := open(t, context.Background(), snmpc.Access{Address: "127.0.0.1", Port: a.Port(), Community: "c", Timeout: time.Second})
		_, err := s.BulkWalk(col)
		if e := snmpc.AsError(err); e == nil || e.Transient || !strings.Contains(e.Msg, "OIDs not increasing") {
			t.Errorf("walk = %v, want a permanent out-of-order failure", err)
		}
	})

	t.Run("v1 ends with noSuchName", func(t *testing.T) {
		t.Parallel()
		last := table[len(table)-1].Name
		a := snmpctest.Start(t, func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
			if req.Variables[0].Name == last {
				return &gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, ErrorIndex: 1, Variables: req.Variables}
			}
			return table.Answer(req)
		})
		s := open(t, context.Background(), snmpc.Access{Address: "127.0.0.1", Port: a.Port(), Version: "v1", Community: "c", Timeout: time.Second})
		vars, err := s.BulkWalk(".1.3.6.1.2.1.2.2.1.3")
		if err != nil || len(vars) != 1 {
			t.Errorf("walk = %v, %v; want 1 value", vars, err)
		}
		for _, r := range a.Requests() {
			if r.PDUType != gosnmp.GetNextRequest {
				t.Errorf("v1 walk sent %v", r.PDUType)
			}
		}
	})
}

func TestValues(t *testing.T) {
	tests := []struct {
		v       gosnmp.SnmpPDU
		wantInt string // "" = error
		wantU64 string
	}{
		{gosnmp.SnmpPDU{Type: gosnmp.Integer, Value: 2}, "2", ""},
		{gosnmp.SnmpPDU{Type: gosnmp.Integer, Value: -3}, "-3", ""},
		{gosnmp.SnmpPDU{Type: gosnmp.Gauge32, Value: uint(4294967295)}, "4294967295", "4294967295"},
		{gosnmp.SnmpPDU{Type: gosnmp.TimeTicks, Value: uint32(12345)}, "12345", "12345"},
		{gosnmp.SnmpPDU{Type: gosnmp.Counter64, Value: uint64(1 << 40)}, "", "1099511627776"},
		{gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte("x")}, "", ""},
	}
	for _, tt := range tests {
		n, err := snmpc.Int(tt.v)
		if got := fmt.Sprint(n); (err == nil) != (tt.wantInt != "") || (err == nil && got != tt.wantInt) {
			t.Errorf("Int(%v) = %d, %v; want %q", tt.v, n, err, tt.wantInt)
		}
		u, err := snmpc.Uint64(tt.v)
		if got := fmt.Sprint(u); (err == nil) != (tt.wantU64 != "") || (err == nil && got != tt.wantU64) {
			t.Errorf("Uint64(%v) = %d, %v; want %q", tt.v, u, err, tt.wantU64)
		}
	}
	if s, err := snmpc.String(gosnmp.SnmpPDU{Type: gosnmp.OctetString, Value: []byte("swp1")}); s != "swp1" || err != nil {
		t.Errorf("String = %q, %v", s, err)
	}
	if idx, ok := snmpc.Suffix("1.3.6.1.2.1.17.7.1.2.2.1.2.1.2.0.0.0.0.1", ".1.3.6.1.2.1.17.7.1.2.2.1.2"); !ok || fmt.Sprint(idx) != "[1 2 0 0 0 0 1]" {
		t.Errorf("Suffix = %v, %v", idx, ok)
	}
	if _, ok := snmpc.Suffix(".1.3.6.1.2.1.2.2.1.20.5", ".1.3.6.1.2.1.2.2.1.2"); ok {
		t.Error("Suffix matched a sibling column")
	}
}
