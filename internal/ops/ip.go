package ops

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/task"
)

// Kinds of the address tasks.
const (
	KindIPAllocate = "ip_allocate"
	KindIPRemove   = "ip_remove"
)

// IPStore changes stored addresses.
type IPStore interface {
	SetStatus(ctx context.Context, id int64, status, info string) error
	Release(ctx context.Context, id int64) error
}

// RegisterIP adds ip_allocate (an address reserved at request time becomes
// ok) and ip_remove (the address is released). Both take params {"ip_id"}.
// When either ends without success the address says so: allocation_fail
// or fail, with the task's error in status_info.
func RegisterIP(e *task.Engine, s IPStore, maxAttempts int, log *slog.Logger) {
	failed := func(status string) func(ctx context.Context, t task.Task) {
		return func(ctx context.Context, t task.Task) {
			id, err := ipParam(t.Params)
			if err != nil {
				return
			}
			msg := t.Error
			if msg == "" {
				msg = t.StatusInfo
			}
			info, _ := json.Marshal(map[string]any{"task": t.ID, "error": msg})
			if err := s.SetStatus(ctx, id, status, string(info)); err != nil && !errors.Is(err, fault.ErrNotFound) {
				log.Error("mark address after its task failed", "ip_id", id, "task_id", t.ID, "err", err)
			}
		}
	}
	e.Register(task.Kind{Name: KindIPAllocate, Steps: 1, MaxAttempts: maxAttempts, Failed: failed(ipam.StatusAllocationFail),
		Run: func(ctx context.Context, r *task.Run) error {
			id, err := ipParam(r.Task.Params)
			if err != nil {
				return err
			}
			return r.Step(ctx, "activate address", 30*time.Second, func(ctx context.Context) error {
				return s.SetStatus(ctx, id, ipam.StatusOK, "")
			})
		}})
	e.Register(task.Kind{Name: KindIPRemove, Steps: 1, MaxAttempts: maxAttempts, Failed: failed(ipam.StatusFail),
		Run: func(ctx context.Context, r *task.Run) error {
			id, err := ipParam(r.Task.Params)
			if err != nil {
				return err
			}
			return r.Step(ctx, "release address", 30*time.Second, func(ctx context.Context) error {
				if err := s.Release(ctx, id); err != nil && !errors.Is(err, fault.ErrNotFound) {
					return err
				}
				return nil // already gone: a retried attempt
			})
		}})
}

func ipParam(p map[string]any) (int64, error) { return int64Param(p, "ip_id") }
