package ops

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/task"
)

// Kinds of the switch tasks.
const (
	KindSuspend       = "suspend"
	KindResume        = "resume"
	KindSwitchRefresh = "switch_refresh"
	KindPortUp        = "port_up"
	KindPortDown      = "port_down"
)

// StateSetter sets a server's state (ok, suspending, suspended, ...).
type StateSetter interface {
	SetState(ctx context.Context, serverID int64, state, info string) error
}

// NetOptions tune the switch tasks.
type NetOptions struct {
	MaxAttempts int
	StepTimeout time.Duration // one switch's ports; must cover the switch timeout
	Log         *slog.Logger
}

// RegisterNet adds suspend, resume, switch_refresh, port_up and port_down.
//
// suspend and resume follow the seed's state machine: the server is
// suspending (resuming) while the task runs, suspended (ok) when every
// non-IPMI port is down (up) and read back, and suspend_error
// (resume_error) with the failing port named in state_info when the task
// fails or is canceled. Params {"noop": true} mark a server already in
// the wanted state: the task completes without touching a switch.
func RegisterNet(e *task.Engine, svc *netsw.Service, st StateSetter, o NetOptions) {
	if o.StepTimeout == 0 {
		o.StepTimeout = 2 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	failedState := func(state string) func(ctx context.Context, t task.Task) {
		return func(ctx context.Context, t task.Task) {
			if t.ServerID == nil {
				return
			}
			info := t.Error
			if t.Status == task.Canceled {
				info = "canceled: " + t.StatusInfo
			}
			if err := st.SetState(ctx, *t.ServerID, state, info); err != nil {
				o.Log.Error("set server state after a failed task", "server_id", *t.ServerID, "task_id", t.ID, "err", err)
			}
		}
	}
	e.Register(task.Kind{Name: KindSuspend, Exclusive: true, Steps: 3, MaxAttempts: o.MaxAttempts,
		Failed: failedState(server.StateSuspendError),
		Run:    portsRun(svc, st, false, server.StateSuspending, server.StateSuspended, o)})
	e.Register(task.Kind{Name: KindResume, Exclusive: true, Steps: 3, MaxAttempts: o.MaxAttempts,
		Failed: failedState(server.StateResumeError),
		Run:    portsRun(svc, st, true, server.StateResuming, server.StateOK, o)})
	e.Register(task.Kind{Name: KindSwitchRefresh, Steps: 1, MaxAttempts: o.MaxAttempts, Run: func(ctx context.Context, r *task.Run) error {
		id, err := int64Param(r.Task.Params, "switch_id")
		if err != nil {
			return err
		}
		return r.Step(ctx, "discover ports", o.StepTimeout, func(ctx context.Context) error {
			res, err := svc.Refresh(ctx, id)
			r.Task.Result["added"], r.Task.Result["updated"] = res.Added, res.Updated
			r.Task.Result["vanished"], r.Task.Result["returned"] = res.Vanished, res.Returned
			return err
		})
	}})
	for _, k := range []struct {
		name string
		up   bool
	}{{KindPortUp, true}, {KindPortDown, false}} {
		e.Register(task.Kind{Name: k.name, Steps: 1, MaxAttempts: o.MaxAttempts, Run: func(ctx context.Context, r *task.Run) error {
			sw, err := int64Param(r.Task.Params, "switch_id")
			if err != nil {
				return err
			}
			port, err := int64Param(r.Task.Params, "port_id")
			if err != nil {
				return err
			}
			return r.Step(ctx, k.name, o.StepTimeout, func(ctx context.Context) error { return svc.SetPort(ctx, sw, port, k.up) })
		}})
	}
}

func portsRun(svc *netsw.Service, st StateSetter, up bool, during, after string, o NetOptions) task.Handler {
	verb := "down"
	if up {
		verb = "up"
	}
	return func(ctx context.Context, r *task.Run) error {
		sid := *r.Task.ServerID
		if noop, _ := r.Task.Params["noop"].(bool); noop {
			return r.Step(ctx, "already "+after+", no switch touched", 30*time.Second, func(context.Context) error { return nil })
		}
		var plan []netsw.SwitchGroup
		err := r.Step(ctx, "plan", 30*time.Second, func(ctx context.Context) error {
			if err := st.SetState(ctx, sid, during, ""); err != nil {
				return err
			}
			var err error
			plan, err = svc.Plan(ctx, sid)
			return err
		})
		if err != nil {
			return err
		}
		if plan == nil { // resumed after a crash past the plan step
			if plan, err = svc.Plan(ctx, sid); err != nil {
				return err
			}
		}
		for _, g := range plan {
			name := fmt.Sprintf("ports %s on switch %s", verb, g.SwitchName)
			if err := r.Step(ctx, name, o.StepTimeout, func(ctx context.Context) error { return svc.SetPorts(ctx, g, up) }); err != nil {
				return err
			}
		}
		return r.Step(ctx, "record state", 30*time.Second, func(ctx context.Context) error { return st.SetState(ctx, sid, after, "") })
	}
}

func int64Param(p map[string]any, key string) (int64, error) {
	switch v := p[key].(type) {
	case float64:
		return int64(v), nil
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	}
	return 0, fmt.Errorf("task has no %s parameter", key)
}

// PollSwitchesArgs is the periodic job that reads the connected ports.
type PollSwitchesArgs struct{}

// Kind names the job.
func (PollSwitchesArgs) Kind() string { return "dcimd_poll_switches" }

// PollSwitchesWorker runs one switch poll cycle (statuses and traffic).
type PollSwitchesWorker struct {
	river.WorkerDefaults[PollSwitchesArgs]
	Service *netsw.Service
	Log     *slog.Logger
}

// Work polls.
func (w *PollSwitchesWorker) Work(ctx context.Context, _ *river.Job[PollSwitchesArgs]) error {
	st, err := w.Service.Poll(ctx)
	w.Log.Debug("switch poll done", "switches", st.Switches, "switch_errors", st.SwitchErrors, "ports", st.Ports, "samples", st.Samples)
	return err
}
