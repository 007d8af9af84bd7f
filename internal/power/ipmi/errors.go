package ipmi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/bougou/go-ipmi/pkg/types"
)

// Kinds of failure; a *power.DeviceError from this package unwraps to one.
var (
	ErrNoAnswer       = errors.New("no answer from the BMC")
	ErrAuth           = errors.New("BMC login failed")
	ErrPrivilege      = errors.New("privilege not granted")
	ErrCipherSuites   = errors.New("no cipher suite accepted")
	ErrBusy           = errors.New("BMC busy")
	ErrRejected       = errors.New("BMC rejected the request")
	ErrStateUnchanged = errors.New("state did not change")
	ErrConfig         = errors.New("invalid BMC configuration")
	ErrCanceled       = errors.New("call canceled")
	ErrPoolClosed     = errors.New("IPMI pool closed")
)

// failure is a classified error: a kind, whether retrying can help, an
// operator-readable message and the library error behind it.
type failure struct {
	kind      error
	transient bool
	msg       string
	cause     error
}

func (f *failure) Error() string { return f.msg }

func (f *failure) Unwrap() []error {
	if f.cause == nil {
		return []error{f.kind}
	}
	return []error{f.kind, f.cause}
}

func fail(kind error, transient bool, cause error, format string, args ...any) *failure {
	return &failure{kind: kind, transient: transient, msg: fmt.Sprintf(format, args...), cause: cause}
}

// requestError names the IPMI request that failed, for messages.
type requestError struct {
	what string
	err  error
}

func (e *requestError) Error() string { return e.what + ": " + e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// go-ipmi wraps some errors with %v (Connect20 joins its per-suite errors
// that way), so the chain is lost and only the text is left to inspect.
var ccPattern = regexp.MustCompile(`cc: (0x[0-9a-fA-F]{1,2})`)

// completionCode finds the IPMI completion code in err, by type or by text.
func completionCode(err error) (types.CompletionCode, bool) {
	if re, ok := types.IsResponseError(err); ok {
		return re.CompletionCode(), true
	}
	if m := ccPattern.FindStringSubmatch(err.Error()); m != nil {
		v, perr := strconv.ParseUint(m[1], 0, 8)
		if perr == nil {
			return types.CompletionCode(v), true
		}
	}
	return 0, false
}

func contains(err error, subs ...string) bool {
	s := strings.ToLower(err.Error())
	for _, sub := range subs {
		if strings.Contains(s, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

// noAnswer: the BMC stayed silent (read timeout or call deadline).
func noAnswer(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) ||
		contains(err, "no datagram matched", "i/o timeout", "timed out", "deadline exceeded")
}

// refused: ICMP port unreachable came back, nothing listens on the port.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || contains(err, "connection refused")
}

func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || contains(err, "context canceled")
}

// deadSession: the transport failed on a session that used to work, which
// is what a BMC that restarted or expired the session looks like.
func deadSession(err error) bool {
	return noAnswer(err) || refused(err) || errors.Is(err, net.ErrClosed)
}

// answered: the BMC replied, so the session is alive whatever the reply.
func answered(err error) bool {
	var f *failure
	if errors.As(err, &f) && (f.kind == ErrStateUnchanged || f.kind == ErrRejected) {
		return true
	}
	_, ok := types.IsResponseError(err)
	return ok
}

// transientCodes are completion codes that mean "not now" rather than "never".
var transientCodes = map[types.CompletionCode]bool{
	types.CodeNodeBusy:                            true,
	types.CodeProcessTimeout:                      true,
	types.CodeOutOfSpace:                          true,
	types.CodeCannotProvideResponse:               true,
	types.CodeCannotExecuteDuplicatedRequest:      true,
	types.CodeCannotProvideResponseSDRRInUpdate:   true,
	types.CodeCannotProvideResponseFirmwareUpdate: true,
	types.CodeCannotProvideResponseBMCInitialize:  true,
	types.CodeDestinationUnavailable:              true,
}

// classifyRequest turns the error of an in-session request into a failure.
func classifyRequest(err error, cfg Config) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	what := "the request"
	var re *requestError
	if errors.As(err, &re) {
		what = re.what
	}
	if cc, ok := completionCode(err); ok {
		switch cc {
		case types.CodeInvalidCommand, types.CodeInvalidCommandForLUN, types.CodeNotSupported, types.CodeIllegalCommand:
			return fail(ErrRejected, false, err, "the BMC does not support %s (completion code %#02x: %s)", what, uint8(cc), cc)
		case types.CodeInsufficientPrivilege:
			return fail(ErrPrivilege, false, err, "the BMC refused %s at %s privilege (completion code 0xd4); use a user with more privilege", what, cfg.Privilege)
		}
		return fail(ErrRejected, transientCodes[cc], err, "the BMC answered %s with completion code %#02x (%s)", what, uint8(cc), cc)
	}
	return classifyTransport(err, cfg, what)
}

// classifyTransport covers failures below IPMI: silence, refusal, cancel.
func classifyTransport(err error, cfg Config, what string) *failure {
	switch {
	case canceled(err):
		return fail(ErrCanceled, true, err, "canceled during %s", what)
	case noAnswer(err):
		return fail(ErrNoAnswer, true, err, "no answer from the BMC to %s (waited up to %s per try, %d tries)", what, cfg.perTry(), cfg.Retries+1)
	case refused(err):
		return fail(ErrNoAnswer, true, err, "nothing answers IPMI on udp port %d (connection refused) during %s", cfg.Port, what)
	}
	return fail(ErrNoAnswer, true, err, "IPMI exchange failed during %s: %v", what, err)
}

// classifyConnect turns a go-ipmi Connect error into a failure and says
// whether the next cipher suite is worth trying.
func classifyConnect(err error, cfg Config, suite int) (f *failure, nextSuite bool) {
	user := strconv.Quote(cfg.Username)
	badLogin := func() *failure {
		return fail(ErrAuth, false, err, "login as %s failed: wrong user name or password", user)
	}
	if errors.As(err, &f) {
		return f, false
	}
	cc, hasCC := completionCode(err)
	switch {
	case canceled(err):
		return fail(ErrCanceled, true, err, "canceled while opening a session"), false

	case contains(err, "Get Channel Authentication Capabilities failed", "GetChannelAuthenticationCapabilities failed"):
		if hasCC {
			return fail(ErrRejected, false, err, "the BMC rejected Get Channel Authentication Capabilities (completion code %#02x); is IPMI over LAN enabled?", uint8(cc)), false
		}
		return classifyTransport(err, cfg, "Get Channel Authentication Capabilities"), false

	case contains(err, "Open Session failed"):
		switch {
		case contains(err, "Insufficient resources"):
			return fail(ErrBusy, true, err, "the BMC has no free session slot"), false
		case contains(err, "Invalid role", "Unauthorized role"):
			return fail(ErrPrivilege, false, err, "the BMC refuses sessions at %s privilege", cfg.Privilege), false
		case noAnswer(err):
			// Some BMCs ignore suites they do not know instead of rejecting them.
			return fail(ErrNoAnswer, true, err, "no answer to RMCP+ Open Session with cipher suite %d", suite), true
		case refused(err) || canceled(err):
			return classifyTransport(err, cfg, "RMCP+ Open Session"), false
		}
		return fail(ErrCipherSuites, false, err, "the BMC rejected cipher suite %d", suite), true

	case contains(err, "rakp1 failed", "rakp3 failed"):
		switch {
		case contains(err, "RAKP authentication failed", "Unauthorized name", "Invalid name length", "Invalid integrity check value"):
			return badLogin(), false
		case contains(err, "Invalid role", "Unauthorized role"):
			return fail(ErrPrivilege, false, err, "user %s may not open a session at %s privilege", user, cfg.Privilege), false
		case contains(err, "Insufficient resources"):
			return fail(ErrBusy, true, err, "the BMC has no free session slot"), false
		case contains(err, "Cipher Suite match", "algorithm"):
			return fail(ErrCipherSuites, false, err, "the BMC rejected cipher suite %d during RAKP", suite), true
		case noAnswer(err) || refused(err):
			return classifyTransport(err, cfg, "RAKP session setup"), false
		}
		return fail(ErrRejected, false, err, "RMCP+ session setup with cipher suite %d failed: %v", suite, err), false

	case contains(err, "GetSessionChallenge failed"):
		if hasCC && (cc == 0x81 || cc == 0x82) {
			return badLogin(), false
		}
		if hasCC {
			return fail(ErrRejected, false, err, "the BMC rejected Get Session Challenge (completion code %#02x)", uint8(cc)), false
		}
		return classifyTransport(err, cfg, "Get Session Challenge"), false

	case contains(err, "ActivateSession failed"):
		switch {
		case hasCC && cc >= 0x81 && cc <= 0x83:
			return fail(ErrBusy, true, err, "the BMC has no free session slot (completion code %#02x)", uint8(cc)), false
		case hasCC && cc == 0x86:
			return fail(ErrPrivilege, false, err, "user %s may not open a session at %s privilege", user, cfg.Privilege), false
		case hasCC:
			return badLogin(), false
		case noAnswer(err):
			// IPMI v1.5 BMCs drop an Activate Session whose auth code does not
			// verify; having answered the challenge, silence means a bad password.
			f := badLogin()
			f.msg += " (the BMC answered the session challenge but ignored Activate Session)"
			return f, false
		}
		return classifyTransport(err, cfg, "Activate Session"), false

	case contains(err, "SetSessionPrivilegeLevel"):
		if hasCC {
			return fail(ErrPrivilege, false, err, "user %s may not use %s privilege (completion code %#02x)", user, cfg.Privilege, uint8(cc)), false
		}
		return classifyTransport(err, cfg, "Set Session Privilege Level"), false

	case contains(err, "not valid cipher suite"):
		return fail(ErrConfig, false, err, "cipher suite %d is not supported by the client library", suite), true
	}
	if hasCC {
		return fail(ErrRejected, false, err, "opening a session failed with completion code %#02x", uint8(cc)), false
	}
	return classifyTransport(err, cfg, "session setup"), false
}
