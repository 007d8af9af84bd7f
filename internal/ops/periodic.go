package ops

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/task"
)

// PollPowerArgs is the periodic job that reads every BMC and PDU.
type PollPowerArgs struct{}

// Kind names the job.
func (PollPowerArgs) Kind() string { return "dcimd_poll_power" }

// PollPowerWorker runs one poll cycle; River's leader schedules it, so one
// replica polls per interval, whichever worker picks it up.
type PollPowerWorker struct {
	river.WorkerDefaults[PollPowerArgs]
	Poller *power.Poller
	Log    *slog.Logger
}

// Work polls.
func (w *PollPowerWorker) Work(ctx context.Context, _ *river.Job[PollPowerArgs]) error {
	st, err := w.Poller.Poll(ctx)
	w.Log.Debug("power poll done", "bmcs", st.BMCs, "bmc_errors", st.BMCErrors, "pdus", st.PDUs, "pdu_errors", st.PDUErrors)
	return err
}

// PruneTasksArgs is the periodic job that prunes old finished tasks.
type PruneTasksArgs struct{}

// Kind names the job.
func (PruneTasksArgs) Kind() string { return "dcimd_prune_tasks" }

// PruneTasksWorker deletes finished tasks older than Retention.
type PruneTasksWorker struct {
	river.WorkerDefaults[PruneTasksArgs]
	Engine    *task.Engine
	Retention time.Duration
	Log       *slog.Logger
}

// Work fails orphaned tasks and prunes old ones.
func (w *PruneTasksWorker) Work(ctx context.Context, _ *river.Job[PruneTasksArgs]) error {
	if _, err := w.Engine.FailOrphans(ctx); err != nil {
		return err
	}
	n, err := w.Engine.Prune(ctx, w.Retention)
	if n > 0 {
		w.Log.Info("old tasks pruned", "count", n)
	}
	return err
}

// Periodic returns the periodic jobs: the power poll and the switch poll
// (each when its interval > 0) and the task sweep (orphans failed, old
// tasks pruned) every 5 minutes.
func Periodic(pollInterval, switchInterval time.Duration) []*river.PeriodicJob {
	once := &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true}}
	jobs := []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return PruneTasksArgs{}, once }, &river.PeriodicJobOpts{RunOnStart: true})}
	if pollInterval > 0 {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(pollInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PollPowerArgs{}, once }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	if switchInterval > 0 {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(switchInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PollSwitchesArgs{}, once }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	return jobs
}
