package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
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
	case timedOut(ctx):
		st.Status, st.Info = "fail", "the attempt timed out"
	case ctx.Err() != nil:
		st.Status, st.Info = "canceled", "interrupted"
	default:
		if errors.Is(err, context.DeadlineExceeded) && sctx.Err() != nil {
			err = &stepTimeout{task: r.Task.Name, step: name, after: timeout, err: err}
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

// work runs one attempt of task id (called by the River worker). The
// kind's MaxAttempts bounds the runs; an attempt beyond it (the previous
// one died with its process) still runs, and its failure is final.
func (e *Engine) work(ctx context.Context, id int64, attempt int) error {
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
	maxAttempts := max(k.MaxAttempts, 1)
	log := e.log.With("task_id", t.ID, "task", t.Name, "server_id", deref(t.ServerID), "attempt", attempt)
	now := e.now().UTC()
	t.Status, t.Attempt, t.UpdatedAt = Running, attempt, now
	if t.StartedAt == nil {
		t.StartedAt = &now
	}
	if attempt > 1 {
		t.StatusInfo = fmt.Sprintf("attempt %d of %d", attempt, max(attempt, maxAttempts))
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
	case ctx.Err() != nil || timedOut(ctx):
		return e.interrupted(ctx, &t, err, attempt, maxAttempts, log)
	case Retryable(err) && attempt < maxAttempts:
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

// interrupted ends an attempt whose context ended. Canceled by request:
// the row already says so. Timed out (the worker's attempt timeout): like
// a transient failure, retried, and final on the last attempt, since River
// then discards the job and nothing else would end the task. Stopped with
// the process: snoozed, so it runs again at once on another replica or on
// the next start, resuming from its last completed step, without spending
// an attempt.
func (e *Engine) interrupted(ctx context.Context, t *Task, err error, attempt, maxAttempts int, log *slog.Logger) error {
	bg := context.WithoutCancel(ctx)
	if cur, gerr := e.store.GetTask(bg, t.ID); gerr == nil && cur.Status.Final() {
		log.Info("task ended elsewhere (canceled)", "err", err)
		return river.JobCancel(err)
	}
	if !timedOut(ctx) {
		log.Info("task interrupted; it runs again", "err", err)
		return river.JobSnooze(0)
	}
	const msg = "timed out: the attempt took longer than tasks.attempt_timeout"
	if attempt < maxAttempts {
		t.StatusInfo = fmt.Sprintf("attempt %d of %d failed, retrying: %s", attempt, maxAttempts, msg)
		log.Warn("task attempt timed out", "err", err)
		_ = e.store.SaveProgress(bg, t)
		return err
	}
	end := e.now().UTC()
	t.Status, t.FinishedAt, t.Error, t.StatusInfo = Fail, &end, msg, msg
	markOpenSteps(t, "fail", end)
	log.Warn("task failed: attempt timed out", "err", err)
	e.finish(ctx, t, "fail: "+msg)
	return river.JobCancel(err)
}

// timedOut reports an attempt past its deadline; the clock counts too, as
// a device call may see the deadline pass just before ctx's own timer.
func timedOut(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (e *Engine) finish(ctx context.Context, t *Task, result string) {
	t.UpdatedAt = e.now().UTC()
	if err := e.store.SaveProgress(context.WithoutCancel(ctx), t); err != nil {
		e.log.Error("save task result", "task_id", t.ID, "err", err)
	}
	e.record(ctx, AuditEntry{UserID: t.CreatedBy, Action: t.Name, ObjectType: "server", ObjectID: t.ServerID, TaskID: &t.ID, Result: result})
	if t.Status != Complete {
		e.failed(ctx, *t)
	}
}
