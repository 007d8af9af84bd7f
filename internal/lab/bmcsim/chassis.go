package bmcsim

import (
	"context"
	"sync"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"
)

// chassis is the simulated machine behind the BMC (hal.ChassisHAL).
type chassis struct {
	b *BMC

	mu      sync.Mutex
	on      bool // chassis power
	ac      bool // mains power (a PDU outlet)
	failing bool // power commands acknowledged without effect
	boot    *types.BootOptionParam_BootFlags
	ack     *types.BootOptionParam_BootInfoAcknowledge
}

// errNotInPresentState is completion code D5h, which the handler passes
// on as it is.
var errNotInPresentState error = types.CodeNotSupported

func (c *chassis) PowerState(context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on, nil
}

func (c *chassis) SetPower(_ context.Context, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.b.n.powerOn.Add(1)
	} else {
		c.b.n.powerOff.Add(1)
	}
	if !c.failing {
		c.on = on
	}
	return nil
}

// PowerCycle is Chassis Control 02h: off, at least a second, on. The
// simulated machine is back at once.
func (c *chassis) PowerCycle(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return errNotInPresentState
	}
	c.b.n.cycle.Add(1)
	return nil
}

// ColdReset is Chassis Control 03h (hard reset).
func (c *chassis) ColdReset(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return errNotInPresentState
	}
	c.b.n.reset.Add(1)
	return nil
}

// WarmReset is what go-ipmi's handler calls for Chassis Control 05h, soft
// shutdown: the OS shuts down and the machine powers off.
func (c *chassis) WarmReset(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.n.powerOff.Add(1)
	if !c.failing {
		c.on = false
	}
	return nil
}

func (c *chassis) Identify(context.Context, uint8) error { return nil }

func (c *chassis) IntrusionState(context.Context) (bool, error) { return false, nil }

func (c *chassis) SetBootFlags(_ context.Context, f *types.BootOptionParam_BootFlags) error {
	if f == nil {
		return hal.ErrNotSupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *f
	c.boot = &cp
	c.b.n.setBoot.Add(1)
	return nil
}

func (c *chassis) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.boot == nil {
		return &types.BootOptionParam_BootFlags{}, nil // no override, like a fresh BMC
	}
	cp := *c.boot
	return &cp, nil
}

func (c *chassis) SetBootInfoAcknowledge(_ context.Context, a *types.BootOptionParam_BootInfoAcknowledge) error {
	if a == nil {
		return hal.ErrNotSupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *a
	c.ack = &cp
	return nil
}

func (c *chassis) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ack == nil {
		return &types.BootOptionParam_BootInfoAcknowledge{}, nil
	}
	cp := *c.ack
	return &cp, nil
}

func (c *chassis) acPower() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ac
}

var deviceNames = map[types.BootDeviceSelector]string{
	types.BootDeviceSelectorNoOverride:               "none",
	types.BootDeviceSelectorForcePXE:                 "pxe",
	types.BootDeviceSelectorForceHardDrive:           "disk",
	types.BootDeviceSelectorForceHardDriveSafe:       "safe",
	types.BootDeviceSelectorForceDiagnosticPartition: "diag",
	types.BootDeviceSelectorForceCDROM:               "cdrom",
	types.BootDeviceSelectorForceBIOSSetup:           "bios",
	types.BootDeviceSelectorForceRemoteFloppy:        "remote-floppy",
	types.BootDeviceSelectorForceRemoteCDROM:         "remote-cdrom",
	types.BootDeviceSelectorForceRemoteMedia:         "remote-media",
	types.BootDeviceSelectorForceRemoteHardDrive:     "remote-disk",
	types.BootDeviceSelectorForceFloppy:              "floppy",
}

func deviceName(s types.BootDeviceSelector) string {
	if n, ok := deviceNames[s]; ok {
		return n
	}
	return "unknown"
}
