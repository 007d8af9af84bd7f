package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/power"
)

// Run is one attempt of a task, handed to its Handler.
type Run struct {
	Task *Task
	Log  *slog.Logger
	e    *Engine
	kind Kind
}

// Param returns a parameter of the task.
func (r *Run) Param(name string) any { return r.Task.Params[name] }

// Step runs fn as the named step with its own timeout, recording its start
// and end. A step that finished in an earlier attempt is skipped, so a task
// resumes after a crash or a retry from its last completed step.
func (r *Run) Step(ctx context.Context, name string, timeout time.Duration, fn func(ctx context.Context) error) error {
	for _, s := range r.Task.Steps {
		if s.Name == name && s.Status == "ok" {
			return nil
		}
	}
	now := r.e.now().UTC()
	idx := -1
	for i, s := range r.Task.Steps {
		if s.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		r.Task.Steps = append(r.Task.Steps, Step{Name: name})
		idx = len(r.Task.Steps) - 1
	}
	r.Task.Steps[idx] = Step{Name: name, Status: "running", StartedAt: now}
	if err := r.save(ctx); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	err := fn(sctx)
	cancel()
	end := r.e.now().UTC()
	st := &r.Task.Steps[idx]
	st.FinishedAt = &end
	switch {
	case err == nil:
		st.Status = "ok"
	case ctx.Err() != nil:
		st.Status, st.Info = "canceled", "interrupted"
	default:
		if errors.Is(err, context.DeadlineExceeded) && sctx.Err() != nil {
			err = &power.DeviceError{Device: r.Task.Name, Op: name, Transient: true, Msg: fmt.Sprintf("step timed out after %s", timeout), Err: err}
		}
		st.Status, st.Info = "fail", PublicMessage(err)
	}
	r.progress()
	if serr := r.save(context.WithoutCancel(ctx)); serr != nil && err == nil {
		return serr
	}
	return err
}

func (r *Run) progress() {
	if r.kind.Steps <= 0 {
		return
	}
	done := 0
	for _, s := range r.Task.Steps {
		if s.Status == "ok" {
			done++
		}
	}
	r.Task.Progress = min(99, done*100/r.kind.Steps)
}

// Info sets the task's status_info line.
func (r *Run) Info(ctx context.Context, msg string) error {
	r.Task.StatusInfo = msg
	return r.save(ctx)
}

func (r *Run) save(ctx context.Context) error {
	r.Task.UpdatedAt = r.e.now().UTC()
	return r.e.store.SaveProgress(ctx, r.Task)
}

// work runs one attempt of task id (called by the River worker).
func (e *Engine) work(ctx context.Context, id int64, attempt, maxAttempts int) error {
	t, err := e.store.GetTask(ctx, id)
	if err != nil {
		return fmt.Errorf("load task %d: %w", id, err)
	}
	if t.Status.Final() { // canceled before it started, or already done
		return nil
	}
	k, ok := e.kind(t.Name)
	if !ok {
		return river.JobCancel(fmt.Errorf("no handler for task kind %q", t.Name))
	}
	log := e.log.With("task_id", t.ID, "task", t.Name, "server_id", deref(t.ServerID), "attempt", attempt)
	now := e.now().UTC()
	t.Status, t.Attempt, t.UpdatedAt = Running, attempt, now
	if t.StartedAt == nil {
		t.StartedAt = &now
	}
	if attempt > 1 {
		t.StatusInfo = fmt.Sprintf("attempt %d of %d", attempt, maxAttempts)
	}
	if err := e.store.SaveProgress(ctx, &t); err != nil {
		return err
	}
	log.Info("task started")
	r := &Run{Task: &t, Log: log, e: e, kind: k}
	err = k.Run(ctx, r)
	end := e.now().UTC()
	switch {
	case err == nil:
		t.Status, t.Progress, t.FinishedAt, t.StatusInfo, t.Error = Complete, 100, &end, "", ""
		log.Info("task complete")
		e.finish(ctx, &t, "ok")
		return nil
	case errors.Is(err, ErrEnded):
		log.Info("task ended elsewhere (canceled)")
		return river.JobCancel(err)
	case ctx.Err() != nil:
		// Canceled by request (the row already says so) or the process is
		// stopping: River retries it, and it resumes from its last step.
		log.Info("task interrupted", "err", err)
		return err
	case power.IsTransient(err) && attempt < maxAttempts:
		t.StatusInfo = fmt.Sprintf("attempt %d of %d failed, retrying: %s", attempt, maxAttempts, PublicMessage(err))
		log.Warn("task attempt failed", "err", err)
		_ = e.store.SaveProgress(context.WithoutCancel(ctx), &t)
		return err
	default:
		t.Status, t.FinishedAt, t.Error, t.StatusInfo = Fail, &end, PublicMessage(err), PublicMessage(err)
		markOpenSteps(&t, "fail", end)
		log.Warn("task failed", "err", err)
		e.finish(ctx, &t, "fail: "+t.Error)
		return river.JobCancel(err)
	}
}

func (e *Engine) finish(ctx context.Context, t *Task, result string) {
	t.UpdatedAt = e.now().UTC()
	if err := e.store.SaveProgress(context.WithoutCancel(ctx), t); err != nil {
		e.log.Error("save task result", "task_id", t.ID, "err", err)
	}
	e.record(ctx, AuditEntry{UserID: t.CreatedBy, Action: t.Name, ObjectType: "server", ObjectID: t.ServerID, TaskID: &t.ID, Result: result})
}
