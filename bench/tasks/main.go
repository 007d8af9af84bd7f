// Command tasks benchmarks dcimd's durable task engine (internal/task on
// River, through the real store.Runner) on SQLite and on PostgreSQL.
//
// For each database and each River fetch poll interval it starts a fresh
// database, an engine with a one-step no-op task kind and the power tasks
// (power_on over an instant, in-memory BMC), and measures:
//
//   - throughput: 2,000 no-op tasks submitted by a few concurrent
//     submitters; the time from the first submission until every task is
//     complete in the tasks table, as tasks/s;
//   - latency, engine: 200 sequential Engine.Submit calls, each waiting for
//     its task to complete before the next; from the call to the task's
//     start (its started_at being written) and to its completion (the
//     complete status committed). Once back to back, once with a random
//     pause of 100-400 ms before each (an idle system, submissions falling
//     at random points of River's fetch cycle);
//   - latency, HTTP: the same through POST /api/dci/v3/server/{id}/power_on
//     on the real API (127.0.0.1), the power task running its two steps
//     against the instant BMC.
//
// Start and completion are taken in-process where the engine writes them
// (a thin wrapper around the task store), so no polling skews the figures.
// It prints a table and a note on what bounds the figures. It is a
// benchmark, not a test: nothing here has a target, and a failed case is
// reported, not fatal for the others.
//
// Run it with `make bench` or `go run ./bench/tasks [flags]`. The
// PostgreSQL cluster is a throwaway one (internal/testutil/pgtest), stopped
// at the end, also on error or interrupt.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/api"
	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

const (
	adminEmail = "admin@example.com"
	adminPass  = "bench-admin-password-1"
	noopKind   = "bench_noop"
)

type benchConfig struct {
	tasks      int
	submitters int
	seq        int
	gap        time.Duration
	jitter     time.Duration
	polls      []time.Duration
	dialects   []string
	budget     time.Duration
	taskWait   time.Duration
	httpCase   bool
	verbose    bool
	pgURL      string
}

func main() {
	var c benchConfig
	var dialects, polls string
	flag.IntVar(&c.tasks, "tasks", 2000, "no-op tasks in the throughput run")
	flag.IntVar(&c.submitters, "submitters", 8, "concurrent submitters in the throughput run")
	flag.IntVar(&c.seq, "seq", 200, "sequential submissions per latency case")
	flag.DurationVar(&c.gap, "gap", 100*time.Millisecond, "least pause between submissions in the idle latency case")
	flag.DurationVar(&c.jitter, "jitter", 300*time.Millisecond, "random extra pause (uniform) in the idle latency case, so submissions fall at random points of River's fetch cycle")
	flag.StringVar(&polls, "poll", "50ms,200ms", "River fetch poll intervals to try, comma separated (dcimd's default is 200ms)")
	flag.StringVar(&dialects, "db", "sqlite,postgres", "databases to run on, comma separated")
	flag.DurationVar(&c.budget, "budget", 3*time.Minute, "wall-clock cap per case (the case stops and reports what it has)")
	flag.DurationVar(&c.taskWait, "task-wait", 30*time.Second, "longest wait for one task in the latency cases")
	flag.BoolVar(&c.httpCase, "http", true, "also time POST .../power_on through the real API")
	flag.StringVar(&c.pgURL, "pg-url", "", "use this PostgreSQL database (shared by the poll cases) instead of a throwaway cluster")
	flag.BoolVar(&c.verbose, "v", false, "log River and the engine to stderr at debug level")
	flag.Parse()
	for _, d := range strings.Split(dialects, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.dialects = append(c.dialects, d)
		}
	}
	for _, p := range strings.Split(polls, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		d, err := time.ParseDuration(p)
		if err != nil || d < 10*time.Millisecond {
			fmt.Fprintf(os.Stderr, "bad -poll %q: want durations of at least 10ms\n", p)
			os.Exit(2)
		}
		c.polls = append(c.polls, d)
	}
	os.Exit(run(c))
}

func run(c benchConfig) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	def := config.Default()
	fmt.Printf("task engine benchmark: %d no-op tasks (%d submitters), %d sequential submissions per latency case, "+
		"River workers %d, %s, GOMAXPROCS=%d, load average %s\n",
		c.tasks, c.submitters, c.seq, def.Tasks.Workers, runtime.Version(), runtime.GOMAXPROCS(0), benchkit.LoadAvg())
	var results []result
	failed := false
	for _, d := range c.dialects {
		rs, err := runDialect(ctx, c, d)
		results = append(results, rs...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", d, err)
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	printTable(os.Stdout, c, results)
	if failed {
		return 1
	}
	return 0
}

// result is one database and poll interval.
type result struct {
	dialect string
	poll    time.Duration
	err     error

	// throughput
	n          int           // tasks complete
	submitDur  time.Duration // all submissions
	total      time.Duration // first submission to last completion
	submitMed  time.Duration // one Submit call, median
	inDBOK     bool          // the tasks table agrees
	throughput float64

	lat []latency // back to back, idle, HTTP
}

// latency is one sequential case.
type latency struct {
	name              string
	n                 int
	call              time.Duration // median duration of the Submit or POST call
	startMed, startP  time.Duration
	doneMed, doneP    time.Duration
	startMax, doneMax time.Duration
}

// runDialect runs every poll interval on one database.
func runDialect(ctx context.Context, c benchConfig, dialect string) (_ []result, err error) {
	fmt.Printf("\n== %s\n", dialect)
	var newDB func(ctx context.Context) (url, path string, cleanup func(), err error)
	switch dialect {
	case "sqlite":
		newDB = func(context.Context) (string, string, func(), error) {
			dir, err := os.MkdirTemp("", "dcimd-bench-tasks-")
			if err != nil {
				return "", "", nil, err
			}
			return "", filepath.Join(dir, "dcimd.db"), func() { os.RemoveAll(dir) }, nil
		}
	case "postgres":
		if c.pgURL != "" {
			newDB = func(context.Context) (string, string, func(), error) { return c.pgURL, "", func() {}, nil }
			break
		}
		if ok, why := pgtest.Available(); !ok {
			return nil, fmt.Errorf("PostgreSQL is not available: %s", why)
		}
		t0 := time.Now()
		cl, err := pgtest.Start()
		if err != nil {
			return nil, err
		}
		defer func() {
			if serr := cl.Stop(); serr != nil {
				err = errors.Join(err, fmt.Errorf("stop cluster: %w", serr))
			}
		}()
		fmt.Printf("cluster started in %v\n", time.Since(t0).Round(time.Millisecond))
		newDB = func(ctx context.Context) (string, string, func(), error) {
			u, err := cl.NewDatabase(ctx)
			return u, "", func() {}, err
		}
	default:
		return nil, fmt.Errorf("unknown database %q (want sqlite or postgres)", dialect)
	}
	var out []result
	var errs []error
	for _, poll := range c.polls {
		if ctx.Err() != nil {
			break
		}
		u, path, cleanup, err := newDB(ctx)
		if err != nil {
			return out, err
		}
		r := runCase(ctx, c, dialect, poll, u, path)
		cleanup()
		if r.err != nil {
			fmt.Printf("poll %v: %v\n", poll, r.err)
			errs = append(errs, fmt.Errorf("poll %v: %w", poll, r.err))
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// rig is one database with a running engine.
type rig struct {
	db     *store.DB
	eng    *task.Engine
	rec    *recorder
	runner *store.Runner
	psvc   *power.Service
	quiet  *slog.Logger
}

func runCase(ctx context.Context, c benchConfig, dialect string, poll time.Duration, dbURL, sqlitePath string) (res result) {
	res = result{dialect: dialect, poll: poll}
	fmt.Printf("-- fetch poll %v\n", poll)
	rg, stop, err := newRig(ctx, poll, dbURL, sqlitePath, c.verbose)
	if err != nil {
		res.err = err
		return res
	}
	defer stop()

	// Warm up: connections, statement caches, River's leader and producer.
	for range 5 {
		if _, _, _, err := rg.submitAndWait(ctx, c.taskWait); err != nil {
			res.err = fmt.Errorf("warm-up: %w", err)
			return res
		}
	}

	if res.err = throughput(ctx, c, rg, &res); res.err != nil {
		return res
	}
	fmt.Printf("throughput: %d tasks in %v (submitted in %v, Submit median %.2f ms): %.0f tasks/s\n",
		res.n, res.total.Round(time.Millisecond), res.submitDur.Round(time.Millisecond), ms(res.submitMed), res.throughput)

	for _, k := range []struct {
		name        string
		gap, jitter time.Duration
	}{
		{"Submit, back to back", 0, 0},
		{fmt.Sprintf("Submit, idle (%v-%v apart)", c.gap, c.gap+c.jitter), c.gap, c.jitter},
	} {
		l, err := sequential(ctx, c, k.name, k.gap, k.jitter, func(ctx context.Context) (time.Duration, time.Duration, time.Duration, error) {
			return rg.submitAndWait(ctx, c.taskWait)
		})
		res.lat = append(res.lat, l)
		if err != nil {
			res.err = err
			return res
		}
	}
	if c.httpCase {
		l, err := httpLatency(ctx, c, rg)
		res.lat = append(res.lat, l)
		if err != nil {
			res.err = err
			return res
		}
	}
	return res
}

// newRig opens and migrates the database and starts the engine on River
// as dcimd does (config defaults but the poll interval).
func newRig(ctx context.Context, poll time.Duration, dbURL, sqlitePath string, verbose bool) (*rig, func(), error) {
	def := config.Default()
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		return nil, nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	if verbose {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	db, err := store.Open(ctx, store.Options{URL: dbURL, SQLitePath: sqlitePath, MaxOpenConns: def.DB.MaxOpenConns,
		BusyTimeout: def.DB.SQLiteBusyTimeout, Box: box, Log: quiet})
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	rec := newRecorder(db.Tasks())
	eng := task.New(rec, db.Tasks(), quiet, nil)
	eng.Register(task.Kind{Name: noopKind, Steps: 1, Run: func(ctx context.Context, r *task.Run) error {
		return r.Step(ctx, "noop", time.Second, func(context.Context) error { return nil })
	}})
	psvc := power.NewService(instantResolver{}, power.Options{Log: quiet})
	ops.RegisterPower(eng, psvc, db.Views(), ops.PowerOptions{StepTimeout: def.Power.StepTimeout, MaxAttempts: def.Tasks.MaxAttempts})

	workers := river.NewWorkers()
	river.AddWorker(workers, eng.NewWorker(def.Tasks.AttemptTimeout))
	runner, err := db.NewRunner(ctx, store.RunnerOptions{Workers: workers, MaxWorkers: def.Tasks.Workers, FetchPoll: poll,
		RescueAfter: def.Tasks.RescueAfter, Log: quiet})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	eng.SetQueue(runner)
	if err := runner.Start(ctx); err != nil {
		runner.Stop(context.Background()) //nolint:errcheck
		db.Close()
		return nil, nil, err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := runner.Stop(sctx); err != nil {
			fmt.Fprintf(os.Stderr, "stop runner: %v\n", err)
		}
		db.Close()
	}
	return &rig{db: db, eng: eng, rec: rec, runner: runner, psvc: psvc, quiet: quiet}, stop, nil
}

// submitAndWait submits one no-op task and waits for it: the Submit call's
// duration and the times from the call to the task's start and completion.
func (rg *rig) submitAndWait(ctx context.Context, wait time.Duration) (call, start, done time.Duration, err error) {
	t0 := time.Now()
	t, err := rg.eng.Submit(ctx, task.Request{Kind: noopKind})
	if err != nil {
		return 0, 0, 0, err
	}
	call = time.Since(t0)
	startedAt, doneAt, err := rg.rec.wait(ctx, t.ID, wait)
	if err != nil {
		return 0, 0, 0, err
	}
	return call, startedAt.Sub(t0), doneAt.Sub(t0), nil
}

// throughput submits c.tasks no-op tasks from c.submitters goroutines and
// waits until all are complete (bounded by c.budget).
func throughput(ctx context.Context, c benchConfig, rg *rig, res *result) error {
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()
	base, err := rg.countComplete(ctx)
	if err != nil {
		return err
	}
	all := rg.rec.expect(int64(c.tasks))
	var next atomic.Int64
	calls := make([][]time.Duration, c.submitters)
	errc := make(chan error, c.submitters)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range c.submitters {
		wg.Go(func() {
			for ctx.Err() == nil && next.Add(1) <= int64(c.tasks) {
				s := time.Now()
				if _, err := rg.eng.Submit(ctx, task.Request{Kind: noopKind}); err != nil {
					errc <- err
					cancel()
					return
				}
				calls[w] = append(calls[w], time.Since(s))
			}
		})
	}
	wg.Wait()
	res.submitDur = time.Since(t0)
	close(errc)
	if err := <-errc; err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	select {
	case <-all:
	case <-ctx.Done():
		return fmt.Errorf("throughput: %d of %d tasks complete after %v: %w", rg.rec.count(), c.tasks,
			time.Since(t0).Round(time.Millisecond), ctx.Err())
	}
	res.total = time.Since(t0)
	res.n = c.tasks
	res.submitMed = benchkit.Quantile(slices.Concat(calls...), 0.5)
	res.throughput = float64(c.tasks) / res.total.Seconds()
	after, err := rg.countComplete(ctx)
	if err != nil {
		return err
	}
	res.inDBOK = after-base == int64(c.tasks)
	if !res.inDBOK {
		return fmt.Errorf("the tasks table holds %d more complete tasks, want %d", after-base, c.tasks)
	}
	return nil
}

func (rg *rig) countComplete(ctx context.Context) (int64, error) {
	var n int64
	err := rg.db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM tasks WHERE status = 'complete'`).Scan(&n)
	return n, err
}

// sequential runs fn c.seq times (bounded by c.budget), gap plus a random
// part of jitter apart.
func sequential(ctx context.Context, c benchConfig, name string, gap, jitter time.Duration,
	fn func(ctx context.Context) (call, start, done time.Duration, err error)) (latency, error) {
	l := latency{name: name}
	var calls, starts, dones []time.Duration
	deadline := time.Now().Add(c.budget)
	var err error
	for i := 0; i < c.seq && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		if pause := gap + randDuration(jitter); pause > 0 {
			select {
			case <-time.After(pause):
			case <-ctx.Done():
			}
		}
		var call, start, done time.Duration
		if call, start, done, err = fn(ctx); err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			break
		}
		calls, starts, dones = append(calls, call), append(starts, start), append(dones, done)
	}
	l.n = len(dones)
	l.call = benchkit.Quantile(calls, 0.5)
	l.startMed, l.startP, l.startMax = benchkit.Quantile(starts, 0.5), benchkit.Quantile(starts, 0.95), benchkit.Quantile(starts, 1)
	l.doneMed, l.doneP, l.doneMax = benchkit.Quantile(dones, 0.5), benchkit.Quantile(dones, 0.95), benchkit.Quantile(dones, 1)
	fmt.Printf("%-34s n=%-4d call %6.2f ms  to start median %7.2f p95 %7.2f ms  to complete median %7.2f p95 %7.2f ms\n",
		name, l.n, ms(l.call), ms(l.startMed), ms(l.startP), ms(l.doneMed), ms(l.doneP))
	return l, err
}

// httpLatency times POST /api/dci/v3/server/{id}/power_on on the real API.
func httpLatency(ctx context.Context, c benchConfig, rg *rig) (latency, error) {
	name := "HTTP POST .../power_on"
	as := auth.NewService(rg.db.Auth(), auth.Options{DefaultTTL: time.Hour, FailuresPerAccount: 10, FailuresPerAddress: 1000,
		FailureWindow: 15 * time.Minute, Log: rg.quiet})
	if _, err := as.EnsureAdmin(ctx, adminEmail, adminPass); err != nil {
		return latency{name: name}, err
	}
	srv := server.Server{Name: "bench-power", State: server.StateOK, PowerStatus: "unknown"}
	if err := rg.db.Inventory().Servers.Create(ctx, &srv); err != nil {
		return latency{name: name}, err
	}
	h, err := api.New(api.Deps{Auth: as, Inventory: server.NewService(rg.db.Inventory()), IPs: rg.db.IPs(), DB: rg.db,
		Tasks: rg.eng, TaskReader: rg.db.Tasks(), Power: rg.psvc, Log: rg.quiet})
	if err != nil {
		return latency{name: name}, err
	}
	hs := httptest.NewServer(h) // 127.0.0.1, a free port
	defer hs.Close()
	cl := &client{benchkit.Client{Base: hs.URL, HC: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2},
		Timeout: 30 * time.Second}}}
	defer cl.HC.CloseIdleConnections()
	if err := cl.Login(ctx, adminEmail, adminPass); err != nil {
		return latency{name: name}, err
	}
	path := fmt.Sprintf("/api/dci/v3/server/%d/power_on", srv.ID)
	post := func(ctx context.Context) (time.Duration, time.Duration, time.Duration, error) {
		t0 := time.Now()
		id, err := cl.postTask(ctx, path)
		if err != nil {
			return 0, 0, 0, err
		}
		call := time.Since(t0)
		startedAt, doneAt, err := rg.rec.wait(ctx, id, c.taskWait)
		if err != nil {
			return 0, 0, 0, err
		}
		return call, startedAt.Sub(t0), doneAt.Sub(t0), nil
	}
	for range 5 { // warm up
		if _, _, _, err := post(ctx); err != nil {
			return latency{name: name}, fmt.Errorf("warm-up: %w", err)
		}
	}
	return sequential(ctx, c, name+", back to back", 0, 0, post)
}

// instantResolver gives every server an in-memory BMC that answers at once.
type instantResolver struct{}

func (instantResolver) Paths(context.Context, int64) (power.Paths, error) {
	return power.Paths{BMC: &instantBMC{}}, nil
}

type instantBMC struct{ on atomic.Bool }

func (b *instantBMC) State(context.Context) (power.State, error) {
	if b.on.Load() {
		return power.On, nil
	}
	return power.Off, nil
}
func (b *instantBMC) On(context.Context) error    { b.on.Store(true); return nil }
func (b *instantBMC) Off(context.Context) error   { b.on.Store(false); return nil }
func (b *instantBMC) Reset(context.Context) error { b.on.Store(true); return nil }

// ---------------------------------------------------------------------------
// recorder: when the engine writes a task's start and completion

// recorder wraps the task store and notes, by the monotonic clock, when the
// engine saves a task as started (the save that writes started_at) and when
// its complete status is committed.
type recorder struct {
	task.Store

	mu      sync.Mutex
	started map[int64]time.Time
	doneAt  map[int64]time.Time
	waiters map[int64]chan struct{}
	n       int64         // completions since expect
	target  int64         // close all when n reaches it
	all     chan struct{} // nil when nobody waits
}

func newRecorder(s task.Store) *recorder {
	return &recorder{Store: s, started: map[int64]time.Time{}, doneAt: map[int64]time.Time{}, waiters: map[int64]chan struct{}{}}
}

// SaveProgress implements task.Store.
func (r *recorder) SaveProgress(ctx context.Context, t *task.Task) error {
	if t.Status == task.Running && len(t.Steps) == 0 { // work() saving started_at
		now := time.Now()
		r.mu.Lock()
		if _, ok := r.started[t.ID]; !ok {
			r.started[t.ID] = now
		}
		r.mu.Unlock()
	}
	err := r.Store.SaveProgress(ctx, t)
	if err == nil && t.Status == task.Complete {
		now := time.Now()
		r.mu.Lock()
		if _, ok := r.doneAt[t.ID]; !ok {
			r.doneAt[t.ID] = now
			r.n++
			if r.all != nil && r.n == r.target {
				close(r.all)
				r.all = nil
			}
			if ch, ok := r.waiters[t.ID]; ok {
				close(ch)
				delete(r.waiters, t.ID)
			}
		}
		r.mu.Unlock()
	}
	return err
}

// expect resets the completion count; the channel closes after n more.
func (r *recorder) expect(n int64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n, r.target, r.all = 0, n, make(chan struct{})
	return r.all
}

func (r *recorder) count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// wait returns when task id started and completed, waiting at most d.
func (r *recorder) wait(ctx context.Context, id int64, d time.Duration) (started, done time.Time, err error) {
	r.mu.Lock()
	ch := make(chan struct{})
	if _, ok := r.doneAt[id]; ok {
		close(ch)
	} else {
		r.waiters[id] = ch
	}
	r.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(d):
		r.mu.Lock()
		delete(r.waiters, id)
		r.mu.Unlock()
		return started, done, fmt.Errorf("task %d did not complete within %v", id, d)
	case <-ctx.Done():
		return started, done, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	started, ok := r.started[id]
	if !ok {
		return started, done, fmt.Errorf("task %d completed without a recorded start", id)
	}
	return started, r.doneAt[id], nil
}

// ---------------------------------------------------------------------------
// HTTP client

// client is the shared API client plus this program's calls.
type client struct{ benchkit.Client }

// postTask POSTs {} to path and returns the task id of the answer.
func (c *client) postTask(ctx context.Context, path string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+path, strings.NewReader("{}"))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-xsrf-token", c.Token)
	res, err := c.HC.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST %s: status %d: %.300s", path, res.StatusCode, raw)
	}
	var v struct {
		Task int64 `json:"task"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Task == 0 {
		return 0, fmt.Errorf("POST %s: no task in %.300s", path, raw)
	}
	return v.Task, nil
}

// ---------------------------------------------------------------------------
// Output

func printTable(w io.Writer, c benchConfig, rs []result) {
	fmt.Fprintf(w, "\n== throughput (%d no-op tasks, %d submitters, %d River workers; load average %s)\n",
		c.tasks, c.submitters, config.Default().Tasks.Workers, benchkit.LoadAvg())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tfetch poll\ttasks\tsubmitted in\tSubmit median ms\tall complete in\ttasks/s\t")
	for _, r := range rs {
		if r.n == 0 {
			fmt.Fprintf(tw, "%s\t%v\t-\t-\t-\t-\tfailed\t\n", r.dialect, r.poll)
			continue
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%v\t%.2f\t%v\t%.0f\t\n", r.dialect, r.poll, r.n, r.submitDur.Round(time.Millisecond),
			ms(r.submitMed), r.total.Round(time.Millisecond), r.throughput)
	}
	tw.Flush()

	fmt.Fprintf(w, "\n== latency (%d sequential submissions per row; times from the call, ms)\n", c.seq)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tfetch poll\tcase\tn\tcall median\tto start median\tp95\tmax\tto complete median\tp95\tmax\t")
	for _, r := range rs {
		for _, l := range r.lat {
			fmt.Fprintf(tw, "%s\t%v\t%s\t%d\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", r.dialect, r.poll, l.name, l.n,
				ms(l.call), ms(l.startMed), ms(l.startP), ms(l.startMax), ms(l.doneMed), ms(l.doneP), ms(l.doneMax))
		}
	}
	tw.Flush()
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(w, "FAILED %s, poll %v: %v\n", r.dialect, r.poll, r.err)
		}
	}
	fmt.Fprint(w, `
What bounds these figures (River v0.51; dcimd sets FetchCooldown = min(poll, 100ms)):
  - A task starts when River's producer fetches it. Inserting the job sends
    an insert notification that wakes the producer: a real NOTIFY on
    PostgreSQL, and on SQLite riversqlite's emulation (a notification table
    its listener polls every 50 ms), so SQLite is not poll-only. The fetch
    poll interval is only the fallback.
  - River sends at most one insert notification per FetchCooldown per
    queue, and fetches at most once per FetchCooldown. Back to back, each
    task is submitted within the cooldown of the previous one, so it waits
    for the next fetch, about one FetchCooldown later (50 ms at a 50 ms
    poll, 100 ms at 200 ms), on both databases.
  - Idle (submissions well apart): PostgreSQL starts the task as soon as the
    NOTIFY arrives, unless a fetch ran within the last FetchCooldown;
    SQLite adds the listener's 0-50 ms poll.
  - Throughput: per task, 7 writes of ours (the task row and its job in one
    transaction, 4 progress saves, 2 audit rows) plus River's fetch and
    batched completion. On SQLite every write takes the one database lock,
    and River's own pool (which the enqueue transaction uses) has a single
    connection, so concurrent Submit calls queue there.
`)
}

// ---------------------------------------------------------------------------
// Helpers

func randDuration(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
