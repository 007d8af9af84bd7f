// Package power turns servers on, off and over through their BMC or their
// PDU outlet. The drivers live in power/ipmi and power/pdu; this package
// owns the small interfaces they implement and the error classification
// that the task engine uses to decide between retrying and failing.
package power

import (
	"context"

	"github.com/dcimd/dcimd/internal/device"
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

// DeviceError is a failed device call (see device.Error).
type DeviceError = device.Error

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool { return device.IsTransient(err) }
