package ops

import (
	"context"
	"errors"
	"fmt"
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
func RegisterIP(e *task.Engine, s IPStore, maxAttempts int) {
	e.Register(task.Kind{Name: KindIPAllocate, Steps: 1, MaxAttempts: maxAttempts, Run: func(ctx context.Context, r *task.Run) error {
		id, err := ipParam(r.Task.Params)
		if err != nil {
			return err
		}
		return r.Step(ctx, "activate address", 30*time.Second, func(ctx context.Context) error {
			return s.SetStatus(ctx, id, ipam.StatusOK, "")
		})
	}})
	e.Register(task.Kind{Name: KindIPRemove, Steps: 1, MaxAttempts: maxAttempts, Run: func(ctx context.Context, r *task.Run) error {
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

func ipParam(p map[string]any) (int64, error) {
	switch v := p["ip_id"].(type) {
	case float64:
		return int64(v), nil
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	}
	return 0, fmt.Errorf("task has no ip_id parameter")
}
