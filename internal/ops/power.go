// Package ops defines the kinds of tasks dcimd runs on servers: each is a
// short list of visible steps over a domain service.
package ops

import (
	"context"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/task"
)

// PowerRecorder keeps the last known power state of a server.
type PowerRecorder interface {
	SetPowerStatus(ctx context.Context, serverID int64, status string) error
}

// PowerOptions tune the power tasks.
type PowerOptions struct {
	StepTimeout time.Duration // one power action, fallback included
	MaxAttempts int
}

// RegisterPower adds power_on, power_off and power_reset.
func RegisterPower(e *task.Engine, svc *power.Service, rec PowerRecorder, o PowerOptions) {
	if o.StepTimeout == 0 {
		o.StepTimeout = 2 * time.Minute
	}
	for _, a := range []power.Action{power.ActionOn, power.ActionOff, power.ActionReset} {
		e.Register(task.Kind{Name: string(a), Exclusive: true, Steps: 2, MaxAttempts: o.MaxAttempts, Run: powerRun(svc, rec, a, o)})
	}
}

func powerRun(svc *power.Service, rec PowerRecorder, a power.Action, o PowerOptions) task.Handler {
	return func(ctx context.Context, r *task.Run) error {
		sid := *r.Task.ServerID
		var st power.State
		err := r.Step(ctx, string(a), o.StepTimeout, func(ctx context.Context) error {
			var err error
			st, err = svc.Do(ctx, sid, a)
			return err
		})
		if err != nil {
			return err
		}
		return r.Step(ctx, "record state", 30*time.Second, func(ctx context.Context) error {
			if st == "" { // resumed after a crash between the steps: read it back
				if st, _ = svc.State(ctx, sid); st == "" {
					st = power.Unknown
				}
			}
			r.Task.Result["power_status"] = string(st)
			return rec.SetPowerStatus(ctx, sid, string(st))
		})
	}
}
