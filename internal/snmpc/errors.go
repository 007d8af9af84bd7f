package snmpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/gosnmp/gosnmp"
)

// Error is a failed SNMP exchange, already classified. Drivers turn it
// into their domain's device error, adding the device and the operation.
type Error struct {
	// Transient errors (no answer, an unreachable agent, an agent's own
	// trouble) may pass on a retry; the others (bad credentials, a refused
	// SET, a missing object) will not.
	Transient bool
	// Msg is readable for operators and never contains a secret.
	Msg string
	// Status is the error-status of the agent's answer when the agent
	// refused the request (notWritable, noAccess, tooBig, ...); NoError
	// when the failure is not such an answer.
	Status gosnmp.SNMPError
	// Index is the 1-based position of the varbind the error-status
	// points at (the request's error-index); 0 when unknown.
	Index int
	Err   error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap gives the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent makes a failure that a retry will not fix.
func Permanent(err error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Err: err}
}

// Transient makes a failure worth retrying.
func Transient(err error, format string, args ...any) *Error {
	return &Error{Transient: true, Msg: fmt.Sprintf(format, args...), Err: err}
}

// AsError gives the *Error in err's chain, or classifies err: context
// errors and anything unknown are transient. nil stays nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return contextError(err)
	}
	return Transient(err, "%v", err)
}

// IsTransient reports whether err is worth retrying; errors that are not
// an *Error are.
func IsTransient(err error) bool { return AsError(err).Transient }

// contextError classifies the end of the caller's context.
func contextError(err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return Transient(err, "deadline exceeded")
	}
	return Transient(err, "cancelled")
}

// classify turns a gosnmp or network error into an *Error. The caller's
// context ending wins: its socket was closed under the request.
func classify(ctx context.Context, a Access, err error) *Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return contextError(ctxErr)
	}
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return Permanent(err, "SNMPv3: the agent does not know user %q", a.V3User)
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return Permanent(err, "SNMPv3: authentication failed for user %q (wrong auth password or protocol)", a.V3User)
	case errors.Is(err, gosnmp.ErrDecryption):
		return Permanent(err, "SNMPv3: the agent could not decrypt the request (wrong privacy password or protocol)")
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return Permanent(err, "SNMPv3: the agent does not allow this security level for user %q", a.V3User)
	case errors.Is(err, gosnmp.ErrUnknownSecurityModels):
		return Permanent(err, "SNMPv3: the agent does not support the user-based security model")
	case strings.Contains(err.Error(), "not authentic"):
		// gosnmp has no sentinel for this: once it knows the engine, the
		// agent's unauthenticated Report (usmStatsUnknownUserNames,
		// usmStatsWrongDigests) fails its authentication check instead of
		// being decoded.
		return Permanent(err, "SNMPv3: the agent refused the credentials of user %q (unknown user, wrong auth password or protocol, or a security level the user may not use)", a.V3User)
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		// An SNMP agent does not answer a request it cannot authenticate
		// with a community, so a wrong community looks like a dead agent.
		return Transient(err, "no answer after %s: agent down or unreachable, or it dropped the request (v1/v2c agents ignore a wrong community, v3 agents a wrong privacy password)",
			a.Attempts())
	case errors.Is(err, syscall.ECONNREFUSED):
		return Transient(err, "no SNMP agent listening (port unreachable)")
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Transient(err, "agent unreachable: %v", err)
	}
	var ne net.Error
	var dnsErr *net.DNSError
	if errors.As(err, &ne) || errors.As(err, &dnsErr) || errors.Is(err, net.ErrClosed) {
		return Transient(err, "network error: %v", err)
	}
	// Anything else is a malformed exchange; a retry may get a clean one.
	return Transient(err, "SNMP exchange failed: %v", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusError is the agent's refusal of a request (error-status other
// than noError). The agent's own trouble may pass; everything else is a
// property of the request, the credentials or the object.
func statusError(status gosnmp.SNMPError, index int, op, oid string) *Error {
	e := Permanent(nil, "agent refused the %s of %s: %s", op, oid, StatusName(status))
	e.Status, e.Index = status, index
	switch status {
	case gosnmp.NoAccess, gosnmp.AuthorizationError:
		e.Msg += " (the community or user lacks access)"
	case gosnmp.GenErr, gosnmp.ResourceUnavailable, gosnmp.CommitFailed, gosnmp.UndoFailed:
		e.Transient = true
	}
	return e
}

// CheckValue turns an exception value (noSuchObject, noSuchInstance,
// endOfMibView) into a permanent error; op is "GET", "SET", ...
func CheckValue(op string, v gosnmp.SnmpPDU) error {
	switch v.Type {
	case gosnmp.NoSuchObject:
		return Permanent(nil, "agent refused the %s of %s: noSuchObject (not implemented by the agent: wrong profile or OID?)", op, v.Name)
	case gosnmp.NoSuchInstance:
		return Permanent(nil, "agent refused the %s of %s: noSuchInstance (no such row or index)", op, v.Name)
	case gosnmp.EndOfMibView:
		return Permanent(nil, "agent refused the %s of %s: endOfMibView", op, v.Name)
	}
	return nil
}

// IsException reports whether v is noSuchObject, noSuchInstance or
// endOfMibView rather than a value.
func IsException(v gosnmp.SnmpPDU) bool {
	return v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance || v.Type == gosnmp.EndOfMibView
}

// StatusName spells SNMP error-status values as RFC 3416 does.
func StatusName(e gosnmp.SNMPError) string {
	names := [...]string{"noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
		"wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
		"resourceUnavailable", "commitFailed", "undoFailed", "authorizationError", "notWritable", "inconsistentName"}
	if int(e) >= 0 && int(e) < len(names) {
		return names[e]
	}
	return fmt.Sprintf("error-status %d", int(e))
}
