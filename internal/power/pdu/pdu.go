// Package pdu switches server power through switched PDU outlets over SNMP
// (v1, v2c or v3), with gosnmp.
//
// A PDU is an address, credentials (Access) and a Profile that says which
// OIDs switch and read an outlet: the built-in APC profiles (apc-rpdu,
// apc-spdu) or a generic one whose OIDs and values come from the PDU
// record, which covers Eaton, Raritan, ServerTech, CyberPower and others
// (see Generic). PDU.Outlet gives a power.Controller for one outlet;
// PDU.Outlets reads every outlet's state in one walk, for the poller.
//
// Every call opens its own UDP socket and closes it, reads before it
// writes (On and Off send no SET when the outlet is already in that
// state), reads back after a SET until the outlet shows the new state, and
// fails with a *power.DeviceError: transient for timeouts and unreachable
// agents, permanent for refused SETs, missing objects and bad credentials.
package pdu

import (
	"context"
	"log/slog"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// Access is how to reach a PDU's SNMP agent; its community must have
// write access for On, Off and Reset.
type Access = snmpc.Access

// Defaults for the zero values of Access and the options.
const (
	DefaultPort         = snmpc.DefaultPort
	DefaultTimeout      = snmpc.DefaultTimeout
	DefaultResetWait    = 5 * time.Second
	DefaultConfirmWait  = 5 * time.Second
	DefaultPollInterval = 250 * time.Millisecond
)

// PDU is one SNMP-managed PDU. It holds only configuration, so it is safe
// for concurrent use; each call opens its own connection.
type PDU struct {
	access  Access
	profile Profile

	resetWait    time.Duration
	confirmWait  time.Duration
	pollInterval time.Duration
	log          *slog.Logger
}

// Option tunes a PDU.
type Option func(*PDU)

// WithResetWait sets how long an outlet stays off during Reset (default
// 5 s). Without a reboot command it is the pause between off and on; with
// one, the PDU times the pause itself (APC rPDUOutletConfigRebootDuration,
// 5 s by default) and this is how long Reset expects it to take before it
// allows another ConfirmWait for the outlet to come back on.
func WithResetWait(d time.Duration) Option { return func(p *PDU) { p.resetWait = d } }

// WithConfirmWait sets how long the outlet may take to show a new state
// after a SET (default 5 s).
func WithConfirmWait(d time.Duration) Option { return func(p *PDU) { p.confirmWait = d } }

// WithPollInterval sets the pause between status reads while waiting for
// a state change (default 250 ms).
func WithPollInterval(d time.Duration) Option { return func(p *PDU) { p.pollInterval = d } }

// WithLogger logs each SET and state change at debug level.
func WithLogger(l *slog.Logger) Option { return func(p *PDU) { p.log = l } }

// New describes a PDU. It does not contact it; configuration errors come
// back from every call (and from Validate, for checking records early).
func New(a Access, profile Profile, opts ...Option) *PDU {
	p := &PDU{access: a, profile: profile,
		resetWait: DefaultResetWait, confirmWait: DefaultConfirmWait, pollInterval: DefaultPollInterval,
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(p)
	}
	if p.pollInterval <= 0 {
		p.pollInterval = DefaultPollInterval
	}
	return p
}

// Validate reports configuration that cannot work, without I/O.
func (p *PDU) Validate() error {
	if err := p.access.Validate(); err != nil {
		return err
	}
	return p.profile.Validate()
}

// Outlet returns the controller for outlet n (numbered from 1, as the PDU
// labels them).
func (p *PDU) Outlet(n int) power.Controller { return &outlet{pdu: p, n: n} }

// Outlets reads the state of every outlet in one walk of the status
// column. Values that are neither StatusOn nor StatusOff read as
// power.Unknown.
func (p *PDU) Outlets(ctx context.Context) (map[int]power.State, error) {
	const op = "read outlets"
	fail := func(err error) error { return p.deviceError(p.name(), op, err) }
	if err := p.Validate(); err != nil {
		return nil, fail(snmpc.Permanent(err, "invalid configuration: %v", err))
	}
	tmpl, _ := parseOIDTemplate(p.profile.StatusOID)
	s, err := snmpc.Open(ctx, p.access)
	if err != nil {
		return nil, fail(err)
	}
	defer s.Close()
	vars, err := s.BulkWalk(tmpl.walkRoot())
	if err != nil {
		return nil, fail(err)
	}
	states := make(map[int]power.State, len(vars))
	for _, v := range vars {
		n, ok := tmpl.outlet(v.Name)
		if !ok {
			continue // another index shape, e.g. another unit of a chain
		}
		val, err := snmpc.Int(v)
		if err != nil {
			return nil, fail(err)
		}
		states[n] = p.state(val)
	}
	if len(states) == 0 {
		return nil, fail(snmpc.Permanent(nil, "no outlets under %s (wrong profile or OID?)", tmpl.walkRoot()))
	}
	return states, nil
}

func (p *PDU) state(v int) power.State {
	switch v {
	case p.profile.StatusOn:
		return power.On
	case p.profile.StatusOff:
		return power.Off
	}
	return power.Unknown
}

// name is "pdu 10.0.0.9", with the port when it is not 161.
func (p *PDU) name() string {
	if p.access.PortOrDefault() != DefaultPort {
		return "pdu " + p.access.Target()
	}
	return "pdu " + p.access.Address
}

// deviceError wraps a failure (or a context error) for the task engine.
func (p *PDU) deviceError(device, op string, err error) error {
	f := snmpc.AsError(err)
	return &power.DeviceError{Device: device, Op: op, Transient: f.Transient, Msg: f.Msg, Err: f}
}
