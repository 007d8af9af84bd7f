package e2e

// Restart safety of tasks in the real binary: `kill -9` in the middle of a
// power_reset against a slow BMC (ipmi_sim behind a UDP proxy that holds
// every answer back), then a new start on the same data.

import (
	"fmt"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/testutil/ipmisim"
)

// killHard sends SIGKILL to the daemon's PID and waits until it is reaped;
// the cleanup then has nothing to stop.
func (d *daemon) killHard() {
	d.t.Helper()
	if d.stopped {
		d.t.Fatal("killHard: the daemon was already stopped")
	}
	d.stopped = true
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatalf("SIGKILL to pid %d: %v", d.cmd.Process.Pid, err)
	}
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		d.t.Fatalf("pid %d still there %s after SIGKILL", d.cmd.Process.Pid, stopTimeout)
	}
	if ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		d.t.Fatalf("the daemon did not die of SIGKILL: %v", d.cmd.ProcessState)
	}
}

// waitTask polls GET /task/{id} (bounded) until cond holds.
func waitTask(t *testing.T, c *client, id int64, what string, limit time.Duration, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		tk := c.expect(http.MethodGet, fmt.Sprintf("/api/dci/v3/task/%d", id), nil, http.StatusOK)
		if cond(tk) {
			return tk
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %d: not %s within %s: %v", id, what, limit, tk)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func taskEnded(tk map[string]any) bool {
	switch tk["status"] {
	case "complete", "fail", "canceled":
		return true
	}
	return false
}

func firstStepRunning(tk map[string]any) bool {
	steps, _ := tk["steps"].([]any)
	if tk["status"] != "running" || len(steps) == 0 {
		return false
	}
	s, _ := steps[0].(map[string]any)
	return s["status"] == "running"
}

// powerTask posts a power action and returns the task id of {"id","task"}.
func powerTask(t *testing.T, c *client, serverID int64, action string) int64 {
	t.Helper()
	v := c.expect(http.MethodPost, fmt.Sprintf("/api/dci/v3/server/%d/%s", serverID, action), nil, http.StatusOK)
	checkShape(t, action, v, obj{"id": isInt, "task": isInt})
	if got := num(t, action+".id", v["id"]); got != serverID {
		t.Fatalf("%s answered id %d, want the server %d", action, got, serverID)
	}
	return num(t, action+".task", v["task"])
}

// noActiveTasks checks that no task is running or waiting.
func noActiveTasks(t *testing.T, c *client) {
	t.Helper()
	v := c.expect(http.MethodGet, "/api/dci/v3/task?where=status+EQ+'running'+OR+status+EQ+'created'", nil, http.StatusOK)
	if n := num(t, "active tasks", v["size"]); n != 0 {
		t.Errorf("%d tasks are still active: %v", n, v["list"])
	}
}

func TestKillMidTask(t *testing.T) {
	t.Parallel()
	bothDatabases(t, killMidTask)
}

func killMidTask(t *testing.T, dbURL string) {
	sim := ipmisim.Start(t, ipmisim.Options{PoweredOn: true})
	// Every answer 300ms late: a power_reset (session setup, status, reset,
	// status) takes a few seconds, under the attempt timeout set below.
	slow := udpproxy.Start(t, sim.Port, 300*time.Millisecond)
	env := []string{"DCIMD_POWER_POLL_INTERVAL=0"}
	if dbURL != "" {
		// PostgreSQL: a job left running by a dead process is rescued
		// once it is older than rescue_after (SQLite recovers at once).
		env = append(env, "DCIMD_TASKS_RESCUE_AFTER=8s", "DCIMD_TASKS_ATTEMPT_TIMEOUT=5s")
	}
	cfg := config{dataDir: t.TempDir(), databaseURL: dbURL, adminEmail: adminEmail, adminPassword: adminPassword, env: env}
	first := startDaemon(t, cfg)
	token, _ := newClient(t, first).login(adminEmail, adminPassword)
	admin := newClient(t, first).as(token)
	sid := id(t, "POST /server", admin.expect(http.MethodPost, "/api/dci/v3/server", map[string]any{"name": "kill-9"}, http.StatusOK))
	admin.expect(http.MethodPost, "/api/dci/v3/ipmi", map[string]any{"server_id": sid, "address": "127.0.0.1",
		"port": slow.Port(), "user": sim.User, "password": sim.Password, "type": "IPMI v2(lanplus)", "cipher_suite": 3}, http.StatusOK)

	tid := powerTask(t, admin, sid, "power_reset")
	waitTask(t, admin, tid, "running its first step", 30*time.Second, func(tk map[string]any) bool {
		if taskEnded(tk) {
			t.Fatalf("the task ended before the kill: %v", tk)
		}
		return firstStepRunning(tk)
	})
	// Kill at the worst moment: the BMC has done the reset, its answer is
	// still on the way and the step is not recorded as done.
	deadline := time.Now().Add(30 * time.Second)
	for sim.Resets() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the BMC never saw the reset")
		}
		time.Sleep(5 * time.Millisecond)
	}
	first.killHard()
	t.Logf("killed pid %d while task %d ran; the BMC had seen %d requests and %d resets",
		first.cmd.Process.Pid, tid, slow.Requests(), sim.Resets())

	second := startDaemon(t, cfg)
	admin = newClient(t, second).as(token)
	// A rescue on PostgreSQL waits for the dead process's leadership to
	// lapse and for rescue_after, hence the longer bound.
	tk := waitTask(t, admin, tid, "ended", 120*time.Second, taskEnded)
	if tk["status"] != "complete" {
		t.Fatalf("after the restart the task ended %v: %v", tk["status"], tk)
	}
	if n := num(t, "attempt", tk["attempt"]); n < 2 {
		t.Errorf("the task completed in attempt %d; the kill should have cost one", n)
	}
	steps, _ := tk["steps"].([]any)
	if len(steps) != 2 {
		t.Fatalf("steps: %v", tk["steps"])
	}
	for i, name := range []string{"power_reset", "record state"} {
		s := steps[i].(map[string]any)
		if s["name"] != name || s["status"] != "ok" || s["started_at"] == nil || s["finished_at"] == nil {
			t.Errorf("step %d: %v, want %s ok with times", i, s, name)
		}
	}
	// The step was not done when the process died, so the new attempt
	// resets again (a retry, not a resume).
	if n := sim.Resets(); n < 2 {
		t.Errorf("the BMC saw %d resets, want one before the kill and one after", n)
	}
	out, err := sim.IPMITool("chassis", "power", "status")
	if err != nil || !strings.Contains(out, "Chassis Power is on") {
		t.Errorf("ipmitool after the reset: %q %v", out, err)
	}
	s := admin.expect(http.MethodGet, fmt.Sprintf("/api/dci/v3/server/%d", sid), nil, http.StatusOK)
	op, _ := s["operation"].(map[string]any)
	if op == nil || op["status"] != "ok" || num(t, "operation.id", op["id"]) != tid {
		t.Errorf("server operation after the restart: %v", s["operation"])
	}
	noActiveTasks(t, admin)

	// The server is not stuck busy: the next operation runs.
	off := powerTask(t, admin, sid, "power_off")
	if tk := waitTask(t, admin, off, "ended", 60*time.Second, taskEnded); tk["status"] != "complete" {
		t.Fatalf("power_off after the restart: %v", tk)
	}
	if out, err := sim.IPMITool("chassis", "power", "status"); err != nil || !strings.Contains(out, "Chassis Power is off") {
		t.Errorf("ipmitool after power_off: %q %v", out, err)
	}
	second.stopOK()
}
