package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
	"github.com/dcimd/dcimd/internal/testutil/netnssw"
)

// swRig is a real switch (net-snmp snmpd in a namespace, veth ports) and
// its record in dcimd with the ports discovered.
type swRig struct {
	sw    *netnssw.Switch
	id    int64
	ports map[string]int64 // port name → port id
}

func (te *taskEnv) addSwitch(t *testing.T, name string, sw *netnssw.Switch, extra map[string]any) swRig {
	t.Helper()
	body := map[string]any{"name": name, "address": sw.Addr.String(), "snmp_port": sw.Port, "snmp_version": "v2c",
		"snmp_community": sw.Community}
	for k, v := range extra {
		body[k] = v
	}
	r := te.must(http.StatusOK, "POST", "/api/dci/v3/switch", te.admin, body)
	id := int64(r.Body["id"].(float64))
	tk, ok := r.Body["task"].(float64)
	if !ok {
		t.Fatalf("switch create queued no discovery: %s", r.Raw)
	}
	te.waitEnd(int64(tk), task.Complete)
	rig := swRig{sw: sw, id: id, ports: map[string]int64{}}
	for _, p := range ipamList(t, te.env, "/api/dci/v3/switch/"+itoa(id)+"/port") {
		rig.ports[p["name"].(string)] = int64(p["id"].(float64))
	}
	return rig
}

func (te *taskEnv) connect(serverID, portID int64, ipmi bool) {
	te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(serverID)+"/switch_connection", te.admin,
		map[string]any{"switch_port_id": portID, "is_ipmi_connection": ipmi})
}

func (te *taskEnv) serverState(id int64) (string, string) {
	s := te.serverObj(te.admin, id)
	return s["state"].(string), fmt.Sprint(s["state_info"])
}

// TestSuspendResume runs the billing system's suspend and resume against
// net-snmp's snmpd: the veth really goes down and up, the IPMI port never
// moves, a repeated suspend touches nothing, a partial failure (one of two
// switches silent) ends in suspend_error naming the port, and a retry
// finishes the job. Port discovery, a port by hand, MAC discovery from the
// kernel bridge's real forwarding table and traffic counting too.
func TestSuspendResume(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{maxAttempts: 1, callTimeout: 500 * time.Millisecond})
		f := te.fixture()
		a := te.addSwitch(t, "leaf-a", netnssw.Start(t, netnssw.Options{Ports: 4}), nil)
		b := te.addSwitch(t, "leaf-b", netnssw.Start(t, netnssw.Options{Ports: 2}), nil)
		for _, n := range []string{"swp1", "swp2", "swp3", "swp4", "br0", "mgmt0"} {
			if a.ports[n] == 0 {
				t.Fatalf("discovery of leaf-a lacks %s: %v", n, a.ports)
			}
		}
		// The user's server: swp1 (data) and swp2 (its BMC) on leaf-a,
		// swp1 on leaf-b (second NIC).
		srv := f.servers[0]
		te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(srv), te.admin, map[string]any{"mac": a.sw.HostMAC(1)})
		te.connect(srv, a.ports["swp1"], false)
		te.connect(srv, a.ports["swp2"], true)
		te.connect(srv, b.ports["swp1"], false)

		suspend := func(want task.Status) map[string]any {
			t.Helper()
			r := te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(srv)+"/suspend", te.admin, map[string]any{})
			return te.waitEnd(int64(r.Body["task"].(float64)), want)
		}
		resume := func(want task.Status) map[string]any {
			t.Helper()
			r := te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(srv)+"/resume", te.admin, map[string]any{})
			return te.waitEnd(int64(r.Body["task"].(float64)), want)
		}
		te.must(http.StatusForbidden, "POST", "/api/dci/v3/server/"+itoa(srv)+"/suspend", f.userToken, map[string]any{})

		suspend(task.Complete)
		if st, _ := te.serverState(srv); st != "suspended" {
			t.Fatalf("state after suspend %q", st)
		}
		if a.sw.LinkUp(t, 1) || b.sw.LinkUp(t, 1) {
			t.Fatal("a data port is still up after suspend")
		}
		if !a.sw.LinkUp(t, 2) {
			t.Fatal("the IPMI port went down")
		}
		for _, c := range te.serverObj(te.admin, srv)["switch_connection"].([]any) {
			sc := c.(map[string]any)
			want := "down"
			if sc["is_ipmi_connection"] == true {
				want = "up"
			}
			if sc["admin_status"] != want {
				t.Fatalf("switch_connection %v, want admin_status %s", sc, want)
			}
		}
		// Idempotent: no switch touched (the agent is stopped: any SNMP
		// request would fail the task).
		b.sw.StopAgent(t)
		if tk := suspend(task.Complete); !strings.Contains(fmt.Sprint(tk["steps"]), "no switch touched") {
			t.Fatalf("repeated suspend: %v", tk["steps"])
		}
		// Resume with leaf-b silent: resume_error naming the port; the
		// ports of leaf-a are up, leaf-b's stay down.
		tk := resume(task.Fail)
		st, info := te.serverState(srv)
		if st != "resume_error" || !strings.Contains(info, "swp1") || !strings.Contains(info, "switch") {
			t.Fatalf("after a partial failure: state %q info %q (task %v)", st, info, tk["error"])
		}
		if !a.sw.LinkUp(t, 1) || b.sw.LinkUp(t, 1) {
			t.Fatal("partial resume: leaf-a swp1 should be up and leaf-b swp1 down")
		}
		// The agent is back: a retry finishes the job.
		b.sw.StartAgent(t)
		resume(task.Complete)
		if st, _ := te.serverState(srv); st != "ok" || !b.sw.LinkUp(t, 1) {
			t.Fatalf("after retry: state %q, leaf-b swp1 up %v", st, b.sw.LinkUp(t, 1))
		}
		// Suspend with leaf-b silent the same way, then retry.
		b.sw.StopAgent(t)
		suspend(task.Fail)
		if st, info := te.serverState(srv); st != "suspend_error" || !strings.Contains(info, "swp1") {
			t.Fatalf("suspend with a silent switch: %q %q", st, info)
		}
		b.sw.StartAgent(t)
		suspend(task.Complete)
		resume(task.Complete)

		// A port by hand; the IPMI port needs force.
		port := "/api/dci/v3/switch/" + itoa(a.id) + "/port/"
		r := te.must(http.StatusOK, "POST", port+itoa(a.ports["swp3"])+"/down", te.admin, map[string]any{})
		te.waitEnd(int64(r.Body["task"].(float64)), task.Complete)
		if a.sw.LinkUp(t, 3) {
			t.Fatal("swp3 up after port down")
		}
		r = te.must(http.StatusOK, "POST", port+itoa(a.ports["swp3"])+"/up", te.admin, map[string]any{})
		te.waitEnd(int64(r.Body["task"].(float64)), task.Complete)
		if !a.sw.LinkUp(t, 3) {
			t.Fatal("swp3 down after port up")
		}
		te.must(http.StatusConflict, "POST", port+itoa(a.ports["swp2"])+"/down", te.admin, map[string]any{})

		// MACs learned on swp1, from the kernel bridge's real table.
		a.sw.Ping(t, 1, 3)
		macs := ipamList(t, te.env, port+itoa(a.ports["swp1"])+"/mac")
		found := false
		for _, m := range macs {
			if m["mac"] == a.sw.HostMAC(1) {
				found = true
				if s, _ := m["server"].(map[string]any); s == nil || s["id"] != float64(srv) {
					t.Fatalf("MAC %v not matched to server %d", m, srv)
				}
			}
		}
		if !found {
			t.Fatalf("swp1 MACs %v lack host 1's %s", macs, a.sw.HostMAC(1))
		}

		// Traffic: two polls around some pings, then the day total.
		ctx := context.Background()
		if _, err := te.switches.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			a.sw.Ping(t, 1, 3)
		}
		if _, err := te.switches.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		tr := te.must(http.StatusOK, "GET", "/api/dci/v3/server/"+itoa(srv)+"/traffic?period=day", f.userToken, nil).Body
		if tr["in_bytes"].(float64) <= 0 || tr["out_bytes"].(float64) <= 0 {
			t.Fatalf("traffic after pings %v", tr)
		}
		month := te.must(http.StatusOK, "GET", "/api/dci/v3/server/"+itoa(srv)+"/traffic?period=month", f.userToken, nil).Body
		if month["total_bytes"].(float64) < tr["total_bytes"].(float64) {
			t.Fatalf("month %v < day %v", month, tr)
		}
		// A dead switch does not keep the poll from recording the others:
		// leaf-a's swp1 loses its link (the host's end goes down) while
		// leaf-b is silent.
		b.sw.StopAgent(t)
		a.sw.SetHostLink(t, 1, false)
		ps, err := te.switches.Poll(ctx)
		if err != nil || ps.SwitchErrors != 1 || ps.Switches != 2 {
			t.Fatalf("poll with a dead switch: %+v %v", ps, err)
		}
		seen := false
		for _, c := range te.serverObj(te.admin, srv)["switch_connection"].([]any) {
			if sc := c.(map[string]any); sc["id"] == float64(a.ports["swp1"]) {
				seen = true
				if sc["oper_status"] != "down" || sc["admin_status"] != "up" {
					t.Fatalf("leaf-a swp1 after its link dropped: %v", sc)
				}
			}
		}
		if !seen {
			t.Fatal("leaf-a swp1 missing from the server's switch_connection")
		}
		a.sw.SetHostLink(t, 1, true)
		b.sw.StartAgent(t)
		metrics := te.do("GET", "/metrics", "", nil)
		if metrics.Status != http.StatusOK || !strings.Contains(string(metrics.Raw), `dcimd_switch_port_octets_total{direction="in",port="swp1"`) {
			t.Fatalf("metrics %d: %.500s", metrics.Status, metrics.Raw)
		}
	})
}

// TestSwitchBadInput: every bad request is a clear 4xx and changes
// nothing: no task, no state, no port.
func TestSwitchBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{maxAttempts: 1, callTimeout: 500 * time.Millisecond})
		f := te.fixture()
		real := te.addSwitch(t, "leaf", netnssw.Start(t, netnssw.Options{Ports: 2}), nil)
		ro := te.create("/api/dci/v3/switch", map[string]any{"name": "ro", "address": "127.0.0.1", "snmp_port": 9, "read_only": true})
		roPort := te.create("/api/dci/v3/switch/"+itoa(ro)+"/port", map[string]any{"identity": "5", "name": "Gi0/5"})
		hand := te.create("/api/dci/v3/switch/"+itoa(real.id)+"/port", map[string]any{"identity": "uplink-a"})
		lonely, onRO, onHand := f.servers[1], f.servers[2], te.server("hand-wired", 0)
		te.connect(onRO, roPort, false)
		te.connect(onHand, hand, false)
		te.connect(lonely, real.ports["swp2"], true) // only an IPMI port

		snap := func() (string, int) {
			var b strings.Builder
			for _, p := range []string{"/api/dci/v3/server", "/api/dci/v3/switch/" + itoa(real.id) + "/port", "/api/dci/v3/switch/" + itoa(ro) + "/port"} {
				b.Write(te.must(http.StatusOK, "GET", p, te.admin, nil).Raw)
			}
			n := len(ipamList(t, te.env, "/api/dci/v3/task"))
			return b.String(), n
		}
		// Resuming a server that is ok is a task that touches nothing.
		r := te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(onRO)+"/resume", te.admin, map[string]any{})
		te.waitEnd(int64(r.Body["task"].(float64)), task.Complete)
		before, tasksBefore := snap()
		sp := "/api/dci/v3/switch/" + itoa(real.id) + "/port/"
		for _, c := range []struct {
			method, path, token string
			body                any
			status              int
		}{
			{"POST", "/api/dci/v3/server/" + itoa(lonely) + "/suspend", te.admin, map[string]any{}, 409},
			{"POST", "/api/dci/v3/server/" + itoa(onRO) + "/suspend", te.admin, map[string]any{}, 409},
			{"POST", "/api/dci/v3/server/" + itoa(onHand) + "/suspend", te.admin, map[string]any{}, 400},
			{"POST", "/api/dci/v3/server/999999/suspend", te.admin, map[string]any{}, 404},
			{"POST", "/api/dci/v3/server/x/suspend", te.admin, map[string]any{}, 404},
			{"POST", "/api/dci/v3/server/" + itoa(f.servers[0]) + "/suspend", te.admin, map[string]any{"now": true}, 400},
			{"POST", "/api/dci/v3/server/" + itoa(f.servers[0]) + "/suspend", f.userToken, map[string]any{}, 403},
			{"POST", "/api/dci/v3/switch/999999/refresh", te.admin, map[string]any{}, 404},
			{"POST", "/api/dci/v3/switch/" + itoa(real.id) + "/refresh", f.userToken, map[string]any{}, 403},
			{"POST", sp + "999999/down", te.admin, map[string]any{}, 404},
			{"POST", "/api/dci/v3/switch/" + itoa(ro) + "/port/" + itoa(real.ports["swp1"]) + "/down", te.admin, map[string]any{}, 404},
			{"POST", "/api/dci/v3/switch/" + itoa(ro) + "/port/" + itoa(roPort) + "/down", te.admin, map[string]any{}, 409},
			{"POST", sp + itoa(real.ports["swp2"]) + "/down", te.admin, map[string]any{}, 409},
			{"POST", sp + itoa(hand) + "/down", te.admin, map[string]any{}, 400}, // no ifIndex until a refresh
			{"POST", sp + itoa(real.ports["swp1"]) + "/down", te.admin, map[string]any{"force": "yes"}, 400},
			{"GET", sp + "999999/mac", te.admin, nil, 404},
			{"GET", "/api/dci/v3/server/" + itoa(f.servers[1]) + "/traffic", f.userToken, nil, 404},
			{"GET", "/api/dci/v3/server/" + itoa(f.servers[0]) + "/traffic?period=year", f.userToken, nil, 400},
			{"GET", "/api/dci/v3/server/" + itoa(f.servers[0]) + "/traffic?date=yesterday", f.userToken, nil, 400},
			{"GET", "/api/dci/v3/server/" + itoa(f.servers[0]) + "/traffic?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", f.userToken, nil, 400},
			{"GET", "/api/dci/v3/server/" + itoa(f.servers[0]) + "/traffic?from=x&to=y", f.userToken, nil, 400},
		} {
			got := te.do(c.method, c.path, c.token, c.body)
			if got.Status != c.status || (c.status >= 400 && got.Body["error"] == nil) {
				t.Errorf("%s %s %v: %d %s; want %d", c.method, c.path, c.body, got.Status, got.Raw, c.status)
			}
		}
		after, tasksAfter := snap()
		if tasksAfter != tasksBefore {
			t.Fatalf("%d tasks before the bad requests, %d after", tasksBefore, tasksAfter)
		}
		if after != before {
			i := 0
			for i < len(before) && i < len(after) && before[i] == after[i] {
				i++
			}
			lo := max(0, i-300)
			t.Fatalf("bad requests changed servers or ports at byte %d:\nbefore …%s\nafter  …%s", i,
				before[lo:min(len(before), i+200)], after[lo:min(len(after), i+200)])
		}
	})
}

var _ = netsw.Up
