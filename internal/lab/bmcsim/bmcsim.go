// Package bmcsim runs simulated BMCs: go-ipmi's reference BMC server
// (github.com/bougou/go-ipmi/pkg/server) on loopback UDP ports, with a
// chassis that keeps power and boot state the way a real machine does,
// counters of what it was asked, and knobs for fault tests (slow answers,
// power commands without effect, loss of AC power).
//
// A BMC speaks IPMI v2.0 (lanplus, cipher suites 3 and 17 by default) and
// v1.5 (lan). It is cheap: two goroutines and a UDP socket each, so
// hundreds fit in one test process.
//
// Power semantics, as on typical server BMCs:
//   - power on / power off (hard) switch the chassis; on when on, or off
//     when off, is acknowledged and changes nothing.
//   - soft shutdown (ACPI) powers a running chassis off at once.
//   - hard reset and power cycle of a running chassis leave it on.
//   - hard reset and power cycle of a chassis that is off are rejected
//     with completion code D5h ("not supported in present state"), which is
//     what many BMCs answer; our driver never sends them to an off machine
//     (its Reset of an off server is a power on).
//   - the simulator never consumes boot flags: a real BIOS clears a
//     once-only boot device at the next boot, this one keeps it for
//     inspection.
package bmcsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/clock"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Defaults for Options.
const (
	DefaultAddr     = "127.0.0.1:0"
	DefaultUser     = "admin"
	DefaultPassword = "bmcsim-secret"
)

// DefaultCipherSuites are the RMCP+ suites a BMC offers unless told otherwise.
var DefaultCipherSuites = []int{3, 17}

// Options configure one simulated BMC.
type Options struct {
	// Addr is the UDP address to listen on; default 127.0.0.1:0 (a free port).
	Addr string
	// User and Password are the one administrator account (user id 2).
	// Passwords longer than 20 bytes are refused (IPMI v2.0 limit).
	User, Password string
	// CipherSuites offered for lanplus sessions; default {3, 17}.
	CipherSuites []int
	// PowerOn starts the chassis powered on.
	PowerOn bool
	// Delay holds every answer back this long (for fault tests).
	Delay time.Duration
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.Password == "" {
		o.Password = DefaultPassword
	}
	if len(o.CipherSuites) == 0 {
		o.CipherSuites = DefaultCipherSuites
	}
	return o
}

// Counters are what a BMC was asked to do: acknowledged chassis commands
// (a rejected reset is not counted) and established sessions (lanplus
// RAKP handshakes and v1.5 Activate Session that succeeded). Soft shutdown
// counts as PowerOff. Commands acknowledged while SetPowerFailure is on
// are counted although they change nothing.
type Counters struct {
	PowerOn, PowerOff, Reset, Cycle, SetBoot, Sessions int64
}

func (c Counters) add(o Counters) Counters {
	return Counters{PowerOn: c.PowerOn + o.PowerOn, PowerOff: c.PowerOff + o.PowerOff, Reset: c.Reset + o.Reset,
		Cycle: c.Cycle + o.Cycle, SetBoot: c.SetBoot + o.SetBoot, Sessions: c.Sessions + o.Sessions}
}

type counters struct {
	powerOn, powerOff, reset, cycle, setBoot, sessions atomic.Int64
}

// BMC is one running simulated BMC.
type BMC struct {
	opts    Options
	addr    *net.UDPAddr
	srv     *server.Server
	chassis *chassis
	conn    *conn
	n       counters

	stopCtx   func() bool // detaches the context watcher
	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed when Serve has returned
}

// Start listens on opts.Addr and serves until ctx ends or Close is called.
func Start(ctx context.Context, opts Options) (*BMC, error) {
	opts = opts.withDefaults()
	if len(opts.User) > 16 {
		return nil, fmt.Errorf("bmcsim: user %q is longer than 16 bytes", opts.User)
	}
	if len(opts.Password) > 20 {
		return nil, errors.New("bmcsim: password is longer than 20 bytes")
	}
	suites := make([]types.CipherSuiteID, len(opts.CipherSuites))
	for i, s := range opts.CipherSuites {
		if s < 0 || s > 255 || !bmc.SupportedCipherSuite(types.CipherSuiteID(s)) {
			return nil, fmt.Errorf("bmcsim: cipher suite %d is not implemented by go-ipmi's server", s)
		}
		suites[i] = types.CipherSuiteID(s)
	}
	ua, err := net.ResolveUDPAddr("udp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("bmcsim: resolve %q: %w", opts.Addr, err)
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("bmcsim: listen on %s: %w", opts.Addr, err)
	}

	b := &BMC{opts: opts, addr: uc.LocalAddr().(*net.UDPAddr), done: make(chan struct{})}
	b.chassis = &chassis{b: b, on: opts.PowerOn, ac: true}
	h := &simHAL{HAL: mock.New(), ch: b.chassis}
	state := bmc.New(bmc.DeviceInfo{IPMIVersion: 0x20, DeviceID: 0x20, FirmwareMajor: 1, ManufacturerID: 0xA2B7},
		guidFor(b.addr.Port), h, bmc.WithClock(clock.Real))
	u, err := state.Users.Add(2, opts.User)
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("bmcsim: add user: %w", err)
	}
	u.SetPassword([]byte(opts.Password))
	u.Enabled = true
	u.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: bmc.PrivilegeLevelAdministrator, Enabled: true}

	reg := handlers.NewRegistry()
	reg.Use(b.countV15Sessions) // before registration: middleware wraps at Register time
	handlers.RegisterAllHandlers(reg)

	// No read deadline: Close closes the socket, which ends Serve's read,
	// so an idle BMC costs no wakeups.
	b.conn = &conn{PacketConn: udp.Wrap(uc, udp.WithReadTimeout(0)), b: b, delay: opts.Delay, closed: make(chan struct{})}
	b.srv = server.NewServer(state, b.conn, server.WithHandlerRegistry(reg), server.WithCipherSuites(suites))
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(context.Background()) // stopped by Close, not by a context it only checks between reads
	}()
	b.stopCtx = context.AfterFunc(ctx, func() { _ = b.Close() })
	return b, nil
}

// guidFor gives each BMC a distinct, stable-looking system GUID.
func guidFor(port int) [16]byte {
	g := [16]byte{0xb3, 0xc5, 0x1d, 0x00, 0x1a, 0xb0, 0x4d, 0x1c, 0x80, 0x00}
	g[14], g[15] = byte(port>>8), byte(port)
	return g
}

// Addr is the BMC's UDP address, host:port.
func (b *BMC) Addr() string { return b.addr.String() }

// Host is the BMC's IP address as text.
func (b *BMC) Host() string { return b.addr.IP.String() }

// Port is the BMC's UDP port.
func (b *BMC) Port() int { return b.addr.Port }

// User is the administrator's name.
func (b *BMC) User() string { return b.opts.User }

// Password is the administrator's password.
func (b *BMC) Password() string { return b.opts.Password }

// Power reports whether the chassis is powered on.
func (b *BMC) Power() bool {
	b.chassis.mu.Lock()
	defer b.chassis.mu.Unlock()
	return b.chassis.on
}

// BootDevice reports the boot flags last set: the device ("none", "pxe",
// "disk", "safe", "diag", "cdrom", "bios", "floppy", "remote-floppy",
// "remote-cdrom", "remote-media", "remote-disk"; "none" also when no valid
// flags were set), whether they are persistent and whether EFI boot was asked.
func (b *BMC) BootDevice() (dev string, persistent, efi bool) {
	b.chassis.mu.Lock()
	defer b.chassis.mu.Unlock()
	f := b.chassis.boot
	if f == nil || !f.BootFlagsValid {
		return "none", false, false
	}
	return deviceName(f.BootDeviceSelector), f.Persist, bool(f.BIOSBootType)
}

// Counters returns a snapshot of the counters.
func (b *BMC) Counters() Counters {
	return Counters{PowerOn: b.n.powerOn.Load(), PowerOff: b.n.powerOff.Load(), Reset: b.n.reset.Load(),
		Cycle: b.n.cycle.Load(), SetBoot: b.n.setBoot.Load(), Sessions: b.n.sessions.Load()}
}

// SetPowerFailure makes power commands (on, off, soft, reset, cycle)
// succeed on the wire while the chassis keeps its state: a board whose
// power controller is broken.
func (b *BMC) SetPowerFailure(fail bool) {
	b.chassis.mu.Lock()
	defer b.chassis.mu.Unlock()
	b.chassis.failing = fail
}

// SetACPower simulates the mains feed, as a PDU outlet would switch it.
// Losing AC powers the chassis off and silences the BMC (requests get no
// answer, like a BMC without standby power); restoring it brings the BMC
// back and powers the chassis on ("power restore policy: always on"), so
// that a PDU outlet can be used to power a server on.
func (b *BMC) SetACPower(on bool) {
	b.chassis.mu.Lock()
	defer b.chassis.mu.Unlock()
	if b.chassis.ac == on {
		return
	}
	b.chassis.ac = on
	b.chassis.on = on
}

// ACPower reports whether the BMC has mains power.
func (b *BMC) ACPower() bool {
	b.chassis.mu.Lock()
	defer b.chassis.mu.Unlock()
	return b.chassis.ac
}

// Close stops the BMC and waits until its server has returned.
func (b *BMC) Close() error {
	b.closeOnce.Do(func() {
		b.stopCtx()
		b.conn.stop()
		b.closeErr = b.srv.Close()
		<-b.done
	})
	return b.closeErr
}

// countV15Sessions counts v1.5 sessions: Activate Session goes through the
// command registry, unlike the RMCP+ handshake (counted in conn).
func (b *BMC) countV15Sessions(next handlers.Handler) handlers.Handler {
	want := types.CommandActivateSession
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, data []byte) ([]byte, types.CompletionCode, error) {
		resp, cc, err := next.Handle(ctx, hctx, data)
		if cc == types.CodeOK && err == nil && hctx != nil && hctx.Command.ID == want.ID && hctx.Command.NetFn == want.NetFn {
			b.n.sessions.Add(1)
		}
		return resp, cc, err
	})
}

// simHAL is go-ipmi's in-memory HAL with our chassis.
type simHAL struct {
	*mock.HAL
	ch *chassis
}

func (h *simHAL) Chassis() hal.ChassisHAL { return h.ch }
