package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netboot/httpboot"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// httpboot's handler talks to the store through this interface.
var _ httpboot.Events = (*store.BootTokens)(nil)

func (f *fx) task(name string, serverID int64) int64 {
	now := time.Now().UTC()
	return f.insertID(`INSERT INTO tasks (name, server_id, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id`,
		name, serverID, now, now)
}

// TestBootTokenLifecycle: a token takes any number of started and
// progress reports, one final report, and nothing after it; only its hash
// is stored; events read back per server and per task, oldest first.
func TestBootTokenLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		bt := db.BootTokens()
		srv := f.server("boot-1")
		taskID := f.task("install", srv.ID)
		tok, err := bt.IssueToken(f.ctx, srv.ID, &taskID, "install", time.Hour)
		f.must(err, "issue")
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(tok) {
			t.Fatalf("token %q is not 43 URL-safe characters", tok)
		}
		var stored []string
		rows, err := db.SQL().QueryContext(f.ctx, `SELECT token_hash FROM boot_tokens`)
		f.must(err, "read hashes")
		for rows.Next() {
			var h string
			f.must(rows.Scan(&h), "scan")
			stored = append(stored, h)
		}
		rows.Close()
		sum := sha256.Sum256([]byte(tok))
		if len(stored) != 1 || stored[0] != hex.EncodeToString(sum[:]) {
			t.Fatalf("stored %v, want only the SHA-256 of the token", stored)
		}

		at := time.Now().UTC().Truncate(time.Microsecond)
		pct := func(n int) *int { return &n }
		reports := []httpboot.Event{
			{Status: httpboot.StatusStarted, Message: "installer up", At: at, RemoteAddr: "198.18.0.150"},
			{Status: httpboot.StatusProgress, Percent: pct(0), Message: "partitioning ✓", At: at.Add(time.Second)},
			{Status: httpboot.StatusProgress, Percent: pct(55), Log: "line 1\nline\x00 2\xff", At: at.Add(2 * time.Second)},
			{Status: httpboot.StatusSuccess, Percent: pct(100), Log: strings.Repeat("l", 1<<20), At: at.Add(3 * time.Second)},
		}
		for i, ev := range reports {
			f.must(bt.Report(f.ctx, tok, ev), "report "+string(ev.Status))
			if i == 0 {
				// A second token of the same server keeps its own life.
				other, err := bt.IssueToken(f.ctx, srv.ID, nil, "diag", time.Hour)
				f.must(err, "issue second")
				f.must(bt.Report(f.ctx, other, httpboot.Event{Status: httpboot.StatusFail, At: at}), "report on second")
			}
		}
		for _, st := range []httpboot.Status{httpboot.StatusProgress, httpboot.StatusSuccess, httpboot.StatusFail} {
			if err := bt.Report(f.ctx, tok, httpboot.Event{Status: st, At: at.Add(4 * time.Second)}); !errors.Is(err, httpboot.ErrTokenSpent) {
				t.Fatalf("%s after success: %v, want ErrTokenSpent", st, err)
			}
		}

		evs, err := bt.Events(f.ctx, store.BootEventQuery{TaskID: taskID})
		f.must(err, "events of the task")
		if len(evs) != len(reports) {
			t.Fatalf("%d events of the task, want %d", len(evs), len(reports))
		}
		for i, e := range evs {
			want := reports[i]
			if e.ServerID != srv.ID || e.TaskID == nil || *e.TaskID != taskID || e.Purpose != "install" || e.Status != want.Status ||
				!e.At.Equal(want.At) || (e.Percent == nil) != (want.Percent == nil) || e.Percent != nil && *e.Percent != *want.Percent {
				t.Errorf("event %d: %+v, want %+v", i, e, want)
			}
		}
		if evs[0].Message != "installer up" || evs[0].RemoteAddr != "198.18.0.150" || evs[1].Message != "partitioning ✓" {
			t.Errorf("texts %q %q %q", evs[0].Message, evs[0].RemoteAddr, evs[1].Message)
		}
		if evs[2].Log != "line 1\nline 2\uFFFD" || len(evs[3].Log) != 1<<20 {
			t.Errorf("logs %q and %d bytes", evs[2].Log, len(evs[3].Log))
		}
		all, err := bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID})
		f.must(err, "events of the server")
		if len(all) != len(reports)+1 || all[1].Purpose != "diag" || all[1].TaskID != nil || all[1].Status != httpboot.StatusFail {
			t.Fatalf("server events %d, second %+v", len(all), all[1])
		}
		newest, err := bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID, Limit: 2})
		f.must(err, "newest events")
		if len(newest) != 2 || newest[0].ID != all[3].ID || newest[1].ID != all[4].ID {
			t.Fatalf("newest two %+v", newest)
		}
		if _, err := bt.Events(f.ctx, store.BootEventQuery{}); !errors.Is(err, fault.ErrInvalid) {
			t.Fatalf("events without a server or task: %v", err)
		}
	})
}

// TestBootTokenRefusals: unknown and expired tokens, bad arguments and a
// missing server store nothing.
func TestBootTokenRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		bt := db.BootTokens()
		srv := f.server("boot-2")
		tok, err := bt.IssueToken(f.ctx, srv.ID, nil, "install", time.Hour)
		f.must(err, "issue")
		now := time.Now().UTC()
		if err := bt.Report(f.ctx, tok+"x", httpboot.Event{Status: httpboot.StatusStarted, At: now}); !errors.Is(err, httpboot.ErrUnknownToken) {
			t.Fatalf("unknown token: %v", err)
		}
		if err := bt.Report(f.ctx, tok, httpboot.Event{Status: httpboot.StatusStarted, At: now.Add(time.Hour)}); !errors.Is(err, httpboot.ErrTokenSpent) {
			t.Fatalf("expired token: %v", err)
		}
		if err := bt.Report(f.ctx, tok, httpboot.Event{Status: "done", At: now}); !errors.Is(err, fault.ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
		bad := 101
		if err := bt.Report(f.ctx, tok, httpboot.Event{Status: httpboot.StatusProgress, Percent: &bad, At: now}); !errors.Is(err, fault.ErrInvalid) {
			t.Fatalf("bad percent: %v", err)
		}
		if evs, err := bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID}); err != nil || len(evs) != 0 {
			t.Fatalf("events after refusals: %v %v", evs, err)
		}
		// Still alive: the refusals did not spend it. A zero At is now.
		f.must(bt.Report(f.ctx, tok, httpboot.Event{Status: httpboot.StatusFail}), "fail")
		if evs, _ := bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID}); len(evs) != 1 || time.Since(evs[0].At) > time.Minute {
			t.Fatalf("events %+v", evs)
		}
		if _, err := bt.IssueToken(f.ctx, srv.ID+1000, nil, "install", time.Hour); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("missing server: %v", err)
		}
		if _, err := bt.IssueToken(f.ctx, srv.ID, nil, "install", 0); !errors.Is(err, fault.ErrInvalid) {
			t.Fatalf("zero ttl: %v", err)
		}
		a, _ := bt.IssueToken(f.ctx, srv.ID, nil, "x", time.Minute)
		b, _ := bt.IssueToken(f.ctx, srv.ID, nil, "x", time.Minute)
		if a == b || a == "" {
			t.Fatalf("tokens %q %q", a, b)
		}
	})
}

// TestBootTokenFinalRace: of many final reports at once, one wins.
func TestBootTokenFinalRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		bt := db.BootTokens()
		srv := f.server("boot-race")
		tok, err := bt.IssueToken(f.ctx, srv.ID, nil, "install", time.Hour)
		f.must(err, "issue")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				st := httpboot.StatusSuccess
				if i%2 == 1 {
					st = httpboot.StatusFail
				}
				errs[i] = bt.Report(f.ctx, tok, httpboot.Event{Status: st})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, httpboot.ErrTokenSpent):
				t.Errorf("racing report: %v", err)
			}
		}
		evs, err := bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID})
		f.must(err, "events")
		if won != 1 || len(evs) != 1 {
			t.Fatalf("%d reports won, %d events; want 1 and 1", won, len(evs))
		}
	})
}

// TestBootTokenDeletes: pruning expired tokens keeps their events, a
// deleted task leaves its events without a task, and a deleted server
// takes its tokens and events along.
func TestBootTokenDeletes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		bt := db.BootTokens()
		srv := f.server("boot-3")
		taskID := f.task("install", srv.ID)
		old, err := bt.IssueToken(f.ctx, srv.ID, &taskID, "install", time.Minute)
		f.must(err, "issue old")
		f.must(bt.Report(f.ctx, old, httpboot.Event{Status: httpboot.StatusStarted}), "report old")
		live, err := bt.IssueToken(f.ctx, srv.ID, nil, "install", 48*time.Hour)
		f.must(err, "issue live")

		n, err := bt.PruneTokens(f.ctx, time.Now().Add(time.Hour))
		f.must(err, "prune")
		if n != 1 {
			t.Fatalf("pruned %d tokens, want 1", n)
		}
		if err := bt.Report(f.ctx, old, httpboot.Event{Status: httpboot.StatusProgress}); !errors.Is(err, httpboot.ErrUnknownToken) {
			t.Fatalf("pruned token: %v", err)
		}
		f.must(bt.Report(f.ctx, live, httpboot.Event{Status: httpboot.StatusProgress}), "live token after the prune")
		evs, err := bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID, TaskID: taskID})
		f.must(err, "events")
		if len(evs) != 1 || evs[0].Status != httpboot.StatusStarted {
			t.Fatalf("events of the pruned token %+v", evs)
		}

		_, err = db.SQL().ExecContext(f.ctx, rebind(db, `DELETE FROM tasks WHERE id = ?`), taskID)
		f.must(err, "delete task")
		evs, err = bt.Events(f.ctx, store.BootEventQuery{ServerID: srv.ID})
		f.must(err, "events after the task went")
		if len(evs) != 2 || evs[0].TaskID != nil {
			t.Fatalf("events after the task went %+v", evs)
		}

		_, err = db.SQL().ExecContext(f.ctx, rebind(db, `DELETE FROM servers WHERE id = ?`), srv.ID)
		f.must(err, "delete server")
		var left int
		f.must(db.SQL().QueryRowContext(f.ctx, `SELECT (SELECT COUNT(*) FROM boot_tokens) + (SELECT COUNT(*) FROM boot_events)`).Scan(&left), "count")
		if left != 0 {
			t.Fatalf("%d token and event rows outlive their server", left)
		}
	})
}
