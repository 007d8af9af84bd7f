// Command fleetpower benchmarks a power_reset of a whole fleet: 200
// simulated BMCs (internal/lab/bmcsim, lanplus, on 127.0.0.1) reset at
// once by dcimd, against the same 200 resets done by as many ipmitool
// processes started in parallel, in the same run.
//
// dcimd's side uses the real code paths with their defaults: the IPMI
// driver's Pool (one session per BMC, MaxPerBMC 1, CallTimeout 5s, a fresh
// pool per run so every session is opened inside the timing, as each
// ipmitool process must), power.Service resolving each server's BMC from
// the inventory in a real SQLite database, and:
//
//   - service: power.Service.Do(power_reset) for the 200 servers from 200
//     goroutines: time until every call returned;
//   - service, warm: the same again on the same pool (sessions open);
//   - engine: 200 power_reset tasks submitted at once to the task engine on
//     River with the real SQLite runner: time until every task is complete
//     in the tasks table. With the default tasks.workers (50) and, to show
//     that cap, with as many workers as BMCs.
//
// ipmitool: `ipmitool -I lanplus -C <suite> -H 127.0.0.1 -p <port> -U .. -P ..
// chassis power reset` for each BMC, all started at once (bounded by a
// timeout): time until every process exited; success is exit status 0.
//
// Every BMC starts powered on, so a reset is a hard reset (dcimd's Reset of
// a server that is off is a power on instead). After each run the
// simulators' counters must show exactly one reset per BMC and nothing
// else; the table prints the resets and sessions counted.
//
// Each run is repeated (-rounds, default 3) and the table shows the median.
// It is a benchmark, not a test: a miss (a reset not done, or not counted
// exactly once) is reported as MISS, not fatal.
//
// Run it with `make bench` or `go run ./bench/fleetpower [flags]`.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/ipmi"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
)

type benchConfig struct {
	n        int
	suites   []int
	workers  []int
	timeout  time.Duration
	rounds   int
	ipmitool string
	verbose  bool
}

func main() {
	var c benchConfig
	var suites, workers string
	def := config.Default()
	flag.IntVar(&c.n, "n", 200, "simulated BMCs")
	flag.StringVar(&suites, "suite", "3,17", "lanplus cipher suites to run, comma separated (3 or 17)")
	flag.StringVar(&workers, "workers", fmt.Sprintf("%d,200", def.Tasks.Workers),
		fmt.Sprintf("task engine workers to run with, comma separated (dcimd's default is %d)", def.Tasks.Workers))
	flag.IntVar(&c.rounds, "rounds", 3, "rounds of every run (the table shows the median; the machine may be shared)")
	flag.DurationVar(&c.timeout, "timeout", 2*time.Minute, "wall-clock cap per run (and per ipmitool process)")
	flag.StringVar(&c.ipmitool, "ipmitool", "ipmitool", "ipmitool binary")
	flag.BoolVar(&c.verbose, "v", false, "log dcimd's IPMI driver and engine to stderr")
	flag.Parse()
	for _, s := range strings.Split(suites, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || (n != 3 && n != 17) {
			fmt.Fprintf(os.Stderr, "bad -suite %q: want 3 or 17\n", s)
			os.Exit(2)
		}
		c.suites = append(c.suites, n)
	}
	for _, s := range strings.Split(workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bad -workers %q\n", s)
			os.Exit(2)
		}
		c.workers = append(c.workers, n)
	}
	if c.rounds < 1 {
		c.rounds = 1
	}
	os.Exit(run(c))
}

func run(c benchConfig) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	def := config.Default()
	fmt.Printf("fleet power benchmark: power_reset of %d simulated BMCs (lanplus, 127.0.0.1), MaxPerBMC %d, CallTimeout %v, "+
		"%s, GOMAXPROCS=%d, load average %s\n", c.n, def.Power.MaxPerBMC, def.Power.CallTimeout, runtime.Version(),
		runtime.GOMAXPROCS(0), benchkit.LoadAvg())
	if p, err := exec.LookPath(c.ipmitool); err != nil {
		fmt.Fprintf(os.Stderr, "ipmitool not found (Debian package ipmitool; `make deps`): %v\n", err)
		c.ipmitool = ""
	} else {
		c.ipmitool = p
		out, _ := exec.CommandContext(ctx, p, "-V").CombinedOutput()
		fmt.Printf("%s\n", strings.TrimSpace(string(out)))
	}

	fleet, err := bmcsim.StartFleet(ctx, c.n, bmcsim.Options{PowerOn: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fleet.Close()
	bmcs := fleet.All()

	env, err := newInventory(ctx, bmcs, c.verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.close()

	var results []result
	for _, suite := range c.suites {
		if ctx.Err() != nil {
			break
		}
		if err := env.setSuite(ctx, suite); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for round := 1; round <= c.rounds && ctx.Err() == nil; round++ {
			fmt.Printf("\n== cipher suite %d, round %d of %d\n", suite, round, c.rounds)
			measureSetup := func(name string, setup setupFunc) {
				r := measureRun(ctx, c, fleet, suite, name, setup)
				fmt.Printf("%-46s %6.0f ms  ok %d/%d  resets %d  sessions %d  %s%s\n", r.name, ms(r.elapsed), r.ok, c.n,
					r.delta.Reset, r.delta.Sessions, r.note, errSuffix(r.err))
				results = append(results, r)
			}
			measure := func(name string, fn timedFunc) {
				measureSetup(name, func(context.Context) (timedFunc, func(), error) { return fn, func() {}, nil })
			}

			// dcimd through power.Service, cold then warm sessions.
			pool := env.newPool()
			measure("dcimd power.Service", func(ctx context.Context) (int, string, error) { return env.serviceRun(ctx, pool) })
			measure("dcimd power.Service, sessions open", func(ctx context.Context) (int, string, error) { return env.serviceRun(ctx, pool) })
			pool.Close()

			// dcimd through the task engine on River and SQLite.
			for _, w := range c.workers {
				name := fmt.Sprintf("dcimd power_reset tasks, %d workers", w)
				if w == def.Tasks.Workers {
					name += " (default)"
				}
				measureSetup(name, func(ctx context.Context) (timedFunc, func(), error) { return env.engineSetup(ctx, w) })
			}

			if c.ipmitool != "" {
				measure(fmt.Sprintf("%d ipmitool processes", c.n), func(ctx context.Context) (int, string, error) {
					return ipmitoolRun(ctx, c, bmcs, suite)
				})
			}
		}
	}
	printTable(os.Stdout, c, results)
	// A run that misses (a reset not done or not counted) is a result, shown
	// as MISS; only a benchmark that could not run fails.
	return 0
}

// result is one timed run.
type result struct {
	suite    int
	name     string
	elapsed  time.Duration
	ok       int
	note     string
	delta    bmcsim.Counters // what the fleet counted during the run
	countsOK bool            // exactly one reset per BMC and nothing else
	err      error
	ipmitool bool
}

// setupFunc prepares a run (untimed) and returns the timed part and a
// cleanup.
type setupFunc func(ctx context.Context) (timed timedFunc, cleanup func(), err error)

// timedFunc is a timed run: how many resets reported done, a note for the
// table, and the first errors.
type timedFunc func(ctx context.Context) (ok int, note string, err error)

// measureRun prepares a run, times it and checks the fleet's counters
// around it.
func measureRun(ctx context.Context, c benchConfig, fleet *bmcsim.Fleet, suite int, name string, setup setupFunc) result {
	fn, cleanup, err := setup(ctx)
	if err != nil {
		return result{suite: suite, name: name, err: fmt.Errorf("setup: %w", err)}
	}
	defer cleanup()
	bmcs := fleet.All()
	before := make([]bmcsim.Counters, len(bmcs))
	for i, b := range bmcs {
		before[i] = b.Counters()
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	t0 := time.Now()
	ok, note, err := fn(rctx)
	r := result{suite: suite, name: name, elapsed: time.Since(t0), ok: ok, note: note, err: err, countsOK: true,
		ipmitool: strings.Contains(name, "ipmitool")}
	for i, b := range bmcs {
		d := sub(b.Counters(), before[i])
		r.delta = add(r.delta, d)
		if d.Reset != 1 || d.PowerOn != 0 || d.PowerOff != 0 || d.Cycle != 0 || d.SetBoot != 0 {
			r.countsOK = false
		}
		if !b.Power() {
			r.countsOK = false
		}
	}
	if err == nil && ok != c.n {
		r.err = fmt.Errorf("%d of %d resets reported done", ok, c.n)
	}
	if !r.countsOK && r.err == nil {
		r.err = fmt.Errorf("the BMCs counted %+v, want one reset on each of %d and nothing else", r.delta, c.n)
	}
	return r
}

func sub(a, b bmcsim.Counters) bmcsim.Counters {
	return bmcsim.Counters{PowerOn: a.PowerOn - b.PowerOn, PowerOff: a.PowerOff - b.PowerOff, Reset: a.Reset - b.Reset,
		Cycle: a.Cycle - b.Cycle, SetBoot: a.SetBoot - b.SetBoot, Sessions: a.Sessions - b.Sessions}
}

func add(a, b bmcsim.Counters) bmcsim.Counters {
	return bmcsim.Counters{PowerOn: a.PowerOn + b.PowerOn, PowerOff: a.PowerOff + b.PowerOff, Reset: a.Reset + b.Reset,
		Cycle: a.Cycle + b.Cycle, SetBoot: a.SetBoot + b.SetBoot, Sessions: a.Sessions + b.Sessions}
}

// ---------------------------------------------------------------------------
// dcimd

// inventory is an SQLite database holding one server per simulated BMC.
type inventory struct {
	dir     string
	db      *store.DB
	inv     *server.Service
	servers []int64
	bmcIDs  []int64
	log     *slog.Logger
	cfg     config.PowerConfig
}

func newInventory(ctx context.Context, bmcs []*bmcsim.BMC, verbose bool) (_ *inventory, err error) {
	dir, err := os.MkdirTemp("", "dcimd-bench-fleet-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	def := config.Default()
	db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(dir, "dcimd.db"), MaxOpenConns: def.DB.MaxOpenConns,
		BusyTimeout: def.DB.SQLiteBusyTimeout, Box: box, Log: log})
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	e := &inventory{dir: dir, db: db, inv: server.NewService(db.Inventory()), log: log, cfg: def.Power}
	for i, b := range bmcs {
		s := server.Server{Name: fmt.Sprintf("sim%03d", i+1), State: server.StateOK, PowerStatus: "unknown"}
		if err := e.inv.Servers.Create(ctx, &s); err != nil {
			e.close()
			return nil, err
		}
		rec := server.BMC{ServerID: &s.ID, Address: b.Host(), Port: b.Port(), Username: b.User(), Password: secret.String(b.Password()),
			Type: server.IPMILanplus, Privilege: "administrator", Status: "online"}
		if err := rec.Validate(); err != nil {
			e.close()
			return nil, err
		}
		if err := e.inv.BMCs.Create(ctx, &rec); err != nil {
			e.close()
			return nil, err
		}
		e.servers = append(e.servers, s.ID)
		e.bmcIDs = append(e.bmcIDs, rec.ID)
	}
	return e, nil
}

func (e *inventory) close() {
	e.db.Close()
	os.RemoveAll(e.dir)
}

// setSuite records the cipher suite in every BMC record (dcimd tries the
// record's suite first, then power.cipher_suites).
func (e *inventory) setSuite(ctx context.Context, suite int) error {
	for _, id := range e.bmcIDs {
		b, err := e.inv.BMCs.Get(ctx, id)
		if err != nil {
			return err
		}
		b.CipherSuite = suite
		if err := e.inv.BMCs.Update(ctx, &b); err != nil {
			return err
		}
	}
	return nil
}

func (e *inventory) newPool() *ipmi.Pool {
	return ipmi.NewPool(ipmi.PoolOptions{MaxPerBMC: e.cfg.MaxPerBMC, Log: e.log})
}

// resolver finds a server's BMC in the inventory as dcimd's app does
// (internal/app/power.go: the server's view, its BMC record, the power
// config), without PDUs.
type resolver struct {
	inv  *server.Service
	pool *ipmi.Pool
	cfg  config.PowerConfig
}

func (r *resolver) Paths(ctx context.Context, serverID int64) (power.Paths, error) {
	v, err := r.inv.GetView(ctx, server.Scope{}, serverID)
	if err != nil {
		return power.Paths{}, err
	}
	var p power.Paths
	if v.BMC != nil {
		b, err := r.inv.BMCs.Get(ctx, v.BMC.ID)
		if err != nil {
			return p, err
		}
		iface := ipmi.InterfaceLanplus
		if b.Type == server.IPMIv15 {
			iface = ipmi.InterfaceLan
		}
		suites := r.cfg.CipherSuites
		if b.Type == server.IPMILanplus && b.CipherSuite != 0 && b.CipherSuite != suites[0] {
			suites = append([]int{b.CipherSuite}, suites...)
		}
		bmc := r.pool.BMC(ipmi.Config{Address: b.Address, Port: b.Port, Username: b.Username, Password: b.Password,
			Interface: iface, CipherSuites: suites, Privilege: b.Privilege, CallTimeout: r.cfg.CallTimeout})
		p.BMC, p.Boot = bmc, bmc
	}
	return p, nil
}

func (e *inventory) service(pool *ipmi.Pool) *power.Service {
	return power.NewService(&resolver{inv: e.inv, pool: pool, cfg: e.cfg},
		power.Options{FallbackToPDU: e.cfg.FallbackToPDU, PDUResetWait: e.cfg.PDUResetWait, Log: e.log})
}

// serviceRun resets every server through power.Service from one goroutine
// each, and returns how many succeeded with the server on.
func (e *inventory) serviceRun(ctx context.Context, pool *ipmi.Pool) (int, string, error) {
	svc := e.service(pool)
	var ok atomic.Int64
	errs := make([]error, len(e.servers))
	var wg sync.WaitGroup
	for i, id := range e.servers {
		wg.Go(func() {
			st, err := svc.Do(ctx, id, power.ActionReset)
			switch {
			case err != nil:
				errs[i] = err
			case st != power.On:
				errs[i] = fmt.Errorf("server %d is %s after the reset", id, st)
			default:
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return int(ok.Load()), "", firstErrs(errs)
}

// engineSetup starts a fresh engine and runner on the SQLite database (as
// a running dcimd has them); the timed part submits a power_reset task per
// server at once and waits for them all.
func (e *inventory) engineSetup(ctx context.Context, workers int) (timedFunc, func(), error) {
	def := config.Default()
	pool := e.newPool()
	rec := newRecorder(e.db.Tasks(), int64(len(e.servers)))
	eng := task.New(rec, e.db.Tasks(), e.log, nil)
	ops.RegisterPower(eng, e.service(pool), e.db.Views(), ops.PowerOptions{StepTimeout: e.cfg.StepTimeout, MaxAttempts: def.Tasks.MaxAttempts})
	ws := river.NewWorkers()
	river.AddWorker(ws, eng.NewWorker(def.Tasks.AttemptTimeout))
	runner, err := e.db.NewRunner(ctx, store.RunnerOptions{Workers: ws, MaxWorkers: workers,
		FetchPoll: def.Tasks.PollInterval, RescueAfter: def.Tasks.RescueAfter, Log: e.log})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	eng.SetQueue(runner)
	// River's context: its services stop with Stop, not with ctx.
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		runner.Stop(context.Background()) //nolint:errcheck
		pool.Close()
		return nil, nil, err
	}
	cleanup := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := runner.Stop(sctx); err != nil {
			fmt.Fprintf(os.Stderr, "stop runner: %v\n", err)
		}
		pool.Close()
	}
	return func(ctx context.Context) (int, string, error) { return e.submitAll(ctx, eng, rec) }, cleanup, nil
}

// submitAll submits a power_reset per server at once and waits for them.
func (e *inventory) submitAll(ctx context.Context, eng *task.Engine, rec *recorder) (int, string, error) {
	t0 := time.Now()
	errs := make([]error, len(e.servers))
	var wg sync.WaitGroup
	for i, id := range e.servers {
		wg.Go(func() {
			if _, err := eng.Submit(ctx, task.Request{Kind: string(power.ActionReset), ServerID: &id}); err != nil {
				errs[i] = fmt.Errorf("submit for server %d: %w", id, err)
			}
		})
	}
	wg.Wait()
	note := fmt.Sprintf("all submitted after %.0f ms", ms(time.Since(t0)))
	if err := firstErrs(errs); err != nil {
		return 0, note, err
	}
	select {
	case <-rec.all:
	case <-ctx.Done():
		return int(rec.complete.Load()), note, fmt.Errorf("%d complete, %d failed when the time ran out: %w",
			rec.complete.Load(), rec.failed.Load(), ctx.Err())
	}
	if n := rec.failed.Load(); n > 0 {
		return int(rec.complete.Load()), note, fmt.Errorf("%d tasks failed, first: %s", n, rec.firstFail())
	}
	return int(rec.complete.Load()), note, nil
}

// recorder wraps the task store and closes all when every expected task
// has ended (complete or failed).
type recorder struct {
	task.Store
	want     int64
	complete atomic.Int64
	failed   atomic.Int64
	all      chan struct{}
	once     sync.Once
	mu       sync.Mutex
	fail     string
}

func newRecorder(s task.Store, want int64) *recorder {
	return &recorder{Store: s, want: want, all: make(chan struct{})}
}

// SaveProgress implements task.Store.
func (r *recorder) SaveProgress(ctx context.Context, t *task.Task) error {
	err := r.Store.SaveProgress(ctx, t)
	if err != nil {
		return err
	}
	switch t.Status {
	case task.Complete:
		if st, _ := t.Result["power_status"].(string); st != string(power.On) {
			r.noteFail(fmt.Sprintf("task %d: server is %q after the reset", t.ID, st))
			r.failed.Add(1)
		} else {
			r.complete.Add(1)
		}
	case task.Fail:
		r.noteFail(fmt.Sprintf("task %d: %s", t.ID, t.StatusInfo))
		r.failed.Add(1)
	default:
		return nil
	}
	if r.complete.Load()+r.failed.Load() >= r.want {
		r.once.Do(func() { close(r.all) })
	}
	return nil
}

func (r *recorder) noteFail(s string) {
	r.mu.Lock()
	if r.fail == "" {
		r.fail = s
	}
	r.mu.Unlock()
}

func (r *recorder) firstFail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fail
}

// ---------------------------------------------------------------------------
// ipmitool

// ipmitoolRun starts one `chassis power reset` per BMC, all at once, and
// waits for every process (each bounded by the run's context).
func ipmitoolRun(ctx context.Context, c benchConfig, bmcs []*bmcsim.BMC, suite int) (int, string, error) {
	var ok atomic.Int64
	errs := make([]error, len(bmcs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, b := range bmcs {
		cmd := exec.CommandContext(ctx, c.ipmitool, "-I", "lanplus", "-C", strconv.Itoa(suite), "-H", b.Host(),
			"-p", strconv.Itoa(b.Port()), "-U", b.User(), "-P", b.Password(), "chassis", "power", "reset")
		cmd.WaitDelay = 5 * time.Second
		wg.Go(func() {
			<-start
			out, err := cmd.CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("ipmitool on port %d: %w: %s", b.Port(), err, strings.TrimSpace(string(out)))
				return
			}
			ok.Add(1)
		})
	}
	close(start)
	wg.Wait()
	return int(ok.Load()), "", firstErrs(errs)
}

// ---------------------------------------------------------------------------
// Output

// printTable shows, per suite and run, the median over the rounds and
// the ratio of the ipmitool median to it.
func printTable(w io.Writer, c benchConfig, rs []result) {
	type key struct {
		suite int
		name  string
	}
	var order []key
	byKey := map[key][]result{}
	for _, r := range rs {
		k := key{r.suite, r.name}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	median := func(rs []result) time.Duration {
		ds := make([]time.Duration, 0, len(rs))
		for _, r := range rs {
			ds = append(ds, r.elapsed)
		}
		slices.Sort(ds)
		return ds[(len(ds)-1)/2]
	}
	fmt.Fprintf(w, "\n== results (%d BMCs, %d rounds; load average %s)\n", c.n, c.rounds, benchkit.LoadAvg())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "suite\trun\tmedian ms\tmin ms\tmax ms\tdone ok per round\tresets counted per round\tsessions per round\tipmitool / this\tresult\t")
	for _, k := range order {
		group := byKey[k]
		verdict := "ok"
		var oks, resets, sessions []string
		lo, hi := group[0].elapsed, group[0].elapsed
		for _, r := range group {
			if r.err != nil || !r.countsOK {
				verdict = "MISS"
			}
			oks = append(oks, strconv.Itoa(r.ok))
			resets = append(resets, strconv.FormatInt(r.delta.Reset, 10))
			sessions = append(sessions, strconv.FormatInt(r.delta.Sessions, 10))
			lo, hi = min(lo, r.elapsed), max(hi, r.elapsed)
		}
		ratio := "-"
		var tool []result
		for _, kk := range order {
			if kk.suite == k.suite && byKey[kk][0].ipmitool {
				tool = byKey[kk]
			}
		}
		if tool != nil && !group[0].ipmitool {
			ratio = fmt.Sprintf("%.1f", float64(median(tool))/float64(median(group)))
		}
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", k.suite, k.name, ms(median(group)), ms(lo), ms(hi),
			strings.Join(oks, " "), strings.Join(resets, " "), strings.Join(sessions, " "), ratio, verdict)
	}
	tw.Flush()
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(w, "MISS suite %d, %s (%.0f ms): %v\n", r.suite, r.name, ms(r.elapsed), r.err)
		}
	}
	fmt.Fprint(w, `
"resets counted" come from the simulated BMCs: each run must count exactly one
hard reset on every BMC and no other chassis command. dcimd's Reset reads the
power state, sends the reset and reads the state back (until it is on);
ipmitool sends the reset only. dcimd opens one session per BMC and keeps it
(the "sessions open" row reuses them); each ipmitool process opens its own.
`)
}

// ---------------------------------------------------------------------------
// Helpers

// firstErrs joins the first three errors and counts the rest.
func firstErrs(errs []error) error {
	var got []error
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
			if len(got) < 3 {
				got = append(got, err)
			}
		}
	}
	if n > len(got) {
		got = append(got, fmt.Errorf("and %d more", n-len(got)))
	}
	return errors.Join(got...)
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ReplaceAll(err.Error(), "\n", "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return "  ERROR: " + s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
