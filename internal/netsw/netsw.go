// Package netsw controls servers' switch ports: it discovers a switch's
// interfaces, reads their status and traffic counters, sets ports down and
// up (suspend and resume) and reads the MAC forwarding table. The SNMP
// driver lives in netsw/snmpsw; this package owns the small interface it
// implements, the types it returns and the error classification the task
// engine uses to decide between retrying and failing.
package netsw

import (
	"context"
	"time"

	"github.com/dcimd/dcimd/internal/device"
)

// Port statuses as the API shows them (IF-MIB values 1, 2, 3 and the rest).
const (
	Up      = "up"
	Down    = "down"
	Testing = "testing"
	Unknown = "unknown"
)

// Port is one interface of a switch as the device reports it.
type Port struct {
	Index     int    // ifIndex
	Name      string // ifName (falls back to ifDescr when the agent has no ifXTable)
	Descr     string // ifDescr
	Alias     string // ifAlias
	Type      int    // ifType (6 = ethernetCsmacd, 24 = softwareLoopback, ...)
	SpeedMbps int64  // ifHighSpeed, or ifSpeed/1e6 without ifXTable
	Admin     string // ifAdminStatus as Up/Down/Testing/Unknown
	Oper      string // ifOperStatus as Up/Down/Testing/Unknown
}

// Status is the admin and oper status of one port.
type Status struct {
	Admin string
	Oper  string
}

// Counters are one reading of 64-bit octet counters.
type Counters struct {
	// Uptime is the agent's sysUpTime; when it goes backwards the agent
	// restarted and the counters started again from zero.
	Uptime time.Duration
	// Octets by ifIndex: ifHCInOctets and ifHCOutOctets.
	In  map[int]uint64
	Out map[int]uint64
}

// FDBEntry is one learned MAC address in the forwarding database.
type FDBEntry struct {
	MAC   string // lower case, colon separated: "02:00:00:00:00:01"
	Index int    // ifIndex of the port where it was learned
	VLAN  int    // 0 when learned through BRIDGE-MIB (no VLAN known)
}

// Driver talks to one switch. Every call honours ctx and its own
// per-request timeout; errors are *DeviceError.
type Driver interface {
	// Ports walks the interface tables.
	Ports(ctx context.Context) ([]Port, error)
	// Status reads the admin and oper status of the given ports.
	Status(ctx context.Context, indexes []int) (map[int]Status, error)
	// SetAdmin sets ifAdminStatus of one port to up or down and reads it
	// back; it returns an error unless the read-back value is the one set.
	SetAdmin(ctx context.Context, index int, up bool) error
	// Counters reads the 64-bit octet counters of the given ports.
	Counters(ctx context.Context, indexes []int) (Counters, error)
	// FDB reads the learned MAC addresses (Q-BRIDGE-MIB and BRIDGE-MIB).
	FDB(ctx context.Context) ([]FDBEntry, error)
}

// DeviceError is a failed device call (see device.Error).
type DeviceError = device.Error

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool { return device.IsTransient(err) }
