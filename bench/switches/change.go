package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/lab/switchsim"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/task"
)

// changeRun is one suspend or resume of every server.
type changeRun struct {
	dialect, path, op string
	servers           int
	elapsed           time.Duration // until every server is in the wanted state (tasks) or every call returned (service)
	complete          time.Duration // until every task ended (tasks)
	submitted         time.Duration // until every submission returned (tasks)
	ok                int           // servers done
	delta             switchsim.Stats
	simBad            int      // simulated ports not as they must be afterwards
	mismatch          []string // what differs, in the simulators and in the database
	cpu               benchkit.CPUUse
	err               error
}

func (r changeRun) verified() bool { return r.err == nil && r.ok == r.servers && len(r.mismatch) == 0 }

// perChange is the wall time per port changed (amortized over the run).
func (r changeRun) perChange() time.Duration {
	if r.delta.PortChanges == 0 {
		return 0
	}
	return r.elapsed / time.Duration(r.delta.PortChanges)
}

// reqPerChange is SNMP requests received per port that changed.
func reqPerChange(d switchsim.Stats) float64 {
	if d.PortChanges == 0 {
		return 0
	}
	return float64(d.Requests) / float64(d.PortChanges)
}

// changeFunc does the timed part of a run and returns the servers done
// and, for tasks, the submission and completion times.
type changeFunc func(ctx context.Context, up bool) (ok int, elapsed, submitted, complete time.Duration, err error)

// measureChange runs fn for a suspend (up false) or resume (up true),
// bounded by timeout, and checks the simulators and the database after.
func (rg *rig) measureChange(ctx context.Context, f *fleet, path string, up bool, timeout time.Duration, fn changeFunc) changeRun {
	r := changeRun{dialect: rg.dialect, path: path, op: "suspend", servers: len(rg.serverIDs)}
	if up {
		r.op = "resume"
	}
	before := f.stats()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	cpu := benchkit.SampleCPU()
	r.ok, r.elapsed, r.submitted, r.complete, r.err = fn(rctx, up)
	r.cpu = cpu.Since()
	cancel()
	r.delta = subStats(f.stats(), before)
	var first []string
	r.simBad, first = f.check(up)
	for _, s := range first {
		r.mismatch = append(r.mismatch, "simulator: "+s)
	}
	if r.simBad > len(first) {
		r.mismatch = append(r.mismatch, fmt.Sprintf("simulator: and %d more ports", r.simBad-len(first)))
	}
	state := server.StateOK // the service alone does not change server states
	if path != pathService && path != pathService50 && !up {
		state = server.StateSuspended
	}
	for _, s := range rg.dbCheck(ctx, state, up) {
		r.mismatch = append(r.mismatch, "database: "+s)
	}
	// One ifAdminStatus SET per data port and none anywhere else: with
	// the states checked above, no IPMI port was written to.
	if r.delta.PortChanges != int64(r.servers) || r.delta.PortSets != int64(r.servers) {
		r.mismatch = append(r.mismatch, fmt.Sprintf("simulator: %d ifAdminStatus SETs, %d port changes counted, want one of each per server (%d)",
			r.delta.PortSets, r.delta.PortChanges, r.servers))
	}
	return r
}

// Paths through dcimd.
const (
	pathService   = "netsw.Service, all at once"
	pathService50 = "netsw.Service, 50 at a time"
	pathEngine    = "tasks via Engine.Submit"
	pathHTTP      = "tasks via HTTP API"
)

// serviceRun plans and sets every server's ports through netsw.Service,
// limit servers at a time (0: all at once), as the task's steps do
// without the engine.
func (rg *rig) serviceRun(limit int) changeFunc {
	return func(ctx context.Context, up bool) (int, time.Duration, time.Duration, time.Duration, error) {
		if limit <= 0 {
			limit = len(rg.serverIDs)
		}
		sem := make(chan struct{}, limit)
		var ok atomic.Int64
		errs := make([]error, len(rg.serverIDs))
		var wg sync.WaitGroup
		t0 := time.Now()
		for i, id := range rg.serverIDs {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				plan, err := rg.nsvc.Plan(ctx, id)
				if err != nil {
					errs[i] = fmt.Errorf("plan server %d: %w", id, err)
					return
				}
				for _, g := range plan {
					if err := rg.nsvc.SetPorts(ctx, g, up); err != nil {
						errs[i] = fmt.Errorf("server %d: %w", id, err)
						return
					}
				}
				ok.Add(1)
			})
		}
		wg.Wait()
		return int(ok.Load()), time.Since(t0), 0, 0, firstErrs(errs)
	}
}

// taskRun submits a suspend or resume task per server at once, through
// Engine.Submit or through POST /api/dci/v3/server/{id}/suspend|resume
// (conns connections), and waits until every server is in the wanted
// state and every task ended.
func (rg *rig) taskRun(viaHTTP bool, conns int) changeFunc {
	return func(ctx context.Context, up bool) (int, time.Duration, time.Duration, time.Duration, error) {
		kind, state, verb := ops.KindSuspend, server.StateSuspended, "suspend"
		if up {
			kind, state, verb = ops.KindResume, server.StateOK, "resume"
		}
		n := len(rg.serverIDs)
		allState := rg.states.expect(state, n)
		allEnded := rg.rec.expect(n)
		var cl interface {
			Do(ctx context.Context, method, path string, body []byte) (int, []byte, error)
		}
		if viaHTTP {
			c := rg.httpClient(conns)
			defer c.HC.CloseIdleConnections()
			cl = c
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		t0 := time.Now()
		for i, id := range rg.serverIDs {
			wg.Go(func() {
				if !viaHTTP {
					if _, err := rg.eng.Submit(ctx, task.Request{Kind: kind, ServerID: &id, Params: map[string]any{"noop": false}}); err != nil {
						errs[i] = fmt.Errorf("submit %s of server %d: %w", kind, id, err)
					}
					return
				}
				path := fmt.Sprintf("/api/dci/v3/server/%d/%s", id, verb)
				code, body, err := cl.Do(ctx, http.MethodPost, path, []byte("{}"))
				var v struct{ ID, Task int64 }
				switch {
				case err != nil:
					errs[i] = fmt.Errorf("POST %s: %w", path, err)
				case code != http.StatusOK:
					errs[i] = fmt.Errorf("POST %s: status %d: %.300s", path, code, body)
				case json.Unmarshal(body, &v) != nil || v.ID != id || v.Task == 0:
					errs[i] = fmt.Errorf("POST %s: answer %.300s, want {\"id\":%d,\"task\":...}", path, body, id)
				}
			})
		}
		wg.Wait()
		submitted := time.Since(t0)
		if err := firstErrs(errs); err != nil {
			return 0, time.Since(t0), submitted, 0, err
		}
		var stateAt time.Time
		select {
		case <-allState:
			_, stateAt = rg.states.result()
		case <-ctx.Done():
		}
		select {
		case <-allEnded:
		case <-ctx.Done():
		}
		complete := time.Since(t0)
		reached, _ := rg.states.result()
		done, failed, first := rg.rec.counts()
		var err error
		switch {
		case failed > 0:
			err = fmt.Errorf("%d tasks failed, first: %s", failed, first)
		case done < n || reached < n:
			err = fmt.Errorf("after %v: %d of %d servers %s, %d tasks complete: %w", complete.Round(time.Millisecond),
				reached, n, state, done, ctx.Err())
		}
		elapsed := complete
		if !stateAt.IsZero() {
			elapsed = stateAt.Sub(t0)
		}
		return reached, elapsed, submitted, complete, err
	}
}

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
