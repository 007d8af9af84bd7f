// Package switchsim is a simulated Ethernet switch for dcimd's switch
// port control: an SNMP v1/v2c agent (the lab's snmpagent) on a loopback
// UDP port, one per switch, serving what the netsw driver reads and the
// one object it writes.
//
// Served objects (i = ifIndex, b = bridge port, m = six MAC octets):
//
//	sysDescr, sysUpTime, sysName          .1.3.6.1.2.1.1.{1,3,5}.0
//	ifNumber                              .1.3.6.1.2.1.2.1.0
//	ifTable                               .1.3.6.1.2.1.2.2.1.{1-10,16}.i
//	  ifIndex, ifDescr, ifType (6), ifMtu, ifSpeed, ifPhysAddress,
//	  ifAdminStatus (read-write), ifOperStatus, ifLastChange,
//	  ifInOctets, ifOutOctets (32-bit)
//	ifXTable                              .1.3.6.1.2.1.31.1.1.1.{1,6,10,15,18}.i
//	  ifName, ifHCInOctets, ifHCOutOctets, ifHighSpeed, ifAlias
//	dot1dBaseBridgeAddress, NumPorts      .1.3.6.1.2.1.17.1.{1,2}.0
//	dot1dBasePort, dot1dBasePortIfIndex   .1.3.6.1.2.1.17.1.4.1.{1,2}.b
//	dot1dTpFdbAddress, Port, Status       .1.3.6.1.2.1.17.4.3.1.{1,2,3}.m
//	dot1qTpFdbPort, Status                .1.3.6.1.2.1.17.7.1.2.2.1.{2,3}.vlan.m
//
// Behaviour, as on typical access switches:
//   - ifAdminStatus accepts 1 (up) and 2 (down); other numbers get
//     wrongValue, other types wrongType, every other object notWritable.
//     A read-only community (or a switch configured read-only) gets
//     noAccess in v2c and noSuchName in v1; unknown communities get no
//     answer at all.
//   - ifOperStatus is down when the port is admin down or has no cable,
//     up otherwise.
//   - Octet counters of a port grow at a fixed rate per port while it is
//     oper up and stand still while it is down. A restart sets them and
//     sysUpTime back to zero; admin states survive it (saved config).
//   - A port's learned MAC addresses are in the forwarding tables while
//     it is oper up and flushed while it is down, in VLAN 1 by default.
//   - SNMPv1 requests do not see the Counter64 columns (RFC 3584).
package switchsim

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/snmpagent"
)

// Defaults for Options.
const (
	DefaultAddr          = snmpagent.DefaultAddr
	DefaultCommunity     = "private"
	DefaultReadCommunity = "public"
	DefaultPorts         = 48
	DefaultSpeedMbps     = 10000
	DefaultVLAN          = 1
)

// OIDs of the objects drivers use, without the instance.
const (
	SysDescrOID             = ".1.3.6.1.2.1.1.1.0"
	SysUpTimeOID            = ".1.3.6.1.2.1.1.3.0"
	SysNameOID              = ".1.3.6.1.2.1.1.5.0"
	IfNumberOID             = ".1.3.6.1.2.1.2.1.0"
	IfTableOID              = ".1.3.6.1.2.1.2.2.1"
	IfIndexOID              = IfTableOID + ".1"
	IfDescrOID              = IfTableOID + ".2"
	IfTypeOID               = IfTableOID + ".3"
	IfSpeedOID              = IfTableOID + ".5"
	IfPhysAddressOID        = IfTableOID + ".6"
	IfAdminStatusOID        = IfTableOID + ".7"
	IfOperStatusOID         = IfTableOID + ".8"
	IfXTableOID             = ".1.3.6.1.2.1.31.1.1.1"
	IfNameOID               = IfXTableOID + ".1"
	IfHCInOctetsOID         = IfXTableOID + ".6"
	IfHCOutOctetsOID        = IfXTableOID + ".10"
	IfHighSpeedOID          = IfXTableOID + ".15"
	IfAliasOID              = IfXTableOID + ".18"
	Dot1dBasePortIfIndexOID = ".1.3.6.1.2.1.17.1.4.1.2"
	Dot1dTpFdbPortOID       = ".1.3.6.1.2.1.17.4.3.1.2"
	Dot1qTpFdbPortOID       = ".1.3.6.1.2.1.17.7.1.2.2.1.2"
)

// ifAdminStatus and ifOperStatus values.
const (
	StatusUp   = 1
	StatusDown = 2
)

// Port configures one interface. The zero value is a plugged port that
// is admin up, named after its position, at DefaultSpeedMbps, with no
// learned MAC address.
type Port struct {
	Name      string // ifName; default "Ethernet1/n" (n = position from 1)
	Descr     string // ifDescr; default Name
	Alias     string // ifAlias
	SpeedMbps int64  // default DefaultSpeedMbps
	// Unplugged ports have no cable: oper down whatever the admin status.
	Unplugged bool
	// AdminDown ports start shut down.
	AdminDown bool
	// MACs are learned on the port (while it is up).
	MACs []net.HardwareAddr
	// InRate and OutRate are octets per second while the port is up;
	// zero picks a rate from the position (see Rates).
	InRate, OutRate uint64
}

// Options configure a simulated switch.
type Options struct {
	// Addr is the UDP address; default 127.0.0.1:0 (a free port).
	Addr string
	// Name is sysName; default "lab-switch".
	Name string
	// Community is the read-write community (default "private") and
	// ReadCommunity the read-only one (default "public"); they must differ.
	Community, ReadCommunity string
	// ReadOnly makes Community read-only too: every SET is refused.
	ReadOnly bool
	// Ports are the interfaces, ifIndex IndexBase+1 onwards; nil gives
	// GeneratePorts(Name, DefaultPorts).
	Ports []Port
	// IndexBase offsets ifIndex from the bridge port number (port n has
	// bridge port n and ifIndex IndexBase+n), as on switches whose
	// ifIndex values are not 1..n; default 0.
	IndexBase int
	// VLAN is the VLAN (FDB id) of the Q-BRIDGE forwarding table; default 1.
	VLAN int
	// Latency holds every answer back (see SetLatency).
	Latency time.Duration
	// Clock is the time source of sysUpTime and the counters; default time.Now.
	Clock func() time.Time
}

// Stats are what the switch was asked: the agent's request counters and
// the ifAdminStatus values written over SNMP.
type Stats struct {
	snmpagent.Stats
	// PortSets counts ifAdminStatus varbinds applied, PortChanges those
	// that changed the port.
	PortSets, PortChanges int64
}

// Add sums two snapshots.
func (s Stats) Add(o Stats) Stats {
	return Stats{Stats: s.Stats.Add(o.Stats), PortSets: s.PortSets + o.PortSets, PortChanges: s.PortChanges + o.PortChanges}
}

// Switch is a running simulated switch.
type Switch struct {
	// Agent answers SNMP; its Addr, Host, Port, SetLatency (answers held
	// back, requests still processed as they arrive), SetSilent (an
	// unreachable agent) and Close are the switch's.
	*snmpagent.Agent
	opts Options
	base net.HardwareAddr // bridge address; ports count up from it

	mu    sync.Mutex
	start time.Time
	ports []port // position n at n-1

	portSets, portChanges atomic.Int64
}

// Start listens on opts.Addr and serves until ctx ends or Close is called.
// Switches are independent: a process may run any number, one socket each.
func Start(ctx context.Context, opts Options) (*Switch, error) {
	if opts.Name == "" {
		opts.Name = "lab-switch"
	}
	if opts.Community == "" {
		opts.Community = DefaultCommunity
	}
	if opts.ReadCommunity == "" {
		opts.ReadCommunity = DefaultReadCommunity
	}
	if opts.Community == opts.ReadCommunity {
		return nil, fmt.Errorf("switchsim: the read-write and read-only communities are the same")
	}
	if opts.Ports == nil {
		opts.Ports = GeneratePorts(opts.Name, DefaultPorts)
	}
	if len(opts.Ports) < 1 || len(opts.Ports) > 4096 || opts.IndexBase < 0 || opts.IndexBase > 1<<30 {
		return nil, fmt.Errorf("switchsim: %d ports from ifIndex %d (want 1 to 4096 ports)", len(opts.Ports), opts.IndexBase+1)
	}
	if opts.VLAN == 0 {
		opts.VLAN = DefaultVLAN
	}
	if opts.VLAN < 1 || opts.VLAN > 4094 {
		return nil, fmt.Errorf("switchsim: VLAN %d", opts.VLAN)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Switch{opts: opts, base: baseMAC(opts.Name), start: opts.Clock()}
	s.ports = newPorts(opts.Ports, s.start)
	mib, err := snmpagent.NewMIB(s.objects(), fdbColumns...)
	if err != nil {
		return nil, fmt.Errorf("switchsim: %w", err) // a MAC learned on two ports
	}
	rw := snmpagent.ReadWrite
	if opts.ReadOnly {
		rw = snmpagent.ReadOnly
	}
	s.Agent, err = snmpagent.Start(ctx, snmpagent.Config{Addr: opts.Addr, MIB: mib, Locker: &s.mu,
		Communities: map[string]snmpagent.Access{opts.Community: rw, opts.ReadCommunity: snmpagent.ReadOnly},
		Denied:      gosnmp.NoAccess})
	if err != nil {
		return nil, fmt.Errorf("switchsim: %w", err)
	}
	s.SetLatency(opts.Latency)
	return s, nil
}

// Name is sysName.
func (s *Switch) Name() string { return s.opts.Name }

// Community is the read-write community (read-only on a ReadOnly switch).
func (s *Switch) Community() string { return s.opts.Community }

// ReadCommunity is the read-only community.
func (s *Switch) ReadCommunity() string { return s.opts.ReadCommunity }

// Ports is the number of interfaces.
func (s *Switch) Ports() int { return len(s.ports) }

// IfIndex is the ifIndex of port n (position from 1).
func (s *Switch) IfIndex(n int) int { return s.opts.IndexBase + n }

// Stats returns a snapshot of the counters.
func (s *Switch) Stats() Stats {
	return Stats{Stats: s.Agent.Stats(), PortSets: s.portSets.Load(), PortChanges: s.portChanges.Load()}
}
