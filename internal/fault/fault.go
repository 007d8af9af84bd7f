// Package fault holds the error kinds shared by the domain packages. Every
// error a client may see is a *Error with a message written for people; any
// other error is an internal failure and its text never leaves the process.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the single place that maps errors to HTTP.
type Kind int

// The kinds of client-visible failure.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	KindBusy
	KindRateLimited
	KindUnavailable
	KindTooLarge
)

// Error is a failure whose Msg may be shown to clients. Cause is kept for
// logs only.
type Error struct {
	Kind  Kind
	Msg   string
	Field string         // the input field at fault, if any
	Value map[string]any // extra machine-readable detail for the client, if any
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

// Unwrap gives the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is lets errors.Is(err, ErrNotFound) and friends match by kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is checks; they match any *Error of the same kind.
var (
	ErrNotFound     = &Error{Kind: KindNotFound}
	ErrConflict     = &Error{Kind: KindConflict}
	ErrInvalid      = &Error{Kind: KindInvalid}
	ErrForbidden    = &Error{Kind: KindForbidden}
	ErrUnauthorized = &Error{Kind: KindUnauthorized}
	ErrBusy         = &Error{Kind: KindBusy}
	ErrRateLimited  = &Error{Kind: KindRateLimited}
	ErrUnavailable  = &Error{Kind: KindUnavailable}
)

// NotFound reports a missing object, named for the client ("server 12 not found").
func NotFound(what string, id any) *Error {
	return &Error{Kind: KindNotFound, Msg: fmt.Sprintf("%s %v not found", what, id)}
}

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Msg: field + ": " + fmt.Sprintf(format, args...)}
}

// Conflict reports a request that contradicts the current state.
func Conflict(format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Msg: fmt.Sprintf(format, args...)}
}

// Forbidden reports an action the caller's role does not allow.
func Forbidden(msg string) *Error { return &Error{Kind: KindForbidden, Msg: msg} }

// Unauthorized reports a missing, wrong or expired credential.
func Unauthorized(msg string) *Error { return &Error{Kind: KindUnauthorized, Msg: msg} }

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe, true
	}
	return nil, false
}
