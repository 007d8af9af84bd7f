package app

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/devices"
	"github.com/dcimd/dcimd/internal/power/ipmi"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
)

// services are what the task runner powers.
type services struct {
	engine   *task.Engine
	power    *power.Service
	switches *netsw.Service
}

// startTasks builds the task engine, its kinds and the device drivers,
// and starts River. The returned func closes the device sessions.
func startTasks(ctx context.Context, cfg config.Config, db *store.DB, inv *server.Service, log *slog.Logger) (services, *store.Runner, func(), error) {
	pool := ipmi.NewPool(ipmi.PoolOptions{MaxPerBMC: cfg.Power.MaxPerBMC, Log: log})
	closeDevices := func() { _ = pool.Close() }
	paths := devices.NewResolver(inv, pool, devices.Options{CipherSuites: cfg.Power.CipherSuites, CallTimeout: cfg.Power.CallTimeout,
		PDUResetWait: cfg.Power.PDUResetWait}, log)
	psvc := power.NewService(paths, power.Options{FallbackToPDU: cfg.Power.FallbackToPDU, PDUResetWait: cfg.Power.PDUResetWait, Log: log})
	eng := task.New(db.Tasks(), db.Tasks(), log, nil)
	ops.RegisterPower(eng, psvc, db.Views(), ops.PowerOptions{StepTimeout: cfg.Power.StepTimeout, MaxAttempts: cfg.Tasks.MaxAttempts})
	ops.RegisterIP(eng, db.IPAM(), cfg.Tasks.MaxAttempts, log)
	nsvc := netsw.NewService(db.SwitchPorts(), switchOpener(cfg.Switches, log), netsw.Options{SwitchTimeout: cfg.Switches.SwitchTimeout,
		PollConcurrency: cfg.Switches.PollConcurrency, Log: log})
	ops.RegisterNet(eng, nsvc, db.SwitchPorts(), ops.NetOptions{MaxAttempts: cfg.Tasks.MaxAttempts, StepTimeout: cfg.Switches.SwitchTimeout, Log: log})

	workers := river.NewWorkers()
	river.AddWorker(workers, eng.NewWorker(cfg.Tasks.AttemptTimeout))
	poller := &power.Poller{Source: paths, Sink: db.Views(), Concurrency: cfg.Power.PollConcurrency, Log: log}
	river.AddWorker(workers, &ops.PollPowerWorker{Poller: poller, Log: log})
	river.AddWorker(workers, &ops.PruneTasksWorker{Engine: eng, Retention: cfg.Tasks.Retention, Log: log})
	river.AddWorker(workers, &ops.PollSwitchesWorker{Service: nsvc, Log: log})
	runner, err := db.NewRunner(ctx, store.RunnerOptions{Workers: workers, MaxWorkers: cfg.Tasks.Workers, FetchPoll: cfg.Tasks.PollInterval,
		RescueAfter: cfg.Tasks.RescueAfter, PeriodicJobs: ops.Periodic(cfg.Power.PollInterval, cfg.Switches.PollInterval), Log: log})
	if err != nil {
		closeDevices()
		return services{}, nil, nil, err
	}
	eng.SetQueue(runner)
	if err := runner.Start(ctx); err != nil {
		closeDevices()
		return services{}, nil, nil, err
	}
	return services{engine: eng, power: psvc, switches: nsvc}, runner, closeDevices, nil
}
