package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/fault"
)

// Handler does the work of one kind of task, step by step through r.
type Handler func(ctx context.Context, r *Run) error

// Kind describes one kind of task.
type Kind struct {
	Name        string
	Exclusive   bool // a long server operation: one per server at a time
	MaxAttempts int  // runs before a transient failure becomes final; default 5
	Steps       int  // expected number of steps, for progress
	Run         Handler
	// Failed, when set, runs once after a task of this kind ended in fail
	// or canceled (by its worker, by Cancel, or by the orphan sweep), so
	// the objects it was changing leave their transitional state (an
	// address "allocating" becomes "allocation_fail", a server
	// "suspending" becomes "suspend_error"). It gets a context that is not
	// canceled and must be quick and idempotent.
	Failed func(ctx context.Context, t Task)
}

// Request asks for a task.
type Request struct {
	Kind      string
	ServerID  *int64
	Params    map[string]any
	UserID    *int64
	UserEmail string
}

// Engine submits tasks and runs them when River hands them out.
type Engine struct {
	store Store
	audit Auditor
	log   *slog.Logger
	now   func() time.Time

	mu    sync.RWMutex
	kinds map[string]Kind
	queue Queue
}

// New builds an engine; register kinds and set the queue before use.
func New(store Store, audit Auditor, log *slog.Logger, now func() time.Time) *Engine {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Engine{store: store, audit: audit, log: log, now: now, kinds: map[string]Kind{}}
}

// Register adds a kind of task.
func (e *Engine) Register(k Kind) {
	if k.MaxAttempts == 0 {
		k.MaxAttempts = 5
	}
	e.mu.Lock()
	e.kinds[k.Name] = k
	e.mu.Unlock()
}

// SetQueue connects the engine to the job runner.
func (e *Engine) SetQueue(q Queue) { e.mu.Lock(); e.queue = q; e.mu.Unlock() }

func (e *Engine) kind(name string) (Kind, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	k, ok := e.kinds[name]
	return k, ok
}

// Submit creates a task and queues it. A server busy with another
// exclusive task gives a conflict naming that task.
func (e *Engine) Submit(ctx context.Context, req Request) (Task, error) {
	k, ok := e.kind(req.Kind)
	if !ok {
		return Task{}, fmt.Errorf("unknown task kind %q", req.Kind)
	}
	now := e.now().UTC()
	params := req.Params
	if params == nil {
		params = map[string]any{}
	}
	t := Task{Name: k.Name, ServerID: req.ServerID, Exclusive: k.Exclusive, Status: Created, Steps: []Step{},
		Params: params, Result: map[string]any{}, CreatedBy: req.UserID, CreatedAt: now, UpdatedAt: now}
	e.mu.RLock()
	q := e.queue
	e.mu.RUnlock()
	err := q.Enqueue(ctx, &t, JobOptions{MaxAttempts: k.MaxAttempts + crashAttempts})
	if errors.Is(err, fault.ErrBusy) && req.ServerID != nil {
		return Task{}, e.busy(ctx, *req.ServerID)
	}
	if err != nil {
		return Task{}, fmt.Errorf("queue task %s: %w", k.Name, err)
	}
	e.record(ctx, AuditEntry{UserID: req.UserID, UserEmail: req.UserEmail, Action: k.Name, ObjectType: "server",
		ObjectID: req.ServerID, TaskID: &t.ID, Result: "queued"})
	e.log.Info("task queued", "task_id", t.ID, "task", t.Name, "server_id", deref(req.ServerID))
	return t, nil
}

// Done records work that was done within the request that asked for it
// (a database change with no device behind it) as a task that is already
// complete, with one step per name, so that clients following
// {"id","task"} see it like any other task, without a job and its
// round trips. It is never exclusive.
func (e *Engine) Done(ctx context.Context, req Request, steps ...string) (Task, error) {
	k, ok := e.kind(req.Kind)
	if !ok {
		return Task{}, fmt.Errorf("unknown task kind %q", req.Kind)
	}
	now := e.now().UTC()
	params := req.Params
	if params == nil {
		params = map[string]any{}
	}
	t := Task{Name: k.Name, ServerID: req.ServerID, Status: Complete, Progress: 100, Steps: make([]Step, len(steps)),
		Params: params, Result: map[string]any{}, Attempt: 1, CreatedBy: req.UserID, CreatedAt: now, StartedAt: &now,
		FinishedAt: &now, UpdatedAt: now}
	for i, s := range steps {
		t.Steps[i] = Step{Name: s, Status: "ok", StartedAt: now, FinishedAt: &now}
	}
	if err := e.store.InsertDone(ctx, &t); err != nil {
		return Task{}, fmt.Errorf("record task %s: %w", k.Name, err)
	}
	e.record(ctx, AuditEntry{UserID: req.UserID, UserEmail: req.UserEmail, Action: k.Name, ObjectType: "server",
		ObjectID: req.ServerID, TaskID: &t.ID, Result: "ok"})
	return t, nil
}

// busy builds the 409 that names the running task.
func (e *Engine) busy(ctx context.Context, serverID int64) error {
	at, ok, err := e.store.ActiveTask(ctx, serverID)
	if err != nil {
		return err
	}
	if !ok { // it finished meanwhile; the client may simply retry
		return &fault.Error{Kind: fault.KindBusy, Msg: fmt.Sprintf("server %d is busy with another operation", serverID)}
	}
	return &fault.Error{Kind: fault.KindBusy, Msg: fmt.Sprintf("server %d is busy with task %d (%s, %s)", serverID, at.ID, at.Name, at.Status),
		Value: map[string]any{"task": at.ID, "name": at.Name}}
}

// ActiveTask returns the running exclusive task of a server.
func (e *Engine) ActiveTask(ctx context.Context, serverID int64) (Task, bool, error) {
	return e.store.ActiveTask(ctx, serverID)
}

// Cancel stops a task: a queued one never runs, a running one has its
// context cancelled so its device calls stop.
func (e *Engine) Cancel(ctx context.Context, id int64, userID *int64, email string) (Task, error) {
	t, err := e.store.GetTask(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if t.Status.Final() {
		return t, fault.Conflict("task %d already ended (%s)", id, t.Status)
	}
	now := e.now().UTC()
	t.Status, t.FinishedAt, t.StatusInfo, t.UpdatedAt = Canceled, &now, "canceled by request", now
	markOpenSteps(&t, "canceled", now)
	if err := e.store.SaveProgress(ctx, &t); err != nil {
		return Task{}, err
	}
	if t.JobID != nil {
		e.mu.RLock()
		q := e.queue
		e.mu.RUnlock()
		if err := q.CancelJob(ctx, *t.JobID); err != nil {
			e.log.Warn("cancel job", "task_id", id, "err", err)
		}
	}
	e.record(ctx, AuditEntry{UserID: userID, UserEmail: email, Action: "cancel " + t.Name, ObjectType: "task", ObjectID: &t.ID,
		TaskID: &t.ID, Result: "canceled"})
	e.failed(ctx, t)
	return t, nil
}

// failed runs the kind's Failed hook for a task that ended without
// success.
func (e *Engine) failed(ctx context.Context, t Task) {
	k, ok := e.kind(t.Name)
	if !ok || k.Failed == nil {
		return
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	k.Failed(hctx, t)
}

func (e *Engine) record(ctx context.Context, a AuditEntry) {
	if e.audit == nil {
		return
	}
	a.At = e.now().UTC()
	if err := e.audit.Audit(context.WithoutCancel(ctx), a); err != nil {
		e.log.Error("write audit log", "err", err, "action", a.Action)
	}
}

// Prune deletes final tasks older than age.
func (e *Engine) Prune(ctx context.Context, age time.Duration) (int64, error) {
	return e.store.PruneTasks(ctx, e.now().Add(-age))
}

// FailOrphans fails tasks the job runner has given up on, so that no task
// says running forever and no server stays busy.
func (e *Engine) FailOrphans(ctx context.Context) (int64, error) {
	ts, err := e.store.FailOrphans(ctx, e.now())
	if len(ts) > 0 {
		e.log.Warn("orphaned tasks failed", "count", len(ts))
	}
	for _, t := range ts {
		e.failed(ctx, t)
	}
	return int64(len(ts)), err
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func markOpenSteps(t *Task, status string, at time.Time) {
	for i := range t.Steps {
		if t.Steps[i].FinishedAt == nil {
			t.Steps[i].Status, t.Steps[i].FinishedAt = status, &at
		}
	}
}

// crashAttempts are runs River allows a job beyond its kind's MaxAttempts.
// River counts a run cut short by a dead process (kill -9, power loss) as
// an attempt, and its rescuer discards a job that has none left, with
// nothing to end the task; so River's limit is only a budget for crashes,
// and the engine fails a task itself after MaxAttempts failed runs.
const crashAttempts = 3

// Args is River's job: run our task TaskID.
type Args struct {
	TaskID int64 `json:"task_id"`
}

// Kind names the River job kind.
func (Args) Kind() string { return "dcimd_task" }

// Worker runs tasks for River.
type Worker struct {
	river.WorkerDefaults[Args]
	e       *Engine
	timeout time.Duration
}

// NewWorker returns the River worker; timeout bounds one run of a task.
func (e *Engine) NewWorker(timeout time.Duration) *Worker { return &Worker{e: e, timeout: timeout} }

// Timeout bounds one attempt.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.timeout }

// Work runs one attempt of a task.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	return w.e.work(ctx, job.Args.TaskID, job.Attempt)
}

// DeviceFailure is a failed call to a device (a BMC, a PDU, a switch):
// its text is written for operators, holds no secrets and may be shown to
// clients, and it tells whether a retry may help.
type DeviceFailure interface {
	error
	Retryable() bool
}

// Retryable reports whether err is worth another attempt: a transient
// device failure or a deadline.
func Retryable(err error) bool {
	var df DeviceFailure
	if errors.As(err, &df) {
		return df.Retryable()
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// stepTimeout is a step that ran out of its own time.
type stepTimeout struct {
	task, step string
	after      time.Duration
	err        error
}

func (e *stepTimeout) Error() string {
	return fmt.Sprintf("%s: %s: step timed out after %s", e.task, e.step, e.after)
}
func (e *stepTimeout) Unwrap() error   { return e.err }
func (e *stepTimeout) Retryable() bool { return true }

// PublicMessage is the text of err that may be shown to clients.
func PublicMessage(err error) string {
	var df DeviceFailure
	if errors.As(err, &df) {
		return df.Error()
	}
	if fe, ok := fault.As(err); ok && fe.Kind != fault.KindInternal {
		return fe.Msg
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "internal error"
}
