package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/task"
)

// Thin wrappers around the stores, noting in-process when the engine and
// the switch service write what the benchmark waits for, so that no
// polling of the database skews the times.

// recorder wraps the task store and counts the tasks that end (complete
// or failed), once each.
type recorder struct {
	task.Store

	mu     sync.Mutex
	ended  map[int64]bool
	done   int
	failed int
	fail   string
	target int
	all    chan struct{}
}

func newRecorder(s task.Store) *recorder { return &recorder{Store: s, ended: map[int64]bool{}} }

// SaveProgress implements task.Store.
func (r *recorder) SaveProgress(ctx context.Context, t *task.Task) error {
	err := r.Store.SaveProgress(ctx, t)
	if err != nil || (t.Status != task.Complete && t.Status != task.Fail && t.Status != task.Canceled) {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended[t.ID] {
		return nil
	}
	r.ended[t.ID] = true
	if t.Status == task.Complete {
		r.done++
	} else {
		r.failed++
		if r.fail == "" {
			r.fail = fmt.Sprintf("task %d (%s) %s: %s %s", t.ID, t.Name, t.Status, t.Error, t.StatusInfo)
		}
	}
	if r.all != nil && r.done+r.failed >= r.target {
		close(r.all)
		r.all = nil
	}
	return nil
}

// expect resets the counts; the channel closes once n more tasks ended.
func (r *recorder) expect(n int) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.failed, r.fail, r.target, r.all = 0, 0, "", n, make(chan struct{})
	return r.all
}

func (r *recorder) counts() (done, failed int, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done, r.failed, r.fail
}

// stateWatch wraps the server state setter the switch tasks use and
// notes when the last of the expected servers reached a state.
type stateWatch struct {
	inner ops.StateSetter

	mu     sync.Mutex
	want   string
	seen   map[int64]bool
	target int
	at     time.Time
	all    chan struct{}
}

// SetState implements ops.StateSetter.
func (w *stateWatch) SetState(ctx context.Context, serverID int64, state, info string) error {
	err := w.inner.SetState(ctx, serverID, state, info)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if state == w.want && !w.seen[serverID] {
		w.seen[serverID] = true
		if w.all != nil && len(w.seen) >= w.target {
			w.at = time.Now()
			close(w.all)
			w.all = nil
		}
	}
	return nil
}

// expect waits for n servers to reach state.
func (w *stateWatch) expect(state string, n int) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want, w.seen, w.target, w.at, w.all = state, map[int64]bool{}, n, time.Time{}, make(chan struct{})
	return w.all
}

func (w *stateWatch) result() (int, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen), w.at
}

// timedStore wraps the switch port store of the poll and notes, per
// switch and cycle, when its poll started (the read of its record, the
// first thing pollSwitch does), when it ended (its traffic samples
// written, the last thing) and how long its calls to the store took.
type timedStore struct {
	netsw.Store
	switchIndex map[int64]int // switch id → switch index; read-only once seeded
	portSwitch  map[int64]int // port id → switch index; read-only once seeded

	mu    sync.Mutex
	cycle map[int]*switchTimes // nil: not timing
}

// switchTimes are one switch's poll in one cycle.
type switchTimes struct {
	start, end time.Time
	db         time.Duration
}

func (s *timedStore) note(sw int, t0 time.Time, first, last bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cycle == nil || sw < 0 {
		return
	}
	st := s.cycle[sw]
	if st == nil {
		st = &switchTimes{}
		s.cycle[sw] = st
	}
	if first && st.start.IsZero() {
		st.start = t0
	}
	if last {
		st.end = now
	}
	st.db += now.Sub(t0)
}

func (s *timedStore) portsSwitch(ids []int64) int {
	if len(ids) == 0 {
		return -1
	}
	if k, ok := s.portSwitch[ids[0]]; ok {
		return k
	}
	return -1
}

// Switch implements netsw.Store.
func (s *timedStore) Switch(ctx context.Context, id int64) (server.Switch, error) {
	t0 := time.Now()
	sw, err := s.Store.Switch(ctx, id)
	k, ok := s.switchIndex[id]
	if !ok {
		k = -1
	}
	s.note(k, t0, true, false)
	return sw, err
}

// SetPortStatus implements netsw.Store.
func (s *timedStore) SetPortStatus(ctx context.Context, st map[int64]netsw.Status, now time.Time) error {
	t0 := time.Now()
	err := s.Store.SetPortStatus(ctx, st, now)
	for id := range st {
		s.note(s.portsSwitch([]int64{id}), t0, false, false)
		break
	}
	return err
}

// Counters implements netsw.Store.
func (s *timedStore) Counters(ctx context.Context, portIDs []int64) (map[int64]netsw.CounterState, error) {
	t0 := time.Now()
	c, err := s.Store.Counters(ctx, portIDs)
	s.note(s.portsSwitch(portIDs), t0, false, false)
	return c, err
}

// RecordTraffic implements netsw.Store.
func (s *timedStore) RecordTraffic(ctx context.Context, samples []netsw.TrafficSample) error {
	t0 := time.Now()
	err := s.Store.RecordTraffic(ctx, samples)
	if err == nil && len(samples) > 0 {
		s.note(s.portsSwitch([]int64{samples[0].PortID}), t0, false, true)
	}
	return err
}

// reset starts a cycle.
func (s *timedStore) reset() {
	s.mu.Lock()
	s.cycle = map[int]*switchTimes{}
	s.mu.Unlock()
}

// finished returns, per switch that finished its poll in this cycle, its
// times.
func (s *timedStore) finished() map[int]switchTimes {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]switchTimes, len(s.cycle))
	for k, v := range s.cycle {
		if !v.end.IsZero() {
			out[k] = *v
		}
	}
	return out
}
