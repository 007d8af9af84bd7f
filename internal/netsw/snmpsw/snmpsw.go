// Package snmpsw is the SNMP switch driver: netsw.Driver over IF-MIB
// (ports, status, ifAdminStatus SETs, 64-bit octet counters) and
// BRIDGE-MIB / Q-BRIDGE-MIB (the forwarding table), on SNMP v1, v2c or
// v3 through internal/snmpc. OIDs are numeric; no MIB files are needed.
//
// Every call opens its own UDP socket and closes it, runs each request
// under the per-request timeout (2 s unless configured) and stops when
// ctx ends. Errors are *netsw.DeviceError with Device "switch addr:port":
// transient for timeouts and unreachable agents, permanent for refused
// SETs, bad v3 credentials, read-back mismatches and bad configuration.
//
// SNMP has one failure that looks like another: a v1/v2c agent drops a
// request with a wrong community without answering, so a wrong community
// is reported as a (transient) timeout, exactly like a dead switch; the
// message says so. A wrong v3 auth password or user draws an
// unauthenticated Report from the agent and is permanent; a wrong v3
// privacy password is dropped like a wrong community.
package snmpsw

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// Defaults for the options.
const (
	DefaultBatch        = 20 // varbinds per GET; halved when the agent answers tooBig
	DefaultConfirmWait  = time.Second
	DefaultPollInterval = 100 * time.Millisecond
)

// Switch is one SNMP-managed switch. It holds only configuration, so it
// is safe for concurrent use; each call opens its own connection.
type Switch struct {
	access       snmpc.Access
	batch        int
	confirmWait  time.Duration
	pollInterval time.Duration
	log          *slog.Logger
}

var _ netsw.Driver = (*Switch)(nil)

// Option tunes a Switch.
type Option func(*Switch)

// WithTimeout sets the per-request timeout (default: the Access's
// Timeout, else 2 s).
func WithTimeout(d time.Duration) Option { return func(s *Switch) { s.access.Timeout = d } }

// WithRetries sets how many times a request is resent after a timeout
// (default: the Access's Retries, else 0).
func WithRetries(n int) Option { return func(s *Switch) { s.access.Retries = n } }

// WithBatch sets how many objects one GET asks for (default 20). The
// driver halves it for the rest of a call when the agent answers tooBig.
func WithBatch(n int) Option { return func(s *Switch) { s.batch = n } }

// WithConfirmWait sets how long SetAdmin keeps reading ifAdminStatus back
// until it shows the value set (default 1 s; most agents show it at
// once, some apply the SET asynchronously).
func WithConfirmWait(d time.Duration) Option { return func(s *Switch) { s.confirmWait = d } }

// WithPollInterval sets the pause between read-backs (default 100 ms).
func WithPollInterval(d time.Duration) Option { return func(s *Switch) { s.pollInterval = d } }

// WithLogger logs SETs and read-backs at debug level.
func WithLogger(l *slog.Logger) Option { return func(s *Switch) { s.log = l } }

// New describes a switch. It does not contact it; configuration errors
// come back from every call (and from Validate, for checking records early).
func New(a snmpc.Access, opts ...Option) *Switch {
	s := &Switch{access: a, batch: DefaultBatch, confirmWait: DefaultConfirmWait,
		pollInterval: DefaultPollInterval, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if s.batch < 1 {
		s.batch = DefaultBatch
	}
	if s.pollInterval <= 0 {
		s.pollInterval = DefaultPollInterval
	}
	return s
}

// Validate reports configuration that cannot work, without I/O.
func (s *Switch) Validate() error { return s.access.Validate() }

// Device is the switch's name in errors: "switch 10.0.0.2:161".
func (s *Switch) Device() string { return "switch " + s.access.Target() }

// OIDs the driver reads and writes.
const (
	oidSysUpTime     = ".1.3.6.1.2.1.1.3.0"
	oidIfDescr       = ".1.3.6.1.2.1.2.2.1.2"
	oidIfType        = ".1.3.6.1.2.1.2.2.1.3"
	oidIfSpeed       = ".1.3.6.1.2.1.2.2.1.5"
	oidIfAdminStatus = ".1.3.6.1.2.1.2.2.1.7"
	oidIfOperStatus  = ".1.3.6.1.2.1.2.2.1.8"
	oidIfName        = ".1.3.6.1.2.1.31.1.1.1.1"
	oidIfHCInOctets  = ".1.3.6.1.2.1.31.1.1.1.6"
	oidIfHCOutOctets = ".1.3.6.1.2.1.31.1.1.1.10"
	oidIfHighSpeed   = ".1.3.6.1.2.1.31.1.1.1.15"
	oidIfAlias       = ".1.3.6.1.2.1.31.1.1.1.18"
)

// run opens a session for one call and turns its failure into a
// *netsw.DeviceError.
func (s *Switch) run(ctx context.Context, op string, fn func(*snmpc.Session) error) error {
	sess, err := snmpc.Open(ctx, s.access)
	if err != nil {
		return s.fail(op, err)
	}
	defer sess.Close()
	if err := fn(sess); err != nil {
		if ctx.Err() != nil {
			// A socket closed by the ending ctx surfaces as a network error.
			err = snmpc.AsError(ctx.Err())
		}
		return s.fail(op, err)
	}
	return nil
}

func (s *Switch) fail(op string, err error) error {
	e := snmpc.AsError(err)
	return &netsw.DeviceError{Device: s.Device(), Op: op, Transient: e.Transient, Msg: e.Msg, Err: e}
}

// status maps IF-MIB's ifAdminStatus and ifOperStatus values.
func status(v int) string {
	switch v {
	case 1:
		return netsw.Up
	case 2:
		return netsw.Down
	case 3:
		return netsw.Testing
	}
	return netsw.Unknown
}

// getter reads many objects in GETs of at most batch objects. It lives
// for one call, so a batch size halved after tooBig stays halved.
type getter struct {
	sess  *snmpc.Session
	batch int
}

func (s *Switch) getter(sess *snmpc.Session) *getter { return &getter{sess: sess, batch: s.batch} }

// get reads oids and returns the values that exist, by OID. Missing
// objects (noSuchObject and noSuchInstance, or on v1 a noSuchName for
// one of them) are left out; any other refusal fails.
func (g *getter) get(oids []string) (map[string]gosnmp.SnmpPDU, error) {
	out := make(map[string]gosnmp.SnmpPDU, len(oids))
	rest := slices.Clone(oids)
	for len(rest) > 0 {
		n := min(g.batch, len(rest))
		vars, err := g.sess.Get(rest[:n]...)
		if e := snmpc.AsError(err); e != nil {
			switch {
			case e.Status == gosnmp.TooBig && n > 1:
				g.batch = max(n/2, 1)
				continue
			case e.Status == gosnmp.NoSuchName && e.Index >= 1 && e.Index <= n:
				// SNMPv1 fails the whole GET for one missing object: drop
				// that one and ask again for the others.
				rest = slices.Delete(rest, e.Index-1, e.Index)
				continue
			}
			return nil, err
		}
		for i, v := range vars {
			if !snmpc.IsException(v) {
				out[rest[i]] = v
			}
		}
		rest = rest[n:]
	}
	return out, nil
}

// checkIndexes rejects ifIndexes that cannot exist and drops duplicates.
func checkIndexes(indexes []int) ([]int, error) {
	out := make([]int, 0, len(indexes))
	seen := make(map[int]bool, len(indexes))
	for _, i := range indexes {
		if i <= 0 {
			return nil, snmpc.Permanent(nil, "invalid ifIndex %d (ifIndexes start at 1)", i)
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, nil
}

func oid(column string, index int) string { return fmt.Sprintf("%s.%d", column, index) }
