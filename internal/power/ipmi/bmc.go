package ipmi

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"

	"github.com/dcimd/dcimd/internal/power"
)

// BMC is one BMC as seen through a Pool. It implements power.Controller and
// power.BootSetter and is safe for concurrent use.
type BMC struct {
	p      *Pool
	st     *bmcState
	cfg    Config
	cfgErr error
	device string
	log    *slog.Logger
}

var (
	_ power.Controller = (*BMC)(nil)
	_ power.BootSetter = (*BMC)(nil)
)

// Stats returns the counters of this BMC's shared state.
func (b *BMC) Stats() Stats { return b.st.snapshot() }

// call is one attempt of an operation on one session.
type call struct {
	b *BMC
	s *session
	// committed is set before a command that must not be sent twice
	// (a hard reset), which rules out retrying on a new session.
	committed bool
}

func (x *call) request(ctx context.Context, what string, fn func(context.Context, *client.Client) error) error {
	return x.s.request(ctx, what, fn)
}

// run executes op under the call cap and CallTimeout, on the shared
// session. A session that turns out dead is replaced once per call.
func (b *BMC) run(ctx context.Context, op string, fn func(context.Context, *call) error) error {
	if b.cfgErr != nil {
		return b.deviceError(op, fail(ErrConfig, false, b.cfgErr, "invalid BMC configuration: %v", b.cfgErr))
	}
	if !b.p.enter() {
		return b.deviceError(op, fail(ErrPoolClosed, true, nil, "the IPMI pool is shut down"))
	}
	defer b.p.leave()

	start := time.Now()
	release, err := b.st.acquire(ctx, b.p.stop)
	if err != nil {
		if errors.Is(err, ErrPoolClosed) {
			return b.deviceError(op, fail(ErrPoolClosed, true, nil, "the IPMI pool is shut down"))
		}
		return b.deviceError(op, fail(ErrBusy, true, err,
			"gave up after %s waiting for one of the %d call slots of this BMC: %v",
			time.Since(start).Round(time.Millisecond), cap(b.st.slots), err))
	}
	defer release()
	waited := time.Since(start)

	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		s, fresh, err := b.p.session(ctx, b.st, b.cfg, b.log)
		if err != nil {
			return b.finish(caller, op, start, err)
		}
		x := &call{b: b, s: s}
		err = fn(ctx, x)
		if err != nil && !answered(err) {
			// The session's state is unknown after a transport failure.
			b.p.drop(b.st, s, false, "transport error")
		}
		b.p.release(b.st, s)
		if err != nil && !answered(err) && !fresh && attempt == 0 && !x.committed &&
			ctx.Err() == nil && deadSession(err) {
			b.st.mu.Lock()
			b.st.stats.Reconnects++
			b.st.mu.Unlock()
			b.log.Warn("ipmi session dead, reconnecting", "op", op, "cipher_suite", s.suite,
				"err", b.scrub(err.Error()))
			continue
		}
		if err == nil {
			b.log.Debug("ipmi call done", "op", op, "cipher_suite", s.suite,
				"elapsed", time.Since(start), "slot_wait", waited)
		}
		return b.finish(caller, op, start, err)
	}
}

// finish classifies err; when the caller's own deadline cut the call
// short, the message says so rather than blaming the BMC.
func (b *BMC) finish(caller context.Context, op string, start time.Time, err error) error {
	if err == nil {
		return nil
	}
	f := classifyRequest(err, b.cfg)
	if f.transient && f.kind != ErrCanceled && callerExpired(caller) {
		f = fail(ErrCanceled, true, f, "the caller's deadline passed after %s (%s)",
			time.Since(start).Round(time.Millisecond), f.msg)
	}
	de := b.deviceError(op, f)
	b.log.Warn("ipmi call failed", "op", op, "elapsed", time.Since(start),
		"transient", de.Transient, "err", de.Msg)
	return de
}

// callerExpired checks the clock too: a socket read deadline derived from
// the caller's deadline can fire just before the context's own timer.
func callerExpired(caller context.Context) bool {
	if errors.Is(caller.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := caller.Deadline()
	return ok && !time.Now().Before(dl)
}

func (b *BMC) deviceError(op string, f *failure) *power.DeviceError {
	f.msg = b.scrub(f.msg)
	return &power.DeviceError{Device: b.device, Op: op, Transient: f.transient, Msg: f.msg, Err: f}
}

// scrub keeps the password out of messages even if a library echoes it.
func (b *BMC) scrub(s string) string {
	if pw := b.cfg.Password.Reveal(); pw != "" {
		s = strings.ReplaceAll(s, pw, "********")
	}
	return s
}
