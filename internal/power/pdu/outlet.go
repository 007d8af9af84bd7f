package pdu

import (
	"context"
	"fmt"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// outlet is one PDU outlet as a power.Controller.
type outlet struct {
	pdu *PDU
	n   int
}

var _ power.Controller = (*outlet)(nil)

// Operation names in DeviceErrors.
const (
	opState = "read state"
	opOn    = "power on"
	opOff   = "power off"
	opReset = "power reset"
)

func (o *outlet) device() string { return fmt.Sprintf("%s outlet %d", o.pdu.name(), o.n) }

// State reads the outlet's state.
func (o *outlet) State(ctx context.Context) (power.State, error) {
	var st power.State
	err := o.run(ctx, opState, func(s *snmpc.Session) error {
		var err error
		st, err = o.read(ctx, s)
		return err
	})
	return st, err
}

// On switches the outlet on unless it already is.
func (o *outlet) On(ctx context.Context) error {
	return o.run(ctx, opOn, func(s *snmpc.Session) error { return o.switchTo(ctx, s, cmdOn) })
}

// Off switches the outlet off unless it already is.
func (o *outlet) Off(ctx context.Context) error {
	return o.run(ctx, opOff, func(s *snmpc.Session) error { return o.switchTo(ctx, s, cmdOff) })
}

// Reset power-cycles the outlet: with the profile's reboot command when it
// has one, else off, ResetWait, on. An outlet that is off is just switched
// on, which is what a reset of a powered-off server means and does not
// depend on how a vendor's reboot command treats an off outlet.
func (o *outlet) Reset(ctx context.Context) error {
	return o.run(ctx, opReset, func(s *snmpc.Session) error {
		st, err := o.read(ctx, s)
		if err != nil {
			return err
		}
		if st == power.Off {
			return o.command(ctx, s, o.pdu.profile.command(cmdOn))
		}
		if rb, ok := o.pdu.profile.reboot(); ok {
			return o.reboot(ctx, s, rb)
		}
		if err := o.command(ctx, s, o.pdu.profile.command(cmdOff)); err != nil {
			return err
		}
		if err := sleep(ctx, o.pdu.resetWait); err != nil {
			return err
		}
		return o.command(ctx, s, o.pdu.profile.command(cmdOn))
	})
}

// run validates, opens a session for one call and wraps its error.
func (o *outlet) run(ctx context.Context, op string, fn func(*snmpc.Session) error) error {
	fail := func(err error) error { return o.pdu.deviceError(o.device(), op, err) }
	if o.n < 1 {
		return fail(snmpc.Permanent(nil, "invalid outlet number %d (outlets are numbered from 1)", o.n))
	}
	if err := o.pdu.Validate(); err != nil {
		return fail(snmpc.Permanent(err, "invalid configuration: %v", err))
	}
	if err := ctx.Err(); err != nil {
		return fail(snmpc.AsError(err))
	}
	s, err := snmpc.Open(ctx, o.pdu.access)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	if err := fn(s); err != nil {
		if ctx.Err() != nil {
			// A socket closed by a cancelled ctx surfaces as a network error.
			err = snmpc.AsError(ctx.Err())
		}
		return fail(err)
	}
	return nil
}

func (o *outlet) statusOID() string {
	t, _ := parseOIDTemplate(o.pdu.profile.StatusOID) // validated in run
	return t.oid(o.n)
}

func (o *outlet) read(ctx context.Context, s *snmpc.Session) (power.State, error) {
	v, err := getInt(s, o.statusOID())
	if err != nil {
		return power.Unknown, err
	}
	return o.pdu.state(v), nil
}

// switchTo reads first and sends the command only when needed.
func (o *outlet) switchTo(ctx context.Context, s *snmpc.Session, k commandKind) error {
	st, err := o.read(ctx, s)
	if err != nil {
		return err
	}
	if st == want(k) {
		o.pdu.log.DebugContext(ctx, "pdu outlet already in state", "pdu", o.pdu.name(), "outlet", o.n, "state", string(st))
		return nil
	}
	return o.command(ctx, s, o.pdu.profile.command(k))
}

func want(k commandKind) power.State {
	if k == cmdOn {
		return power.On
	}
	return power.Off
}

// command sends an on or off SET and waits until the status shows it.
func (o *outlet) command(ctx context.Context, s *snmpc.Session, c command) error {
	if err := o.set(ctx, s, c); err != nil {
		return err
	}
	target := want(c.kind)
	start := time.Now()
	last, err := o.poll(ctx, s, o.pdu.confirmWait, func(st power.State) bool { return st == target })
	if err != nil {
		return err
	}
	if last != target {
		return snmpc.Permanent(nil, "outlet still reads %s %s after the %s command (the PDU accepted the SET but did not switch)",
			last, o.pdu.confirmWait, c.kind)
	}
	o.pdu.log.DebugContext(ctx, "pdu outlet switched", "pdu", o.pdu.name(), "outlet", o.n, "state", string(target),
		"took", time.Since(start))
	return nil
}

// reboot sends the reboot SET and waits until the outlet has been seen
// off (or in a transitional state) and then on again.
func (o *outlet) reboot(ctx context.Context, s *snmpc.Session, c command) error {
	if err := o.set(ctx, s, c); err != nil {
		return err
	}
	window := o.pdu.resetWait + o.pdu.confirmWait
	sawOff := false
	last, err := o.poll(ctx, s, window, func(st power.State) bool {
		if st != power.On {
			sawOff = true
			return false
		}
		return sawOff
	})
	if err != nil {
		return err
	}
	switch {
	case !sawOff:
		return snmpc.Permanent(nil, "outlet stayed on for %s after the reboot command (the PDU accepted the SET but did not cycle the outlet)", window)
	case last != power.On:
		return snmpc.Permanent(nil, "outlet still reads %s %s after the reboot command", last, window)
	}
	return nil
}

func (o *outlet) set(ctx context.Context, s *snmpc.Session, c command) error {
	t, _ := parseOIDTemplate(c.oid) // validated in run
	oid := t.oid(o.n)
	if err := s.Set(oid, c.value); err != nil {
		return err
	}
	o.pdu.log.DebugContext(ctx, "pdu set", "pdu", o.pdu.name(), "outlet", o.n, "command", c.kind.String(),
		"oid", oid, "value", c.value)
	return nil
}

// poll reads the status until done says so or window has passed, and
// returns the last state read. A failed read ends the poll only when it is
// permanent or the window is over: an agent busy with the switch may drop
// a request.
func (o *outlet) poll(ctx context.Context, s *snmpc.Session, window time.Duration, done func(power.State) bool) (power.State, error) {
	deadline := time.Now().Add(window)
	last := power.Unknown
	for {
		st, err := o.read(ctx, s)
		switch {
		case err == nil:
			last = st
			if done(st) {
				return st, nil
			}
		case ctx.Err() != nil || !snmpc.IsTransient(err) || !time.Now().Before(deadline):
			return last, err
		}
		if !time.Now().Before(deadline) {
			return last, nil
		}
		if err := sleep(ctx, min(o.pdu.pollInterval, time.Until(deadline))); err != nil {
			return last, err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return snmpc.AsError(ctx.Err())
	case <-t.C:
		return nil
	}
}
