package pdu

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"syscall"

	"github.com/gosnmp/gosnmp"
)

// failure is an SNMP-level failure, already classified; the outlet code
// turns it into a power.DeviceError with the device and the operation.
type failure struct {
	transient bool
	msg       string // readable, never contains a community or password
	err       error
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.err }

func permanent(err error, format string, args ...any) *failure {
	return &failure{msg: fmt.Sprintf(format, args...), err: err}
}

func transient(err error, format string, args ...any) *failure {
	return &failure{transient: true, msg: fmt.Sprintf(format, args...), err: err}
}

// session is one gosnmp connection, used for one Controller call.
type session struct {
	g    *gosnmp.GoSNMP
	pdu  *PDU
	stop func() bool
}

// open connects a new UDP socket. Closing the socket when ctx ends makes
// a pending read return at once; gosnmp alone only notices ctx between
// retries.
func (p *PDU) open(ctx context.Context) (*session, error) {
	g, err := p.gosnmpConfig()
	if err != nil {
		return nil, permanent(err, "invalid configuration: %v", err)
	}
	g.Context = ctx
	if err := g.Connect(); err != nil {
		return nil, p.classify(ctx, err)
	}
	conn := g.Conn
	return &session{g: g, pdu: p, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}, nil
}

func (s *session) close() {
	s.stop()
	_ = s.g.Close()
}

// getInt reads one integer object.
func (s *session) getInt(ctx context.Context, oid string) (int, error) {
	pkt, err := s.g.Get([]string{oid})
	if err != nil {
		return 0, s.pdu.classify(ctx, err)
	}
	if err := checkPacket(pkt, "GET", oid); err != nil {
		return 0, err
	}
	return intValue(pkt.Variables[0])
}

// setInt writes one integer object. gosnmp returns no error when the
// agent refuses a SET, so the answer's error status and varbind type
// decide.
func (s *session) setInt(ctx context.Context, oid string, v int) error {
	pkt, err := s.g.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Integer, Value: v}})
	if err != nil {
		return s.pdu.classify(ctx, err)
	}
	return checkPacket(pkt, "SET", oid)
}

// walk reads every instance under root.
func (s *session) walk(ctx context.Context, root string) ([]gosnmp.SnmpPDU, error) {
	var (
		vars []gosnmp.SnmpPDU
		err  error
	)
	if s.g.Version == gosnmp.Version1 {
		vars, err = s.g.WalkAll(root) // SNMPv1 has no GETBULK
	} else {
		vars, err = s.g.BulkWalkAll(root)
	}
	if err != nil {
		return nil, s.pdu.classify(ctx, err)
	}
	return vars, nil
}

// checkPacket turns an answer's error status and exception varbinds into
// permanent failures naming the SNMP error.
func checkPacket(pkt *gosnmp.SnmpPacket, op, oid string) error {
	if pkt.Error != gosnmp.NoError {
		name := errorStatusName(pkt.Error)
		f := permanent(nil, "agent refused the %s of %s: %s", op, oid, name)
		if pkt.Error == gosnmp.NoAccess || pkt.Error == gosnmp.AuthorizationError {
			f.msg += " (the community or user lacks access)"
		}
		switch pkt.Error {
		case gosnmp.GenErr, gosnmp.ResourceUnavailable, gosnmp.CommitFailed, gosnmp.UndoFailed:
			f.transient = true // the agent's own trouble; may pass
		}
		return f
	}
	if len(pkt.Variables) != 1 {
		return transient(nil, "agent answered the %s of %s with %d values, want 1", op, oid, len(pkt.Variables))
	}
	switch v := pkt.Variables[0]; v.Type {
	case gosnmp.NoSuchObject:
		return permanent(nil, "agent refused the %s of %s: noSuchObject (wrong profile or OID?)", op, oid)
	case gosnmp.NoSuchInstance:
		return permanent(nil, "agent refused the %s of %s: noSuchInstance (no such outlet?)", op, oid)
	case gosnmp.EndOfMibView:
		return permanent(nil, "agent refused the %s of %s: endOfMibView", op, oid)
	}
	return nil
}

func intValue(v gosnmp.SnmpPDU) (int, error) {
	switch v.Type {
	case gosnmp.Integer, gosnmp.Gauge32, gosnmp.Counter32, gosnmp.Uinteger32, gosnmp.TimeTicks:
		n := gosnmp.ToBigInt(v.Value)
		if !n.IsInt64() || n.Cmp(big.NewInt(int64(^uint32(0)))) > 0 {
			return 0, permanent(nil, "%s holds %s, out of range", v.Name, n)
		}
		return int(n.Int64()), nil
	}
	return 0, permanent(nil, "%s holds %s, want an INTEGER (wrong profile or OID?)", v.Name, typeName(v.Type))
}

// classify turns a gosnmp or network error into a failure.
func (p *PDU) classify(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return contextFailure(ctxErr)
	}
	var f *failure
	switch {
	case errors.As(err, &f):
		return f
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return permanent(err, "SNMPv3: the agent does not know user %q", p.access.V3User)
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return permanent(err, "SNMPv3: authentication failed for user %q (wrong auth password or protocol)", p.access.V3User)
	case errors.Is(err, gosnmp.ErrDecryption):
		return permanent(err, "SNMPv3: the agent could not decrypt the request (wrong privacy password or protocol)")
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return permanent(err, "SNMPv3: the agent does not allow this security level for user %q", p.access.V3User)
	case errors.Is(err, gosnmp.ErrUnknownSecurityModels):
		return permanent(err, "SNMPv3: the agent does not support the user-based security model")
	case strings.Contains(err.Error(), "not authentic"):
		// gosnmp has no sentinel for this: once it knows the engine, the
		// agent's unauthenticated Report (usmStatsUnknownUserNames,
		// usmStatsWrongDigests) fails its authentication check instead of
		// being decoded.
		return permanent(err, "SNMPv3: the agent refused the credentials of user %q (unknown user, wrong auth password or protocol, or a security level the user may not use)", p.access.V3User)
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return transient(err, "no answer after %s: agent down or unreachable, or it dropped the request (v1/v2c agents ignore a wrong community, v3 agents a wrong privacy password)",
			p.attempts())
	case errors.Is(err, syscall.ECONNREFUSED):
		return transient(err, "no SNMP agent listening (port unreachable)")
	}
	var ne net.Error
	var dnsErr *net.DNSError
	if errors.As(err, &ne) || errors.As(err, &dnsErr) || errors.Is(err, net.ErrClosed) {
		return transient(err, "network error: %v", err)
	}
	// Anything else is a malformed exchange; a retry may get a clean one.
	return transient(err, "SNMP exchange failed: %v", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func contextFailure(err error) *failure {
	if errors.Is(err, context.DeadlineExceeded) {
		return transient(err, "deadline exceeded")
	}
	return transient(err, "cancelled")
}

// errorStatusName spells SNMP error-status values as RFC 3416 does.
func errorStatusName(e gosnmp.SNMPError) string {
	names := [...]string{"noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
		"wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
		"resourceUnavailable", "commitFailed", "undoFailed", "authorizationError", "notWritable", "inconsistentName"}
	if int(e) >= 0 && int(e) < len(names) {
		return names[e]
	}
	return fmt.Sprintf("error-status %d", int(e))
}

func typeName(t gosnmp.Asn1BER) string {
	switch t {
	case gosnmp.OctetString:
		return "an OCTET STRING"
	case gosnmp.ObjectIdentifier:
		return "an OBJECT IDENTIFIER"
	case gosnmp.IPAddress:
		return "an IpAddress"
	case gosnmp.Null:
		return "NULL"
	}
	return "type " + t.String()
}
