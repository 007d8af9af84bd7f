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
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/secret"
)

// Access is how to reach a PDU's SNMP agent.
type Access struct {
	Address      string        // host name or IP
	Port         int           // 0 means 161
	Version      string        // v1, v2c, v3; "" means v2c
	Community    secret.String // v1/v2c; must have write access for On, Off and Reset
	V3User       string        // v3 user name
	AuthProtocol string        // MD5, SHA, SHA224, SHA256, SHA384, SHA512; "" means no authentication
	AuthPass     secret.String // v3, 8 characters or more
	PrivProtocol string        // DES, AES, AES192, AES256; "" means no privacy
	PrivPass     secret.String // v3, 8 characters or more
	Timeout      time.Duration // per SNMP request; 0 means 2 s
	Retries      int           // resends after a timeout; negative means 0
}

// Defaults for the zero values of Access and the options.
const (
	DefaultPort         = 161
	DefaultTimeout      = 2 * time.Second
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
	_, err := p.gosnmpConfig()
	if err != nil {
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
		return nil, fail(permanent(err, "invalid configuration: %v", err))
	}
	tmpl, _ := parseOIDTemplate(p.profile.StatusOID)
	s, err := p.open(ctx)
	if err != nil {
		return nil, fail(err)
	}
	defer s.close()
	vars, err := s.walk(ctx, tmpl.walkRoot())
	if err != nil {
		return nil, fail(err)
	}
	states := make(map[int]power.State, len(vars))
	for _, v := range vars {
		n, ok := tmpl.outlet(v.Name)
		if !ok {
			continue // another index shape, e.g. another unit of a chain
		}
		val, err := intValue(v)
		if err != nil {
			return nil, fail(err)
		}
		states[n] = p.state(val)
	}
	if len(states) == 0 {
		return nil, fail(permanent(nil, "no outlets under %s (wrong profile or OID?)", tmpl.walkRoot()))
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
	if port := p.port(); port != DefaultPort {
		return "pdu " + net.JoinHostPort(p.access.Address, strconv.Itoa(port))
	}
	return "pdu " + p.access.Address
}

func (p *PDU) port() int {
	if p.access.Port == 0 {
		return DefaultPort
	}
	return p.access.Port
}

func (p *PDU) timeout() time.Duration {
	if p.access.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.access.Timeout
}

func (p *PDU) retries() int { return max(p.access.Retries, 0) }

// attempts describes the request budget for messages: "2 attempts of 1s".
func (p *PDU) attempts() string {
	if p.retries() == 0 {
		return "1 attempt of " + p.timeout().String()
	}
	return fmt.Sprintf("%d attempts of %s", p.retries()+1, p.timeout())
}

// deviceError wraps a failure (or a context error) for the task engine.
func (p *PDU) deviceError(device, op string, err error) error {
	var f *failure
	if !errors.As(err, &f) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			f = contextFailure(err)
		} else {
			f = transient(err, "%v", err)
		}
	}
	return &power.DeviceError{Device: device, Op: op, Transient: f.transient, Msg: f.msg, Err: f}
}

// gosnmpConfig builds the client settings, or says what is wrong with them.
// Its messages name fields, never their secret values.
func (p *PDU) gosnmpConfig() (*gosnmp.GoSNMP, error) {
	a := p.access
	if strings.TrimSpace(a.Address) == "" {
		return nil, errors.New("PDU address is empty")
	}
	if a.Port < 0 || a.Port > 65535 {
		return nil, fmt.Errorf("PDU port %d is out of range", a.Port)
	}
	g := &gosnmp.GoSNMP{
		Target:  a.Address,
		Port:    uint16(p.port()),
		Timeout: p.timeout(),
		Retries: p.retries(),
		// Outlet tables are small; a modest repetition count suits old
		// management cards with small buffers.
		MaxRepetitions: 24,
	}
	switch strings.ToLower(a.Version) {
	case "v1", "1":
		g.Version = gosnmp.Version1
	case "", "v2c", "2c", "v2":
		g.Version = gosnmp.Version2c
	case "v3", "3":
		g.Version = gosnmp.Version3
	default:
		return nil, fmt.Errorf("SNMP version %q is not v1, v2c or v3", a.Version)
	}
	if g.Version != gosnmp.Version3 {
		if a.Community.Reveal() == "" {
			return nil, errors.New("SNMP community is empty")
		}
		g.Community = a.Community.Reveal()
		return g, nil
	}
	if a.V3User == "" {
		return nil, errors.New("SNMPv3 user is empty")
	}
	usm := &gosnmp.UsmSecurityParameters{UserName: a.V3User, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	g.MsgFlags = gosnmp.NoAuthNoPriv
	if a.AuthProtocol != "" {
		proto, ok := authProtocols[strings.ToUpper(a.AuthProtocol)]
		if !ok {
			return nil, fmt.Errorf("SNMPv3 auth protocol %q is not MD5, SHA, SHA224, SHA256, SHA384 or SHA512", a.AuthProtocol)
		}
		if len(a.AuthPass.Reveal()) < 8 {
			return nil, errors.New("SNMPv3 auth password must have at least 8 characters")
		}
		usm.AuthenticationProtocol, usm.AuthenticationPassphrase = proto, a.AuthPass.Reveal()
		g.MsgFlags = gosnmp.AuthNoPriv
	}
	if a.PrivProtocol != "" {
		if a.AuthProtocol == "" {
			return nil, errors.New("SNMPv3 privacy needs an auth protocol too")
		}
		proto, ok := privProtocols[strings.ToUpper(a.PrivProtocol)]
		if !ok {
			return nil, fmt.Errorf("SNMPv3 privacy protocol %q is not DES, AES, AES192 or AES256", a.PrivProtocol)
		}
		if len(a.PrivPass.Reveal()) < 8 {
			return nil, errors.New("SNMPv3 privacy password must have at least 8 characters")
		}
		usm.PrivacyProtocol, usm.PrivacyPassphrase = proto, a.PrivPass.Reveal()
		g.MsgFlags = gosnmp.AuthPriv
	}
	g.SecurityModel = gosnmp.UserSecurityModel
	g.SecurityParameters = usm
	return g, nil
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA1": gosnmp.SHA, "SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES128": gosnmp.AES, "AES192": gosnmp.AES192, "AES256": gosnmp.AES256,
}
