package ipmi

import (
	"context"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/dcimd/dcimd/internal/power"
)

// Read-back polling: first read right after the command, then backing off.
const (
	firstPoll = 50 * time.Millisecond
	maxPoll   = time.Second
)

// State reads the chassis power state.
func (b *BMC) State(ctx context.Context) (power.State, error) {
	state := power.Unknown
	err := b.run(ctx, "read state", func(ctx context.Context, x *call) error {
		on, err := x.powerOn(ctx)
		if err != nil {
			return err
		}
		state = stateOf(on)
		return nil
	})
	return state, err
}

// On powers on; it sends nothing when the chassis is already on.
func (b *BMC) On(ctx context.Context) error { return b.setPower(ctx, "power on", true) }

// Off powers off hard; it sends nothing when the chassis is already off.
func (b *BMC) Off(ctx context.Context) error { return b.setPower(ctx, "power off", false) }

func (b *BMC) setPower(ctx context.Context, op string, want bool) error {
	return b.run(ctx, op, func(ctx context.Context, x *call) error {
		on, err := x.powerOn(ctx)
		if err != nil {
			return err
		}
		if on == want {
			b.log.Debug("ipmi power already in the wanted state, no command sent", "op", op, "state", stateOf(on))
			return nil
		}
		ctl := chassis.ChassisControlPowerDown
		if want {
			ctl = chassis.ChassisControlPowerUp
		}
		if err := x.control(ctx, op, ctl); err != nil {
			return err
		}
		return x.waitPower(ctx, op, want)
	})
}

// Reset hard-resets a running server and powers on one that is off.
func (b *BMC) Reset(ctx context.Context) error {
	const op = "reset"
	return b.run(ctx, op, func(ctx context.Context, x *call) error {
		on, err := x.powerOn(ctx)
		if err != nil {
			return err
		}
		if !on {
			b.log.Info("ipmi reset of a server that is off: powering on", "op", op)
			if err := x.control(ctx, op, chassis.ChassisControlPowerUp); err != nil {
				return err
			}
			return x.waitPower(ctx, op, true)
		}
		x.committed = true
		if err := x.control(ctx, op, chassis.ChassisControlHardReset); err != nil {
			return err
		}
		return x.waitPower(ctx, op, true)
	})
}

// SetBoot sets the boot device (Set System Boot Options, boot flags
// parameter 5) and reads it back.
func (b *BMC) SetBoot(ctx context.Context, o power.BootOptions) error {
	const op = "set boot device"
	var sel types.BootDeviceSelector
	switch o.Device {
	case power.BootPXE:
		sel = types.BootDeviceSelectorForcePXE
	case power.BootDisk:
		sel = types.BootDeviceSelectorForceHardDrive
	default:
		return b.deviceError(op, fail(ErrConfig, false, nil, "unknown boot device %q (want %q or %q)", o.Device, power.BootPXE, power.BootDisk))
	}
	bootType := types.BIOSBootTypeLegacy
	if o.EFI {
		bootType = types.BIOSBootTypeEFI
	}
	return b.run(ctx, op, func(ctx context.Context, x *call) error {
		err := x.request(ctx, "Set System Boot Options (boot flags)", func(ctx context.Context, c *client.Client) error {
			return c.SetBootDevice(ctx, sel, bootType, o.Persistent)
		})
		if err != nil {
			return err
		}
		var got types.BootOptionParam_BootFlags
		err = x.request(ctx, "Get System Boot Options (boot flags)", func(ctx context.Context, c *client.Client) error {
			return c.GetSystemBootOptionsParamFor(ctx, &got)
		})
		if answered(err) {
			// The write was accepted; a BMC that cannot read it back is not a failure.
			b.log.Warn("ipmi boot flags not readable after setting them", "op", op, "err", b.scrub(err.Error()))
			return nil
		}
		if err != nil {
			return err
		}
		if got.BootDeviceSelector != sel {
			return fail(ErrStateUnchanged, false, nil,
				"the BMC accepted boot device %s but reports %s", sel, got.BootDeviceSelector)
		}
		if got.Persist != o.Persistent || got.BIOSBootType != bootType {
			// ipmi_sim, for one, keeps only the device selector.
			b.log.Info("ipmi BMC does not echo the persistent/EFI boot flags", "op", op,
				"persistent", got.Persist, "efi", bool(got.BIOSBootType))
		}
		return nil
	})
}

func (x *call) powerOn(ctx context.Context) (bool, error) {
	var on bool
	err := x.request(ctx, "Get Chassis Status", func(ctx context.Context, c *client.Client) error {
		r, err := c.GetChassisStatus(ctx)
		if err != nil {
			return err
		}
		on = r.PowerIsOn
		return nil
	})
	return on, err
}

func (x *call) control(ctx context.Context, op string, ctl chassis.ChassisControl) error {
	name := controlNames[ctl]
	x.b.log.Info("ipmi chassis control", "op", op, "control", name, "cipher_suite", x.s.suite)
	return x.request(ctx, "Chassis Control ("+name+")", func(ctx context.Context, c *client.Client) error {
		_, err := c.ChassisControl(ctx, ctl)
		return err
	})
}

// waitPower polls the power state until it is want, stopping early enough
// that the last read still fits in the call deadline.
func (x *call) waitPower(ctx context.Context, op string, want bool) error {
	start := time.Now()
	deadline, _ := ctx.Deadline()
	wait := firstPoll
	for reads := 1; ; reads++ {
		on, err := x.powerOn(ctx)
		if err != nil {
			return err
		}
		if on == want {
			return nil
		}
		if time.Until(deadline) < wait+x.b.cfg.perTry() {
			return fail(ErrStateUnchanged, true, nil,
				"%s was accepted but the chassis still reports power %s after %s (%d reads)",
				op, stateOf(on), time.Since(start).Round(time.Millisecond), reads)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, maxPoll)
	}
}

var controlNames = map[chassis.ChassisControl]string{
	chassis.ChassisControlPowerDown: "power down",
	chassis.ChassisControlPowerUp:   "power up",
	chassis.ChassisControlHardReset: "hard reset",
}

func stateOf(on bool) power.State {
	if on {
		return power.On
	}
	return power.Off
}
