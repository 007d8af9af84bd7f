// Package device holds the error every device driver returns (BMCs, PDUs,
// switches), so the task engine classifies them all the same way.
package device

import (
	"context"
	"errors"
	"fmt"
)

// Error is a failed device call. Transient errors (timeouts, an
// unreachable device, a busy BMC) are worth retrying with backoff; the
// others (wrong credentials, an unsupported command, a refused SET, a
// read-back mismatch) are not.
type Error struct {
	Device    string // "bmc 10.0.0.5:623", "pdu 10.0.0.9 outlet 4", "switch 10.0.0.2:161"
	Op        string // "power on", "set port 5 down", ...
	Transient bool
	Msg       string // readable for operators; never contains secrets
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Device, e.Op, e.Msg)
}

// Unwrap gives the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether a retry may help (for the task engine).
func (e *Error) Retryable() bool { return e.Transient }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	var de *Error
	if errors.As(err, &de) {
		return de.Transient
	}
	return errors.Is(err, context.DeadlineExceeded)
}
