package task_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

type rig struct {
	db     *store.DB
	eng    *task.Engine
	server int64
}

func newRig(t *testing.T, db *store.DB, kinds ...task.Kind) *rig {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := task.New(db.Tasks(), db.Tasks(), log, nil)
	for _, k := range kinds {
		eng.Register(k)
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, eng.NewWorker(30*time.Second))
	r, err := db.NewRunner(ctx, store.RunnerOptions{Workers: ws, FetchPoll: 20 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetQueue(r)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(sctx)
	})
	srv := server.Server{Name: "s1", State: server.StateOK, PowerStatus: "unknown"}
	if err := db.Inventory().Servers.Create(ctx, &srv); err != nil {
		t.Fatal(err)
	}
	return &rig{db: db, eng: eng, server: srv.ID}
}

// wait polls the task until it ends (bounded).
func (r *rig) wait(t *testing.T, id int64) task.Task {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		tk, err := r.db.Tasks().GetTask(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status.Final() {
			return tk
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("task %d did not end", id)
	return task.Task{}
}

func TestEngine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		var flaky atomic.Int32
		release := make(chan struct{})
		r := newRig(t, db,
			task.Kind{Name: "two_steps", Exclusive: true, Steps: 2, Run: func(ctx context.Context, run *task.Run) error {
				if err := run.Step(ctx, "first", time.Second, func(context.Context) error { return nil }); err != nil {
					return err
				}
				return run.Step(ctx, "second", time.Second, func(context.Context) error { return nil })
			}},
			task.Kind{Name: "flaky", Exclusive: true, MaxAttempts: 3, Run: func(ctx context.Context, run *task.Run) error {
				return run.Step(ctx, "try", time.Second, func(context.Context) error {
					if flaky.Add(1) < 2 {
						return &power.DeviceError{Device: "bmc", Op: "power on", Transient: true, Msg: "no answer"}
					}
					return nil
				})
			}},
			task.Kind{Name: "denied", Exclusive: true, Run: func(ctx context.Context, run *task.Run) error {
				return run.Step(ctx, "login", time.Second, func(context.Context) error {
					return &power.DeviceError{Device: "bmc 10.0.0.1:623", Op: "open session", Msg: "wrong user name or password"}
				})
			}},
			task.Kind{Name: "blocker", Exclusive: true, Run: func(ctx context.Context, run *task.Run) error {
				return run.Step(ctx, "hold", 10*time.Second, func(ctx context.Context) error {
					select {
					case <-release:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
			}},
		)
		ctx := context.Background()
		sid := r.server

		tk, err := r.eng.Submit(ctx, task.Request{Kind: "two_steps", ServerID: &sid})
		if err != nil {
			t.Fatal(err)
		}
		done := r.wait(t, tk.ID)
		if done.Status != task.Complete || done.Progress != 100 || len(done.Steps) != 2 || done.Steps[1].FinishedAt == nil {
			t.Fatalf("two_steps ended %+v", done)
		}

		tk, _ = r.eng.Submit(ctx, task.Request{Kind: "flaky", ServerID: &sid})
		if done = r.wait(t, tk.ID); done.Status != task.Complete || done.Attempt != 2 {
			t.Fatalf("flaky: status %s attempt %d", done.Status, done.Attempt)
		}

		tk, _ = r.eng.Submit(ctx, task.Request{Kind: "denied", ServerID: &sid})
		if done = r.wait(t, tk.ID); done.Status != task.Fail || done.Error == "" || done.Attempt != 1 {
			t.Fatalf("denied: %+v", done)
		}

		blk, err := r.eng.Submit(ctx, task.Request{Kind: "blocker", ServerID: &sid})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.eng.Submit(ctx, task.Request{Kind: "two_steps", ServerID: &sid})
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.KindBusy {
			t.Fatalf("second operation on a busy server: %v", err)
		}
		if _, err := r.eng.Cancel(ctx, blk.ID, nil, ""); err != nil {
			t.Fatal(err)
		}
		if done = r.wait(t, blk.ID); done.Status != task.Canceled {
			t.Fatalf("canceled task is %s", done.Status)
		}
		// The server is free again at once.
		tk, err = r.eng.Submit(ctx, task.Request{Kind: "two_steps", ServerID: &sid})
		if err != nil {
			t.Fatalf("after cancel: %v", err)
		}
		r.wait(t, tk.ID)
		close(release)
		audit, n, err := r.db.Tasks().ListAudit(ctx, listAll())
		if err != nil || n == 0 || len(audit) == 0 {
			t.Fatalf("audit log: %d entries, %v", n, err)
		}
	})
}

func TestPruneKeepsRunningTasks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		hold := make(chan struct{})
		r := newRig(t, db,
			task.Kind{Name: "quick", Run: func(ctx context.Context, run *task.Run) error { return nil }},
			task.Kind{Name: "hold", Exclusive: true, Run: func(ctx context.Context, run *task.Run) error {
				return run.Step(ctx, "hold", 20*time.Second, func(ctx context.Context) error {
					select {
					case <-hold:
					case <-ctx.Done():
					}
					return nil
				})
			}})
		ctx := context.Background()
		done, err := r.eng.Submit(ctx, task.Request{Kind: "quick"})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, done.ID)
		sid := r.server
		running, err := r.eng.Submit(ctx, task.Request{Kind: "hold", ServerID: &sid})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			tk, _ := db.Tasks().GetTask(ctx, running.ID)
			if tk.Status == task.Running {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		// A negative age puts the cutoff in the future: every finished task is old enough.
		n, err := r.eng.Prune(ctx, -time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want the one finished task", n, err)
		}
		if _, err := db.Tasks().GetTask(ctx, done.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("finished task still there: %v", err)
		}
		if tk, err := db.Tasks().GetTask(ctx, running.ID); err != nil || tk.Status.Final() {
			t.Fatalf("running task pruned or ended: %+v %v", tk, err)
		}
		close(hold)
		r.wait(t, running.ID)
	})
}

func TestFailOrphans(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		hold := make(chan struct{})
		r := newRig(t, db, task.Kind{Name: "hold", Exclusive: true, Run: func(ctx context.Context, run *task.Run) error {
			return run.Step(ctx, "hold", 20*time.Second, func(ctx context.Context) error {
				select {
				case <-hold:
				case <-ctx.Done():
				}
				return nil
			})
		}})
		ctx := context.Background()
		sid := r.server
		live, err := r.eng.Submit(ctx, task.Request{Kind: "hold", ServerID: &sid})
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour).UTC()
		// An orphan: running, no job behind it (its job was discarded and cleaned).
		if _, err := db.SQL().ExecContext(ctx, rebind(db, `INSERT INTO tasks (name, exclusive, status, created_at, updated_at)
			VALUES ('hold', false, 'running', ?, ?)`), old, old); err != nil {
			t.Fatal(err)
		}
		// The live task looks idle too, but its job still runs: it must stay.
		if _, err := db.SQL().ExecContext(ctx, rebind(db, `UPDATE tasks SET updated_at = ? WHERE id = ?`), old, live.ID); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) { // the live task's job must be fetched first
			tk, _ := db.Tasks().GetTask(ctx, live.ID)
			if tk.Status == task.Running {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := db.SQL().ExecContext(ctx, rebind(db, `UPDATE tasks SET updated_at = ? WHERE id = ?`), old, live.ID); err != nil {
			t.Fatal(err)
		}
		n, err := r.eng.FailOrphans(ctx)
		if err != nil || n != 1 {
			t.Fatalf("FailOrphans = %d, %v; want 1", n, err)
		}
		if tk, _ := db.Tasks().GetTask(ctx, live.ID); tk.Status.Final() {
			t.Fatalf("a task whose job runs was failed: %+v", tk)
		}
		close(hold)
		if done := r.wait(t, live.ID); done.Status != task.Complete {
			t.Fatalf("live task ended %s", done.Status)
		}
	})
}

// TestFailedHook: a kind's Failed hook runs once for each task that ends
// without success (its own failure, a cancel, the orphan sweep) and never
// for a success.
func TestFailedHook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		got := map[int64]task.Status{}
		calls := 0
		hook := func(_ context.Context, tk task.Task) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			got[tk.ID] = tk.Status
		}
		release := make(chan struct{})
		defer close(release)
		r := newRig(t, db,
			task.Kind{Name: "ok", Failed: hook, Run: func(ctx context.Context, run *task.Run) error { return nil }},
			task.Kind{Name: "bad", Failed: hook, Run: func(ctx context.Context, run *task.Run) error {
				return run.Step(ctx, "refuse", time.Second, func(context.Context) error {
					return &power.DeviceError{Device: "x", Op: "y", Msg: "refused"}
				})
			}},
			task.Kind{Name: "hold", Failed: hook, Run: func(ctx context.Context, run *task.Run) error {
				return run.Step(ctx, "hold", 10*time.Second, func(ctx context.Context) error {
					select {
					case <-release:
					case <-ctx.Done():
					}
					return ctx.Err()
				})
			}},
		)
		ctx := context.Background()
		okT, _ := r.eng.Submit(ctx, task.Request{Kind: "ok"})
		badT, _ := r.eng.Submit(ctx, task.Request{Kind: "bad"})
		holdT, _ := r.eng.Submit(ctx, task.Request{Kind: "hold"})
		r.wait(t, okT.ID)
		r.wait(t, badT.ID)
		if _, err := r.eng.Cancel(ctx, holdT.ID, nil, ""); err != nil {
			t.Fatal(err)
		}
		r.wait(t, holdT.ID)
		old := time.Now().Add(-time.Hour).UTC()
		var orphan int64
		if err := db.SQL().QueryRowContext(ctx, rebind(db, `INSERT INTO tasks (name, exclusive, status, created_at, updated_at)
			VALUES ('hold', false, 'running', ?, ?) RETURNING id`), old, old).Scan(&orphan); err != nil {
			t.Fatal(err)
		}
		if _, err := r.eng.FailOrphans(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := map[int64]task.Status{badT.ID: task.Fail, holdT.ID: task.Canceled, orphan: task.Fail}
		for id, st := range want {
			if got[id] != st {
				t.Errorf("task %d: hook saw %q, want %q (all: %v)", id, got[id], st, got)
			}
		}
		if calls != len(want) {
			t.Errorf("hook ran %d times, want %d: %v", calls, len(want), got)
		}
	})
}

// TestDone: work done within a request is recorded as a complete task,
// with its steps, audit entry and no job; an unknown kind is refused.
func TestDone(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, task.Kind{Name: "quick", Run: func(ctx context.Context, run *task.Run) error { return nil }})
		ctx := context.Background()
		sid := r.server
		tk, err := r.eng.Done(ctx, task.Request{Kind: "quick", ServerID: &sid, Params: map[string]any{"x": 1}}, "one", "two")
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Tasks().GetTask(ctx, tk.ID)
		if err != nil || got.Status != task.Complete || got.Progress != 100 || len(got.Steps) != 2 || got.JobID != nil ||
			got.FinishedAt == nil || got.Steps[1].Name != "two" || got.Params["x"] != float64(1) {
			t.Fatalf("done task %+v %v", got, err)
		}
		if _, running, _ := r.eng.ActiveTask(ctx, sid); running {
			t.Fatal("a done task counts as running")
		}
		if _, err := r.eng.Done(ctx, task.Request{Kind: "nope"}); err == nil {
			t.Fatal("unknown kind accepted")
		}
	})
}
