// Package pdusim is a simulated APC rack PDU: a small SNMP v1/v2c agent on
// a loopback UDP port serving the PowerNet-MIB rPDU outlet tables, enough
// for dcimd's PDU driver (profile apc-rpdu) and for snmpget/snmpset/snmpwalk.
//
// Served objects (n = outlet number from 1):
//
//	sysDescr, sysObjectID, sysUpTime, sysName    .1.3.6.1.2.1.1.{1,2,3,5}.0
//	rPDUOutletControlIndex / Name / Command      .1.3.6.1.4.1.318.1.1.12.3.3.1.1.{1,2,4}.n
//	rPDUOutletStatusIndex / Name / State         .1.3.6.1.4.1.318.1.1.12.3.5.1.1.{1,2,4}.n
//
// Only rPDUOutletControlOutletCommand is writable: 1 immediateOn,
// 2 immediateOff, 3 immediateReboot (off, RebootDelay, on). It reads back
// 1 when the outlet is on and 2 when off, as the status column does.
// Requests with another community are dropped, as real agents do; SNMPv3
// is not served. The protocol side is the lab's shared agent, snmpagent.
package pdusim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcimd/dcimd/internal/lab/snmpagent"
)

// Defaults for Options.
const (
	DefaultAddr        = "127.0.0.1:0"
	DefaultCommunity   = "private"
	DefaultOutlets     = 8
	DefaultRebootDelay = 5 * time.Second // APC rPDUOutletConfigRebootDuration default
)

// APC rPDU OIDs, without the outlet number.
const (
	ControlCommandOID = ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"
	StatusStateOID    = ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"
)

// Outlet commands and states.
const (
	CmdOn     = 1
	CmdOff    = 2
	CmdReboot = 3
	StateOn   = 1
	StateOff  = 2
)

// Options configure a simulated PDU.
type Options struct {
	// Addr is the UDP address; default 127.0.0.1:0 (a free port).
	Addr string
	// Community is the read-write community; default "private".
	Community string
	// Name is sysName; default "lab-pdu".
	Name string
	// Outlets is the number of outlets; default 8.
	Outlets int
	// OutletNames names outlets (index 0 is outlet 1); missing names are "Outlet n".
	OutletNames []string
	// Off lists outlets that start switched off (all others start on).
	Off []int
	// RebootDelay is how long a reboot command keeps the outlet off.
	RebootDelay time.Duration
	// OnChange is called whenever an outlet switches, in order, with the
	// PDU's lock held: it must not call back into the PDU.
	OnChange func(outlet int, on bool)
}

// Counters are the commands the PDU accepted, and the requests it refused
// with an SNMP error.
type Counters struct {
	On, Off, Reboot, Refused int64
}

// PDU is a running simulated PDU.
type PDU struct {
	// Agent answers SNMP; its Addr, Host, Port, SetLatency, SetSilent
	// and Stats are the PDU's.
	*snmpagent.Agent
	opts  Options
	start time.Time

	mu      sync.Mutex
	on      []bool        // index 0 is outlet 1
	reboots []*time.Timer // pending "back on" of a reboot, per outlet
	closed  bool

	on1, off1, reboot1 atomic.Int64

	stopCtx   func() bool
	closeOnce sync.Once
}

// Start listens on opts.Addr and serves until ctx ends or Close is called.
func Start(ctx context.Context, opts Options) (*PDU, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Community == "" {
		opts.Community = DefaultCommunity
	}
	if opts.Name == "" {
		opts.Name = "lab-pdu"
	}
	if opts.Outlets == 0 {
		opts.Outlets = DefaultOutlets
	}
	if opts.Outlets < 1 || opts.Outlets > 1024 {
		return nil, fmt.Errorf("pdusim: %d outlets (want 1 to 1024)", opts.Outlets)
	}
	if opts.RebootDelay <= 0 {
		opts.RebootDelay = DefaultRebootDelay
	}
	p := &PDU{opts: opts, start: time.Now(), on: make([]bool, opts.Outlets), reboots: make([]*time.Timer, opts.Outlets)}
	for i := range p.on {
		p.on[i] = true
	}
	for _, n := range opts.Off {
		if n >= 1 && n <= opts.Outlets {
			p.on[n-1] = false
		}
	}
	mib, err := snmpagent.NewMIB(p.objects())
	if err != nil {
		return nil, fmt.Errorf("pdusim: %w", err)
	}
	p.Agent, err = snmpagent.Start(ctx, snmpagent.Config{Addr: opts.Addr, MIB: mib, Locker: &p.mu,
		Communities: map[string]snmpagent.Access{opts.Community: snmpagent.ReadWrite}})
	if err != nil {
		return nil, fmt.Errorf("pdusim: %w", err)
	}
	p.stopCtx = context.AfterFunc(ctx, func() { _ = p.Close() })
	return p, nil
}

// Community is the read-write community.
func (p *PDU) Community() string { return p.opts.Community }

// Outlets is the number of outlets.
func (p *PDU) Outlets() int { return p.opts.Outlets }

// On reports whether outlet n (from 1) is on; false for no such outlet.
func (p *PDU) On(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return n >= 1 && n <= len(p.on) && p.on[n-1]
}

// Counters returns a snapshot of the counters.
func (p *PDU) Counters() Counters {
	return Counters{On: p.on1.Load(), Off: p.off1.Load(), Reboot: p.reboot1.Load(), Refused: p.Agent.Stats().Refused}
}

// Close stops the agent, cancels pending reboots and waits for the server.
func (p *PDU) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.stopCtx()
		p.mu.Lock()
		p.closed = true
		for _, t := range p.reboots {
			if t != nil {
				t.Stop()
			}
		}
		p.mu.Unlock()
		err = p.Agent.Close()
	})
	return err
}

// setOutlet switches outlet n; the caller holds p.mu.
func (p *PDU) setOutlet(n int, on bool) {
	if t := p.reboots[n-1]; t != nil {
		t.Stop() // a new command overrides a reboot in progress
		p.reboots[n-1] = nil
	}
	if p.on[n-1] == on {
		return
	}
	p.on[n-1] = on
	if p.opts.OnChange != nil {
		p.opts.OnChange(n, on)
	}
}

// command applies an accepted control value to outlet n; the caller holds p.mu.
func (p *PDU) command(n, v int) {
	switch v {
	case CmdOn:
		p.on1.Add(1)
		p.setOutlet(n, true)
	case CmdOff:
		p.off1.Add(1)
		p.setOutlet(n, false)
	case CmdReboot:
		p.reboot1.Add(1)
		p.setOutlet(n, false)
		var t *time.Timer
		t = time.AfterFunc(p.opts.RebootDelay, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.closed || p.reboots[n-1] != t {
				return
			}
			p.reboots[n-1] = nil
			p.setOutlet(n, true)
		})
		p.reboots[n-1] = t
	}
}
