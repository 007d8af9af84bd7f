package power

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Paths are the ways to reach one server's power.
type Paths struct {
	BMC    Controller // nil when the server has no BMC
	Boot   BootSetter // the BMC's boot device control, nil without a BMC
	Outlet Controller // nil when the server is on no PDU outlet
}

// Resolver finds a server's power paths from the inventory.
type Resolver interface {
	Paths(ctx context.Context, serverID int64) (Paths, error)
}

// Action is a power operation.
type Action string

// Power actions, named as the API names them.
const (
	ActionOn    Action = "power_on"
	ActionOff   Action = "power_off"
	ActionReset Action = "power_reset"
)

// Options tune the power logic.
type Options struct {
	// FallbackToPDU uses the outlet when the BMC does not answer.
	FallbackToPDU bool
	// PDUResetWait is the pause between off and on when a reset goes
	// through an outlet.
	PDUResetWait time.Duration
	Log          *slog.Logger
}

// Service applies power actions through the BMC, falling back to the PDU
// outlet when the BMC does not answer (if enabled).
type Service struct {
	resolve Resolver
	opt     Options
}

// NewService builds the power service.
func NewService(r Resolver, o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.PDUResetWait == 0 {
		o.PDUResetWait = 5 * time.Second
	}
	return &Service{resolve: r, opt: o}
}

// ErrNoPath means the server has neither a BMC nor a PDU outlet.
var ErrNoPath = &DeviceError{Device: "server", Op: "power", Msg: "the server has no BMC and no PDU outlet"}

// Do applies an action and returns the state read back afterwards.
func (s *Service) Do(ctx context.Context, serverID int64, a Action) (State, error) {
	p, err := s.resolve.Paths(ctx, serverID)
	if err != nil {
		return Unknown, err
	}
	if p.BMC == nil && p.Outlet == nil {
		return Unknown, ErrNoPath
	}
	if p.BMC != nil {
		err = apply(ctx, p.BMC, a)
		if err == nil || p.Outlet == nil || !s.opt.FallbackToPDU || !IsTransient(err) || ctx.Err() != nil {
			if err != nil {
				return Unknown, err
			}
			return p.BMC.State(ctx)
		}
		s.opt.Log.Warn("bmc did not answer, using the pdu outlet", "server_id", serverID, "action", string(a), "err", err)
	}
	if a == ActionReset {
		err = s.outletReset(ctx, p.Outlet)
	} else {
		err = apply(ctx, p.Outlet, a)
	}
	if err != nil {
		return Unknown, err
	}
	return p.Outlet.State(ctx)
}

// outletReset is off, a pause, on: a PDU's own reboot command is not
// trusted to leave the outlet off long enough for a server's PSU.
func (s *Service) outletReset(ctx context.Context, c Controller) error {
	if err := c.Off(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.opt.PDUResetWait):
	}
	return c.On(ctx)
}

func apply(ctx context.Context, c Controller, a Action) error {
	switch a {
	case ActionOn:
		return c.On(ctx)
	case ActionOff:
		return c.Off(ctx)
	case ActionReset:
		return c.Reset(ctx)
	}
	return fmt.Errorf("unknown power action %q", a)
}

// State reads the live power state: the BMC's, or the outlet's when the
// server has no BMC or the BMC does not answer.
func (s *Service) State(ctx context.Context, serverID int64) (State, error) {
	p, err := s.resolve.Paths(ctx, serverID)
	if err != nil {
		return Unknown, err
	}
	if p.BMC == nil && p.Outlet == nil {
		return Unknown, ErrNoPath
	}
	var bmcErr error
	if p.BMC != nil {
		st, err := p.BMC.State(ctx)
		if err == nil || p.Outlet == nil {
			return st, err
		}
		bmcErr = err
	}
	st, err := p.Outlet.State(ctx)
	if err != nil {
		return Unknown, errors.Join(bmcErr, err)
	}
	return st, nil
}

// SetBoot sets the next boot device through the BMC.
func (s *Service) SetBoot(ctx context.Context, serverID int64, o BootOptions) error {
	p, err := s.resolve.Paths(ctx, serverID)
	if err != nil {
		return err
	}
	if p.Boot == nil {
		return &DeviceError{Device: "server", Op: "set boot device", Msg: "the server has no BMC"}
	}
	return p.Boot.SetBoot(ctx, o)
}
