// Package power turns servers on, off and over through their BMC or their
// PDU outlet. The drivers live in power/ipmi and power/pdu; this package
// owns the small interfaces they implement and the error classification
// that the task engine uses to decide between retrying and failing.
package power

import (
	"context"
	"errors"
	"fmt"
)

// State is a power state as clients see it.
type State string

// Power states.
const (
	On      State = "on"
	Off     State = "off"
	Unknown State = "unknown"
)

// Controller switches one server's power through one path (a BMC or a PDU
// outlet). Every call must honour ctx and its own per-call timeout.
type Controller interface {
	// State reads the current power state.
	State(ctx context.Context) (State, error)
	// On powers on; it succeeds without a command when already on.
	On(ctx context.Context) error
	// Off powers off hard; it succeeds without a command when already off.
	Off(ctx context.Context) error
	// Reset power-cycles (a running server restarts; an off server starts).
	Reset(ctx context.Context) error
}

// BootDevice is where the next boot comes from.
type BootDevice string

// Boot devices.
const (
	BootPXE  BootDevice = "pxe"
	BootDisk BootDevice = "disk"
)

// BootOptions choose the next boot.
type BootOptions struct {
	Device     BootDevice
	Persistent bool // every boot, not only the next one
	EFI        bool // UEFI boot, not legacy BIOS
}

// BootSetter sets the next boot device (BMCs only).
type BootSetter interface {
	SetBoot(ctx context.Context, o BootOptions) error
}

// DeviceError is a failed device call. Transient errors (timeouts, an
// unreachable device, a busy BMC) are worth retrying with backoff; the
// others (wrong password, unsupported command, a rejected SET) are not.
type DeviceError struct {
	Device    string // "bmc 10.0.0.5:623", "pdu 10.0.0.9 outlet 4"
	Op        string // "power on", "read state", ...
	Transient bool
	Msg       string // readable for operators; never contains secrets
	Err       error
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Device, e.Op, e.Msg)
}

// Unwrap gives the underlying error.
func (e *DeviceError) Unwrap() error { return e.Err }

// Retryable reports whether a retry may help (for the task engine).
func (e *DeviceError) Retryable() bool { return e.Transient }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	var de *DeviceError
	if errors.As(err, &de) {
		return de.Transient
	}
	return errors.Is(err, context.DeadlineExceeded)
}
