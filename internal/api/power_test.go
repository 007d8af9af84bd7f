package api

// Power tasks through the API against real peers: OpenIPMI's ipmi_sim
// (checked independently with ipmitool), net-snmp's snmpd emulating an APC
// PDU, silent and slow UDP BMCs; the task engine runs on a real River
// runner on SQLite and PostgreSQL, wired as internal/app/tasks.go wires it.

import (
	"bytes"
	"context"
	"fmt"
	"github.com/dcimd/dcimd/internal/power/devices"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/metrics"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpopen"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/ipmi"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
	"github.com/dcimd/dcimd/internal/testutil/ipmisim"
	"github.com/dcimd/dcimd/internal/testutil/snmppdu"
)

// taskOpts tune a task env; zero fields take the defaults in newTaskEnv.
type taskOpts struct {
	maxAttempts    int           // 2: a transient failure is retried once
	callTimeout    time.Duration // 1s per BMC or PDU call
	stepTimeout    time.Duration // 20s per power action
	attemptTimeout time.Duration // 60s per task attempt
	pduResetWait   time.Duration // 1s between off and on through an outlet
	noFallback     bool          // do not fall back to the PDU outlet
	rescueAfter    time.Duration // 1h: River rescues a job running this long
	hold           bool          // do not start the runner; see restartRunner
}

// taskEnv is the API with the task engine, the power service and a real
// River runner on a fresh database, as `dcimd serve` builds them.
type taskEnv struct {
	*env
	opts     taskOpts
	eng      *task.Engine
	poller   *ops.PollPowerWorker
	switches *netsw.Service
	logs     *pwLogBuffer

	runnerOpts store.RunnerOptions
	mu         sync.Mutex
	runner     *store.Runner // the current "process"
}

// newTaskEnv builds the API with the task engine like internal/app's
// startTasks does (package app imports this one), with the same device
// resolver from internal/power/devices.
func newTaskEnv(t *testing.T, db *store.DB, o taskOpts) *taskEnv {
	t.Helper()
	if o.maxAttempts == 0 {
		o.maxAttempts = 2
	}
	if o.callTimeout == 0 {
		o.callTimeout = time.Second
	}
	if o.stepTimeout == 0 {
		o.stepTimeout = 20 * time.Second
	}
	if o.attemptTimeout == 0 {
		o.attemptTimeout = time.Minute
	}
	if o.pduResetWait == 0 {
		o.pduResetWait = time.Second
	}
	if o.rescueAfter == 0 {
		o.rescueAfter = time.Hour
	}
	ctx := context.Background()
	logs := &pwLogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	clk := &clock{t: time.Now()}
	as := auth.NewService(db.Auth(), auth.Options{DefaultTTL: time.Hour, FailuresPerAccount: 5, FailuresPerAddress: 1000,
		FailureWindow: 15 * time.Minute, Now: clk.Now, Log: quiet})
	if _, err := as.EnsureAdmin(ctx, adminEmail, adminPass); err != nil {
		t.Fatal(err)
	}
	inv := server.NewService(db.Inventory())

	pool := ipmi.NewPool(ipmi.PoolOptions{MaxPerBMC: 1, Log: log})
	paths := devices.NewResolver(inv, pool, devices.Options{CipherSuites: []int{17, 3}, CallTimeout: o.callTimeout,
		PDUResetWait: o.pduResetWait}, log)
	psvc := power.NewService(paths, power.Options{FallbackToPDU: !o.noFallback, PDUResetWait: o.pduResetWait, Log: log})
	eng := task.New(db.Tasks(), db.Tasks(), log, nil)
	ops.RegisterPower(eng, psvc, db.Views(), ops.PowerOptions{StepTimeout: o.stepTimeout, MaxAttempts: o.maxAttempts})
	ops.RegisterIP(eng, db.IPAM(), o.maxAttempts, log)
	nsvc := netsw.NewService(db.SwitchPorts(), snmpopen.Opener(snmpopen.Options{CallTimeout: o.callTimeout, Log: log}),
		netsw.Options{SwitchTimeout: 10 * o.callTimeout, PollConcurrency: 4, Log: log})
	ops.RegisterNet(eng, nsvc, db.SwitchPorts(), ops.NetOptions{MaxAttempts: o.maxAttempts, StepTimeout: o.stepTimeout, Log: log})

	workers := river.NewWorkers()
	river.AddWorker(workers, eng.NewWorker(o.attemptTimeout))
	poller := &ops.PollPowerWorker{Poller: &power.Poller{Source: paths, Sink: db.Views(), Concurrency: 4, Log: log}, Log: log}
	river.AddWorker(workers, poller)
	river.AddWorker(workers, &ops.PruneTasksWorker{Engine: eng, Retention: time.Hour, Log: log})
	ro := store.RunnerOptions{Workers: workers, MaxWorkers: 20, FetchPoll: 50 * time.Millisecond, RescueAfter: o.rescueAfter, Log: log}
	runner, err := db.NewRunner(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetQueue(runner)
	if !o.hold {
		if err := runner.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(Deps{Auth: as, Inventory: inv, IPs: db.IPs(), DB: db, Tasks: eng, TaskReader: db.Tasks(), Power: psvc, IPAM: db.IPAM(),
		Switches: nsvc, States: db.SwitchPorts(), Metrics: metrics.Handler(metrics.NewCollector(db.SwitchPorts(), quiet)), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	// Cleanups run last-in first-out: the HTTP server, then the runner
	// (running tasks are canceled), then the BMC sessions.
	t.Cleanup(func() {
		if err := pool.Close(); err != nil {
			t.Errorf("ipmi pool close: %v", err)
		}
		if t.Failed() {
			t.Logf("dcimd log (last 200 lines):\n%s", logs.tail(200))
		}
	})
	te := &taskEnv{opts: o, eng: eng, poller: poller, switches: nsvc, logs: logs, runnerOpts: ro, runner: runner}
	t.Cleanup(func() {
		te.mu.Lock()
		r := te.runner
		te.mu.Unlock()
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := r.Stop(sctx); err != nil {
			t.Errorf("runner stop: %v", err)
		}
	})
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, srv: srv, auth: as, clock: clk}
	e.admin, e.adminID = e.login(adminEmail, adminPass)
	te.env = e
	return te
}

// restartRunner replaces the job runner by a new one on the same database
// and starts it, as a new dcimd process would after the old one died: on
// SQLite the new runner recovers the jobs left running at once, on
// PostgreSQL River's rescuer does once they are older than rescueAfter.
func (te *taskEnv) restartRunner() {
	te.t.Helper()
	ctx := context.Background()
	te.mu.Lock()
	defer te.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := te.runner.Stop(sctx); err != nil {
		te.t.Fatalf("stop the old runner: %v", err)
	}
	r, err := te.db.NewRunner(ctx, te.runnerOpts)
	if err != nil {
		te.t.Fatal(err)
	}
	te.runner = r
	te.eng.SetQueue(r)
	if err := r.Start(ctx); err != nil {
		te.t.Fatal(err)
	}
}

// forT is the env bound to a subtest, so that Fatal stops the right test.
// The copy shares the runner of te; do not restart it.
func (te *taskEnv) forT(t *testing.T) *taskEnv {
	e := *te.env
	e.t = t
	return &taskEnv{env: &e, opts: te.opts, eng: te.eng, poller: te.poller, logs: te.logs, runnerOpts: te.runnerOpts, runner: te.runner}
}

// pwLogBuffer keeps the daemon's log for failure reports.
type pwLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *pwLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *pwLogBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimRight(l.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- inventory helpers ----

// server creates a server with a name and, when owner is not 0, gives it to
// that user.
func (te *taskEnv) server(name string, owner int64) int64 {
	te.t.Helper()
	id := te.create("/api/dci/v3/server", map[string]any{"name": name})
	if owner != 0 {
		te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(id)+"/owner", te.admin, map[string]any{"owner": owner})
	}
	return id
}

// bmc registers a BMC for a server; typ is server.IPMILanplus or IPMIv15.
func (te *taskEnv) bmc(serverID int64, port int, user, password, typ string) int64 {
	te.t.Helper()
	return te.create("/api/dci/v3/ipmi", map[string]any{"server_id": serverID, "address": "127.0.0.1", "port": port,
		"user": user, "password": password, "type": typ, "cipher_suite": 3})
}

// simBMC registers the ipmi_sim as a server's BMC.
func (te *taskEnv) simBMC(serverID int64, sim *ipmisim.Sim, port int, typ string) int64 {
	return te.bmc(serverID, port, sim.User, sim.Password, typ)
}

// pduOutlet registers the agent as a PDU (once per agent) and connects the
// server to its outlet n.
func (te *taskEnv) pduOutlet(serverID int64, a *snmppdu.Agent, pduID *int64, n int) {
	te.t.Helper()
	if *pduID == 0 {
		*pduID = te.create("/api/dci/v3/pdu", map[string]any{"name": "pdu-" + strconv.Itoa(a.Port), "address": a.Addr,
			"snmp_port": a.Port, "snmp_version": "v2c", "snmp_community": a.Community, "profile": server.PDUProfileAPCRack})
	}
	port := te.create("/api/dci/v3/pdu/"+itoa(*pduID)+"/port", map[string]any{"identity": strconv.Itoa(n)})
	te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(serverID)+"/pdu_connection", te.admin, map[string]any{"pdu_port_id": port})
}

// ---- task helpers ----

// power posts a power action and checks the answer {"id": server, "task": n}.
func (te *taskEnv) power(token string, serverID int64, action string, body any) int64 {
	te.t.Helper()
	r := te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(serverID)+"/"+action, token, body)
	if len(r.Body) != 2 || pwNum(r.Body["id"]) != serverID || pwNum(r.Body["task"]) <= 0 {
		te.t.Fatalf("%s answered %s, want {\"id\":%d,\"task\":n}", action, r.Raw, serverID)
	}
	return pwNum(r.Body["task"])
}

func pwNum(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func (te *taskEnv) getTask(id int64) map[string]any {
	te.t.Helper()
	return te.must(http.StatusOK, "GET", "/api/dci/v3/task/"+itoa(id), te.admin, nil).Body
}

// waitTask waits (bounded) until cond holds for the task, and returns it.
func (te *taskEnv) waitTask(id int64, what string, limit time.Duration, cond func(tk map[string]any) bool) map[string]any {
	te.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		tk := te.getTask(id)
		if cond(tk) {
			return tk
		}
		if time.Now().After(deadline) {
			te.t.Fatalf("task %d: not %s within %s: %v", id, what, limit, tk)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func pwFinal(tk map[string]any) bool {
	s, _ := tk["status"].(string)
	return task.Status(s).Final()
}

// waitEnd waits until the task ends and checks its final status.
func (te *taskEnv) waitEnd(id int64, want task.Status) map[string]any {
	te.t.Helper()
	tk := te.waitTask(id, "ended", 90*time.Second, pwFinal)
	if tk["status"] != string(want) {
		te.t.Fatalf("task %d ended %v (status_info %q), want %s: %v", id, tk["status"], tk["status_info"], want, tk)
	}
	return tk
}

// waitRunning waits until the task runs its first step.
func (te *taskEnv) waitRunning(id int64) map[string]any {
	te.t.Helper()
	return te.waitTask(id, "running a step", 30*time.Second, func(tk map[string]any) bool {
		if pwFinal(tk) {
			te.t.Fatalf("task %d ended (%v: %v) before it was seen running", id, tk["status"], tk["status_info"])
		}
		steps, _ := tk["steps"].([]any)
		return tk["status"] == "running" && len(steps) > 0 && steps[0].(map[string]any)["status"] == "running"
	})
}

// checkSteps checks that every step has its times and the wanted statuses.
func (te *taskEnv) checkSteps(tk map[string]any, want ...string) {
	te.t.Helper()
	steps, _ := tk["steps"].([]any)
	if len(steps) != len(want) {
		te.t.Fatalf("task %v has %d steps, want %d (%v): %v", tk["id"], len(steps), len(want), want, tk["steps"])
	}
	for i, s := range steps {
		st := s.(map[string]any)
		name, status, _ := strings.Cut(want[i], "=")
		if st["name"] != name || st["status"] != status {
			te.t.Errorf("task %v step %d = %v/%v, want %s/%s", tk["id"], i, st["name"], st["status"], name, status)
		}
		started, err1 := time.Parse(time.RFC3339, fmt.Sprint(st["started_at"]))
		finished, err2 := time.Parse(time.RFC3339, fmt.Sprint(st["finished_at"]))
		if err1 != nil || err2 != nil || finished.Before(started) {
			te.t.Errorf("task %v step %d times: started_at %v, finished_at %v", tk["id"], i, st["started_at"], st["finished_at"])
		}
	}
}

// serverObj reads a server as the given session sees it.
func (te *taskEnv) serverObj(token string, id int64) map[string]any {
	te.t.Helper()
	return te.must(http.StatusOK, "GET", "/api/dci/v3/server/"+itoa(id), token, nil).Body
}

// checkOperation checks the server object's operation after a task ended.
func (te *taskEnv) checkOperation(token string, serverID, taskID int64, status string, steps int) map[string]any {
	te.t.Helper()
	s := te.serverObj(token, serverID)
	op, ok := s["operation"].(map[string]any)
	if !ok {
		te.t.Fatalf("server %d has no operation: %v", serverID, s["operation"])
	}
	if pwNum(op["id"]) != taskID || op["status"] != status {
		te.t.Errorf("server %d operation = id %v status %v, want task %d %s: %v", serverID, op["id"], op["status"], taskID, status, op)
	}
	pi, _ := op["progress_info"].([]any)
	if len(pi) != steps {
		te.t.Errorf("server %d operation.progress_info has %d steps, want %d: %v", serverID, len(pi), steps, pi)
	}
	for _, p := range pi {
		m := p.(map[string]any)
		if m["started_at"] == nil || m["finished_at"] == nil {
			te.t.Errorf("server %d progress_info step without times: %v", serverID, m)
		}
	}
	return s
}

// checkIdle checks that nothing is left running for the server: no active
// task, and the River job of every given task finished.
func (te *taskEnv) checkIdle(serverID int64, taskIDs ...int64) {
	te.t.Helper()
	q := "/api/dci/v3/task?where=server+EQ+" + itoa(serverID) + "+AND+(status+EQ+'running'+OR+status+EQ+'created')"
	if r := te.must(http.StatusOK, "GET", q, te.admin, nil); pwNum(r.Body["size"]) != 0 {
		te.t.Errorf("server %d still has active tasks: %s", serverID, r.Raw)
	}
	for _, id := range taskIDs {
		tk, err := te.db.Tasks().GetTask(context.Background(), id)
		if err != nil {
			te.t.Fatal(err)
		}
		if tk.JobID == nil {
			te.t.Errorf("task %d has no job", id)
			continue
		}
		var state string
		deadline := time.Now().Add(20 * time.Second)
		for {
			if err := te.db.SQL().QueryRow("SELECT state FROM river_job WHERE id = " + strconv.FormatInt(*tk.JobID, 10)).Scan(&state); err != nil {
				te.t.Fatal(err)
			}
			if state == "completed" || state == "cancelled" || state == "discarded" {
				break
			}
			if time.Now().After(deadline) {
				te.t.Errorf("task %d (%s): its River job is still %s", id, tk.Status, state)
				break
			}
			time.Sleep(30 * time.Millisecond)
		}
	}
}

// ---- peers: UDP BMCs that drop or delay ----

// ---- tests ----

var pwInterfaces = []struct {
	name, typ, tool string
}{
	{"lanplus", server.IPMILanplus, "lanplus"},
	{"lan", server.IPMIv15, "lan"},
}

func pwTool(t *testing.T, sim *ipmisim.Sim, intf string, want string) {
	t.Helper()
	out, err := sim.IPMIToolVia(intf, "chassis", "power", "status")
	if err != nil {
		t.Fatalf("ipmitool: %v", err)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("ipmitool chassis power status = %q, want %q", strings.TrimSpace(out), want)
	}
}

// TestPowerTasksOnIPMISim: power_on, power_reset and power_off of a
// server whose BMC is ipmi_sim, over lanplus and IPMI v1.5, by its owner.
func TestPowerTasksOnIPMISim(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		root := newTaskEnv(t, db, taskOpts{})
		for _, intf := range pwInterfaces {
			t.Run(intf.name, func(t *testing.T) {
				t.Parallel()
				te := root.forT(t)
				sim := ipmisim.Start(t, ipmisim.Options{})
				email := "owner-" + intf.name + "@example.com"
				user, uid := te.newUser(email)
				mine := te.server("mine-"+intf.name, uid)
				theirs := te.server("theirs-"+intf.name, 0)
				te.simBMC(mine, sim, sim.Port, intf.typ)

				pwTool(t, sim, intf.tool, "Chassis Power is off")
				steps := func(action string) []string { return []string{action + "=ok", "record state=ok"} }
				var tasks []int64
				for _, step := range []struct {
					action, tool, state string
					resets              int
				}{
					{"power_on", "Chassis Power is on", "on", 0},
					{"power_reset", "Chassis Power is on", "on", 1},
					{"power_off", "Chassis Power is off", "off", 1},
				} {
					id := te.power(user, mine, step.action, nil)
					tasks = append(tasks, id)
					tk := te.waitEnd(id, task.Complete)
					te.checkSteps(tk, steps(step.action)...)
					if pwNum(tk["progress"]) != 100 || pwNum(tk["attempt"]) != 1 || tk["name"] != step.action ||
						pwNum(tk["server"]) != mine || tk["error"] != "" {
						t.Errorf("%s task: %v", step.action, tk)
					}
					if res, _ := tk["result"].(map[string]any); res["power_status"] != step.state {
						t.Errorf("%s task result = %v, want power_status %s", step.action, tk["result"], step.state)
					}
					// ipmitool, independently of our driver, sees the state.
					pwTool(t, sim, intf.tool, step.tool)
					if got := sim.Resets(); got != step.resets {
						t.Errorf("after %s the BMC did %d hard resets, want %d", step.action, got, step.resets)
					}
					s := te.checkOperation(user, mine, id, "ok", 2)
					if s["power_status"] != step.state {
						t.Errorf("after %s power_status = %v, want %s", step.action, s["power_status"], step.state)
					}
					live := te.must(http.StatusOK, "GET", "/api/dci/v3/server/"+itoa(mine)+"/power", user, nil).Body
					if live["power_status"] != step.state || live["status_info"] != "" {
						t.Errorf("GET power after %s = %v", step.action, live)
					}
				}
				// power_on of a server that is on sends no command.
				sim.SetPower(true)
				before := sim.CountCalls("set power")
				te.waitEnd(te.power(user, mine, "power_on", nil), task.Complete)
				if n := sim.CountCalls("set power"); n != before {
					t.Errorf("power_on of a server that is on sent %d power commands", n-before)
				}
				te.checkIdle(mine, tasks...)

				// Another's server is not there for the user; its tasks neither.
				for _, a := range []string{"power_on", "power_off", "power_reset"} {
					r := te.do("POST", "/api/dci/v3/server/"+itoa(theirs)+"/"+a, user, nil)
					if r.Status != http.StatusNotFound {
						t.Errorf("user %s of another's server: status %d, want 404: %s", a, r.Status, r.Raw)
					}
				}
				te.must(http.StatusNotFound, "GET", "/api/dci/v3/server/"+itoa(theirs)+"/power", user, nil)
				// The admin may; a server with no BMC and no outlet fails at once.
				other := te.power(te.admin, theirs, "power_on", nil)
				tk := te.waitEnd(other, task.Fail)
				if pwNum(tk["attempt"]) != 1 || !strings.Contains(fmt.Sprint(tk["status_info"]), "no BMC and no PDU outlet") {
					t.Errorf("power of a server without BMC: %v", tk)
				}
				te.must(http.StatusNotFound, "GET", "/api/dci/v3/task/"+itoa(other), user, nil)
				te.must(http.StatusNotFound, "POST", "/api/dci/v3/task/"+itoa(other)+"/cancel", user, nil)
				mineList := te.must(http.StatusOK, "GET", "/api/dci/v3/task", user, nil).Body
				for _, it := range mineList["list"].([]any) {
					if pwNum(it.(map[string]any)["server"]) != mine {
						t.Errorf("the user's task list shows another server's task: %v", it)
					}
				}
				if n := pwNum(mineList["size"]); n != 4 {
					t.Errorf("the user sees %d tasks, want its 4", n)
				}

				// The audit log: who, what, when, result; admins only.
				te.must(http.StatusForbidden, "GET", "/api/dci/v3/audit", user, nil)
				audit := te.must(http.StatusOK, "GET", "/api/dci/v3/audit?where=object_type+EQ+'server'+AND+object_id+EQ+"+itoa(mine), te.admin, nil).Body
				type entry struct{ action, result string }
				seen := map[entry]int{}
				for _, it := range audit["list"].([]any) {
					a := it.(map[string]any)
					if a["user_email"] != email || pwNum(a["user_id"]) != uid || pwNum(a["task"]) == 0 {
						t.Errorf("audit entry without who or task: %v", a)
					}
					if _, err := time.Parse(time.RFC3339, fmt.Sprint(a["at"])); err != nil {
						t.Errorf("audit entry time %v: %v", a["at"], err)
					}
					seen[entry{fmt.Sprint(a["action"]), fmt.Sprint(a["result"])}]++
				}
				for _, a := range []string{"power_reset", "power_off"} {
					if seen[entry{a, "queued"}] != 1 || seen[entry{a, "ok"}] != 1 {
						t.Errorf("audit log for %s: %v", a, seen)
					}
				}
				if seen[entry{"power_on", "queued"}] != 2 || seen[entry{"power_on", "ok"}] != 2 {
					t.Errorf("audit log for power_on: %v", seen)
				}
				oa := te.must(http.StatusOK, "GET", "/api/dci/v3/audit?where=task_id+EQ+"+itoa(other)+"&orderby=id+desc", te.admin, nil).Body
				var results []string
				for _, it := range oa["list"].([]any) {
					a := it.(map[string]any)
					results = append(results, fmt.Sprint(a["result"]))
					if a["user_email"] != adminEmail {
						t.Errorf("admin's task audited as %v", a["user_email"])
					}
				}
				if len(results) != 2 || !strings.HasPrefix(results[0], "fail: ") || !strings.Contains(results[0], "no BMC") {
					t.Errorf("audit of the failed task: %q", results)
				}
			})
		}
	})
}

// TestPowerBusyForceAndCancel: one operation per server; power_off with
// force cancels the running one; cancel stops the device calls.
func TestPowerBusyForceAndCancel(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		root := newTaskEnv(t, db, taskOpts{callTimeout: 10 * time.Second})
		t.Run("busy and force", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			sim := ipmisim.Start(t, ipmisim.Options{})
			// Every answer 500ms late: a power_on takes several seconds.
			slow := udpproxy.Start(t, sim.Port, 500*time.Millisecond)
			sid := te.server("busy", 0)
			te.simBMC(sid, sim, slow.Port(), server.IPMILanplus)

			first := te.power(te.admin, sid, "power_on", nil)
			te.waitRunning(first)
			for _, a := range []string{"power_reset", "power_on", "power_off"} {
				r := te.do("POST", "/api/dci/v3/server/"+itoa(sid)+"/"+a, te.admin, nil)
				code, msg := errBody(t, r)
				if r.Status != http.StatusConflict || code != http.StatusConflict {
					t.Fatalf("%s while busy: status %d, want 409: %s", a, r.Status, r.Raw)
				}
				if !strings.Contains(msg, "task "+itoa(first)) || !strings.Contains(msg, "power_on") {
					t.Errorf("409 does not name the running task %d: %q", first, msg)
				}
				if v, _ := r.Body["error"].(map[string]any)["value"].(map[string]any); pwNum(v["task"]) != first {
					t.Errorf("409 value = %v, want task %d", r.Body["error"], first)
				}
			}
			// Only power_off may force.
			r := te.do("POST", "/api/dci/v3/server/"+itoa(sid)+"/power_reset", te.admin, map[string]any{"force": true})
			if r.Status != http.StatusBadRequest {
				t.Errorf("power_reset with force: status %d, want 400: %s", r.Status, r.Raw)
			}
			second := te.power(te.admin, sid, "power_off", map[string]any{"force": true})
			if tk := te.getTask(first); tk["status"] != "canceled" {
				t.Errorf("after a forced power_off the running task is %v, want canceled", tk["status"])
			}
			te.waitEnd(second, task.Complete)
			pwTool(t, sim, "lanplus", "Chassis Power is off")
			tk := te.waitEnd(first, task.Canceled)
			if tk["finished_at"] == nil || tk["status_info"] == "" {
				t.Errorf("canceled task: %v", tk)
			}
			te.checkOperation(te.admin, sid, second, "ok", 2)
			te.checkIdle(sid, first, second)
			var forced bool
			au := te.must(http.StatusOK, "GET", "/api/dci/v3/audit?where=task_id+EQ+"+itoa(first), te.admin, nil).Body
			for _, it := range au["list"].([]any) {
				forced = forced || it.(map[string]any)["action"] == "cancel power_on"
			}
			if !forced {
				t.Errorf("the forced cancel is not in the audit log: %v", au)
			}
		})
		t.Run("cancel", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			bmc := udpproxy.StartSilent(t)
			sid := te.server("cancel", 0)
			te.bmc(sid, bmc.Port(), "admin", "secret", server.IPMILanplus)

			id := te.power(te.admin, sid, "power_on", nil)
			te.waitRunning(id)
			if bmc.Received() == 0 {
				te.waitTask(id, "talking to the BMC", 10*time.Second, func(map[string]any) bool { return bmc.Received() > 0 })
			}
			r := te.must(http.StatusOK, "POST", "/api/dci/v3/task/"+itoa(id)+"/cancel", te.admin, nil)
			if pwNum(r.Body["task"]) != id {
				t.Errorf("cancel answered %s", r.Raw)
			}
			if tk := te.getTask(id); tk["status"] != "canceled" {
				t.Fatalf("after cancel the task is %v", tk["status"])
			}
			// The server is free at once.
			next := te.power(te.admin, sid, "power_off", nil)
			te.must(http.StatusOK, "POST", "/api/dci/v3/task/"+itoa(next)+"/cancel", te.admin, nil)
			r = te.do("POST", "/api/dci/v3/task/"+itoa(id)+"/cancel", te.admin, nil)
			if r.Status != http.StatusConflict {
				t.Errorf("cancel of a canceled task: status %d, want 409: %s", r.Status, r.Raw)
			}
			tk := te.waitEnd(id, task.Canceled)
			te.checkSteps(tk, "power_on=canceled")
			te.waitEnd(next, task.Canceled)
			te.checkOperation(te.admin, sid, next, "canceled", len(te.getTask(next)["steps"].([]any)))
			te.checkIdle(sid, id, next)
			// With both jobs finished, nothing talks to the BMC any more
			// (a running call would resend within its 10s call timeout).
			n := bmc.Received()
			time.Sleep(3 * time.Second)
			if m := bmc.Received(); m != n {
				t.Errorf("the BMC got %d more datagrams after the tasks were canceled", m-n)
			}
		})
	})
}

// TestPowerFaults: each fault ends in the right status with a clear
// status_info, and nothing is left running.
func TestPowerFaults(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		root := newTaskEnv(t, db, taskOpts{})
		var pduID int64
		var pduOnce sync.Once
		var agent *snmppdu.Agent
		// One PDU for the subtests below, outlets 1-8 all on.
		pduAgent := func(te *taskEnv, sid int64, outlet int) *snmppdu.Agent {
			pduOnce.Do(func() { agent = snmppdu.Start(root.t, snmppdu.Options{}) })
			te.pduOutletOnce(sid, agent, &pduID, outlet)
			return agent
		}

		t.Run("silent BMC", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			bmc := udpproxy.StartSilent(t)
			sid := te.server("silent", 0)
			te.bmc(sid, bmc.Port(), "admin", "secret", server.IPMILanplus)
			id := te.power(te.admin, sid, "power_on", nil)
			// The first attempt fails and is retried...
			te.waitTask(id, "retrying", 30*time.Second, func(tk map[string]any) bool {
				if pwFinal(tk) {
					t.Fatalf("task ended before a retry: %v", tk)
				}
				return strings.Contains(fmt.Sprint(tk["status_info"]), "attempt 1 of 2 failed, retrying")
			})
			// ...and the second is final.
			tk := te.waitEnd(id, task.Fail)
			info := fmt.Sprint(tk["status_info"])
			if pwNum(tk["attempt"]) != 2 || !strings.Contains(info, "bmc 127.0.0.1:"+strconv.Itoa(bmc.Port())) ||
				!strings.Contains(info, "no answer from the BMC") || tk["error"] != info {
				t.Errorf("silent BMC: attempt %v, status_info %q, error %q", tk["attempt"], info, tk["error"])
			}
			te.checkSteps(tk, "power_on=fail")
			s := te.checkOperation(te.admin, sid, id, "fail", 1)
			if msg := s["operation"].(map[string]any)["status_info"].(map[string]any)["msg"]; msg != info {
				t.Errorf("operation.status_info.msg = %v, want %q", msg, info)
			}
			te.checkIdle(sid, id)
		})

		t.Run("wrong password", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			sim := ipmisim.Start(t, ipmisim.Options{})
			sid := te.server("badpass", 0)
			te.bmc(sid, sim.Port, sim.User, sim.Password+"x", server.IPMILanplus)
			id := te.power(te.admin, sid, "power_on", nil)
			tk := te.waitEnd(id, task.Fail)
			info := fmt.Sprint(tk["status_info"])
			if pwNum(tk["attempt"]) != 1 || !strings.Contains(info, "wrong user name or password") || strings.Contains(info, sim.Password) {
				t.Errorf("wrong password: attempt %v, status_info %q", tk["attempt"], info)
			}
			te.checkIdle(sid, id)
			pwTool(t, sim, "lanplus", "Chassis Power is off")
		})

		t.Run("slow BMC", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			sim := ipmisim.Start(t, ipmisim.Options{})
			// Answers come 1.5s late; the call timeout is 1s.
			slow := udpproxy.Start(t, sim.Port, 1500*time.Millisecond)
			sid := te.server("slow", 0)
			te.simBMC(sid, sim, slow.Port(), server.IPMILanplus)
			id := te.power(te.admin, sid, "power_on", nil)
			tk := te.waitEnd(id, task.Fail)
			info := fmt.Sprint(tk["status_info"])
			if pwNum(tk["attempt"]) != 2 || !strings.Contains(info, "no answer from the BMC") {
				t.Errorf("slow BMC: attempt %v, status_info %q", tk["attempt"], info)
			}
			te.checkIdle(sid, id)
		})

		t.Run("PDU only", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			sid := te.server("pdu-only", 0)
			a := pduAgent(te, sid, 3)
			for _, step := range []struct{ action, outlet, state string }{
				{"power_off", snmppdu.StateOff, "off"},
				{"power_on", snmppdu.StateOn, "on"},
				{"power_reset", snmppdu.StateOn, "on"},
			} {
				id := te.power(te.admin, sid, step.action, nil)
				tk := te.waitEnd(id, task.Complete)
				te.checkSteps(tk, step.action+"=ok", "record state=ok")
				if got := a.OutletState(3); got != step.outlet {
					t.Errorf("after %s outlet 3 is %s, want %s", step.action, got, step.outlet)
				}
				if v, err := a.SNMPGetInt(snmppdu.OIDrPDUOutletStatusState + ".3"); err != nil || v != map[string]int{"on": 1, "off": 2}[step.state] {
					t.Errorf("after %s snmpget says outlet 3 = %d (%v)", step.action, v, err)
				}
				if s := te.checkOperation(te.admin, sid, id, "ok", 2); s["power_status"] != step.state {
					t.Errorf("after %s power_status = %v", step.action, s["power_status"])
				}
				te.checkIdle(sid, id)
			}
			// The reset went off, then on (through the outlet, not its reboot command).
			var o3 []string
			for _, ev := range a.Events() {
				if strings.HasPrefix(ev, "outlet 3 ") {
					o3 = append(o3, ev)
				}
			}
			if len(o3) != 4 || !strings.HasPrefix(o3[2], "outlet 3 off") || !strings.HasPrefix(o3[3], "outlet 3 on") {
				t.Errorf("outlet 3 events: %q, want off, on, off, on", o3)
			}
		})

		t.Run("dead BMC falls back to the PDU", func(t *testing.T) {
			t.Parallel()
			te := root.forT(t)
			bmc := udpproxy.StartSilent(t)
			sid := te.server("fallback", 0)
			te.bmc(sid, bmc.Port(), "admin", "secret", server.IPMILanplus)
			a := pduAgent(te, sid, 5)
			id := te.power(te.admin, sid, "power_off", nil)
			tk := te.waitEnd(id, task.Complete)
			if pwNum(tk["attempt"]) != 1 || bmc.Received() == 0 {
				t.Errorf("fallback: attempt %v, the BMC got %d datagrams", tk["attempt"], bmc.Received())
			}
			if got := a.OutletState(5); got != snmppdu.StateOff {
				t.Errorf("outlet 5 is %s after power_off through the PDU, want off", got)
			}
			te.checkIdle(sid, id)
			if !strings.Contains(te.logs.tail(100000), "bmc did not answer, using the pdu outlet") {
				t.Errorf("the fallback is not logged")
			}
		})
	})
}

// pduOutletOnce is pduOutlet serialised: subtests share one PDU record.
var pwPDUMu sync.Mutex

func (te *taskEnv) pduOutletOnce(serverID int64, a *snmppdu.Agent, pduID *int64, n int) {
	pwPDUMu.Lock()
	defer pwPDUMu.Unlock()
	te.pduOutlet(serverID, a, pduID, n)
}

// TestPowerPDUStoppedMidTask: the PDU agent stops during a reset's wait;
// the attempt fails as transient, is retried, and completes once the agent
// is back.
func TestPowerPDUStoppedMidTask(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{maxAttempts: 3, pduResetWait: 3 * time.Second})
		a := snmppdu.Start(t, snmppdu.Options{})
		sid := te.server("pdu-stop", 0)
		var pduID int64
		te.pduOutlet(sid, a, &pduID, 2)

		id := te.power(te.admin, sid, "power_reset", nil)
		// Wait for the off half of the reset, then pull the agent.
		deadline := time.Now().Add(30 * time.Second)
		for a.OutletState(2) != snmppdu.StateOff {
			if time.Now().After(deadline) {
				t.Fatalf("outlet 2 never went off: %v", te.getTask(id))
			}
			time.Sleep(20 * time.Millisecond)
		}
		a.Stop()
		tk := te.waitTask(id, "retrying", 30*time.Second, func(tk map[string]any) bool {
			if pwFinal(tk) {
				t.Fatalf("task ended instead of retrying: %v", tk)
			}
			return strings.Contains(fmt.Sprint(tk["status_info"]), "attempt 1 of 3 failed, retrying")
		})
		info := fmt.Sprint(tk["status_info"])
		// The agent went away after the outlet switched off: either the
		// read-back of the off or the on after the wait found it gone.
		if !strings.Contains(info, "pdu 127.0.0.1:"+strconv.Itoa(a.Port)+" outlet 2: power o") {
			t.Errorf("status_info does not say which outlet and what failed: %q", info)
		}
		t.Logf("status_info while retrying: %s", info)
		// The agent comes back on the same port (its outlets all on again).
		back := snmppdu.Start(t, snmppdu.Options{Port: a.Port})
		tk = te.waitEnd(id, task.Complete)
		if n := pwNum(tk["attempt"]); n < 2 {
			t.Errorf("completed in attempt %d, want a retry", n)
		}
		if got := back.OutletState(2); got != snmppdu.StateOn {
			t.Errorf("outlet 2 is %s after the reset, want on", got)
		}
		var o2 []string
		for _, ev := range back.Events() {
			if strings.HasPrefix(ev, "outlet 2 ") {
				o2 = append(o2, ev)
			}
		}
		if len(o2) != 2 || !strings.HasPrefix(o2[0], "outlet 2 off") || !strings.HasPrefix(o2[1], "outlet 2 on") {
			t.Errorf("the retried reset on the restarted agent: %q, want off, on", o2)
		}
		te.checkOperation(te.admin, sid, id, "ok", 2)
		te.checkIdle(sid, id)
	})
}

// TestPowerPoller: one poll cycle fills ipmi.status and
// pdu_connection.power_status; a dead BMC shows unknown with a reason.
func TestPowerPoller(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{})
		on := ipmisim.Start(t, ipmisim.Options{PoweredOn: true})
		off := ipmisim.Start(t, ipmisim.Options{})
		dead := udpproxy.StartSilent(t)
		a := snmppdu.Start(t, snmppdu.Options{Off: []int{2}})
		sOn, sOff, sDead := te.server("poll-on", 0), te.server("poll-off", 0), te.server("poll-dead", 0)
		te.simBMC(sOn, on, on.Port, server.IPMILanplus)
		te.simBMC(sOff, off, off.Port, server.IPMIv15)
		te.bmc(sDead, dead.Port(), "admin", "secret", server.IPMILanplus)
		var pduID int64
		te.pduOutlet(sOn, a, &pduID, 1)
		te.pduOutlet(sOff, a, &pduID, 2)

		before := te.serverObj(te.admin, sOn)
		if ip := before["ipmi"].(map[string]any); ip["status"] != "unknown" {
			t.Errorf("before any poll ipmi.status = %v", ip["status"])
		}
		st, err := te.poller.Poller.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.BMCs != 3 || st.BMCErrors != 1 || st.PDUs != 1 || st.PDUErrors != 0 {
			t.Errorf("poll stats %+v, want 3 BMCs (1 error) and 1 PDU", st)
		}
		for _, c := range []struct {
			id            int64
			ipmi, power   string
			outlet, infoS string
		}{
			{sOn, "on", "on", "up", ""},
			{sOff, "off", "off", "down", ""},
			{sDead, "unknown", "unknown", "", "no answer from the BMC"},
		} {
			s := te.serverObj(te.admin, c.id)
			ip := s["ipmi"].(map[string]any)
			si, _ := ip["status_info"].(map[string]any)
			if ip["status"] != c.ipmi || s["power_status"] != c.power {
				t.Errorf("server %d: ipmi.status %v power_status %v, want %s %s", c.id, ip["status"], s["power_status"], c.ipmi, c.power)
			}
			if c.infoS == "" && len(si) != 0 {
				t.Errorf("server %d: ipmi.status_info = %v, want {}", c.id, si)
			}
			if c.infoS != "" && !strings.Contains(fmt.Sprint(si["msg"]), c.infoS) {
				t.Errorf("server %d: ipmi.status_info = %v, want a reason with %q", c.id, si, c.infoS)
			}
			pc, _ := s["pdu_connection"].(map[string]any)
			if c.outlet != "" && (pc == nil || pc["power_status"] != c.outlet) {
				t.Errorf("server %d: pdu_connection = %v, want power_status %s", c.id, pc, c.outlet)
			}
		}
		// The PDU's port list shows the same.
		ports := te.must(http.StatusOK, "GET", "/api/dci/v3/pdu/"+itoa(pduID)+"/port", te.admin, nil).Body
		for _, p := range ports["list"].([]any) {
			m := p.(map[string]any)
			want := map[string]string{"1": "up", "2": "down"}[fmt.Sprint(m["identity"])]
			if m["power_status"] != want {
				t.Errorf("pdu port %v power_status %v, want %s", m["identity"], m["power_status"], want)
			}
		}
		// The agent stops: every outlet becomes unknown on the next cycle.
		a.Stop()
		if _, err := te.poller.Poller.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if pc := te.serverObj(te.admin, sOn)["pdu_connection"].(map[string]any); pc["power_status"] != "unknown" {
			t.Errorf("with the PDU agent stopped pdu_connection.power_status = %v, want unknown", pc["power_status"])
		}
	})
}

// TestPowerAttemptTimeout: an attempt that outlives tasks.attempt_timeout
// is retried, and the last one fails the task instead of leaving it
// running (River would discard the job and nothing would end the task).
func TestPowerAttemptTimeout(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{callTimeout: 10 * time.Second, attemptTimeout: 2 * time.Second})
		sim := ipmisim.Start(t, ipmisim.Options{})
		// Every answer 600ms late: a power_on needs about 5s, the attempt may take 2s.
		slow := udpproxy.Start(t, sim.Port, 600*time.Millisecond)
		sid := te.server("attempt-timeout", 0)
		te.simBMC(sid, sim, slow.Port(), server.IPMILanplus)
		id := te.power(te.admin, sid, "power_on", nil)
		tk := te.waitEnd(id, task.Fail)
		info := fmt.Sprint(tk["status_info"])
		if pwNum(tk["attempt"]) != 2 || !strings.Contains(info, "timed out") {
			t.Errorf("attempt timeout: attempt %v, status_info %q", tk["attempt"], info)
		}
		te.checkSteps(tk, "power_on=fail")
		te.checkIdle(sid, id)
		// The server is free for the next operation.
		te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(sid)+"/power_off", te.admin, nil)
	})
}

// TestPowerCrashOnLastAttempt: the process running a task dies (kill -9,
// power loss) during the task's last allowed attempt. The next process
// must still finish the task, never leave it running: River counts the
// dead run as an attempt, and on PostgreSQL its rescuer would discard a job
// with no attempts left, with nothing to end the task.
func TestPowerCrashOnLastAttempt(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{maxAttempts: 1, rescueAfter: 2 * time.Second, attemptTimeout: 30 * time.Second, hold: true})
		sim := ipmisim.Start(t, ipmisim.Options{PoweredOn: true})
		sid := te.server("crash", 0)
		te.simBMC(sid, sim, sim.Port, server.IPMILanplus)
		id := te.power(te.admin, sid, "power_reset", nil)

		// What a process killed in the middle of the reset leaves behind:
		// the task running its first step, the River job running in its
		// first attempt (the last one maxAttempts 1 allows), long ago, on a
		// host that is gone.
		ctx := context.Background()
		tk, err := db.Tasks().GetTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now().Add(-3 * time.Hour).UTC()
		tk.Status, tk.Attempt, tk.StartedAt, tk.UpdatedAt = task.Running, 1, &began, began
		tk.Steps = []task.Step{{Name: "power_reset", Status: "running", StartedAt: began}}
		if err := db.Tasks().SaveProgress(ctx, &tk); err != nil {
			t.Fatal(err)
		}
		q := `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', '-3 hours'),
			attempted_by = '["dead-host"]' WHERE id = ` + strconv.FormatInt(*tk.JobID, 10)
		if db.IsPostgres() {
			q = `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '3 hours',
				attempted_by = ARRAY['dead-host'] WHERE id = ` + strconv.FormatInt(*tk.JobID, 10)
		}
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}

		te.restartRunner()
		done := te.waitEnd(id, task.Complete)
		te.checkSteps(done, "power_reset=ok", "record state=ok")
		if sim.Resets() != 1 {
			t.Errorf("the BMC saw %d resets, want the one of the new run", sim.Resets())
		}
		te.checkIdle(sid, id)
		te.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(sid)+"/power_off", te.admin, nil)
	})
}
