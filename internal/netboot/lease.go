package netboot

import (
	"net"
	"net/netip"
	"time"
)

// LeaseState is where a DHCP lease stands.
type LeaseState string

// Lease states. An offered lease waits for the client's REQUEST; a bound
// one was acknowledged; released and declined ones were given back by the
// client (a DECLINE says another host answers on the address).
const (
	LeaseOffered  LeaseState = "offered"
	LeaseBound    LeaseState = "bound"
	LeaseReleased LeaseState = "released"
	LeaseDeclined LeaseState = "declined"
)

// Lease is one address handed to one client. The address itself always
// belongs to IPAM (IPID): a lease records who holds it, until when, and
// how the request reached us.
type Lease struct {
	IPID     int64
	NetID    int64
	ServerID *int64
	MAC      net.HardwareAddr
	IP       netip.Addr
	State    LeaseState
	// Dynamic: the address came from a discovery range, not from an
	// operator's assignment.
	Dynamic   bool
	ExpiresAt time.Time
	// Relay is the relay agent's address (giaddr); CircuitID and RemoteID
	// are its option 82 sub-options 1 and 2, as text (hex when not
	// printable).
	Relay     netip.Addr
	CircuitID string
	RemoteID  string
	ClientID  string // option 61, hex
	Hostname  string // option 12
	UpdatedAt time.Time
}

// Active reports a lease that still holds its address at now.
func (l Lease) Active(now time.Time) bool {
	return (l.State == LeaseOffered || l.State == LeaseBound) && now.Before(l.ExpiresAt)
}

// Host is the IPv4 address IPAM holds for a machine inside one subnet,
// with what the reply needs from its network.
type Host struct {
	ServerID   int64
	ServerName string
	IsNew      bool // a discovered machine no operator has adopted yet
	IPID       int64
	NetID      int64
	IP         netip.Addr
	Prefix     netip.Prefix // the network of the address (its mask)
	Gateway    netip.Addr   // the network's gateway; invalid when unset
	Dynamic    bool         // the address came from a discovery range
	Lease      *Lease       // the address's current lease record, if any
}

// Range is an inclusive span of IPv4 addresses.
type Range struct {
	First, Last netip.Addr
}

// Contains reports whether a is inside the range.
func (r Range) Contains(a netip.Addr) bool {
	return r.First.IsValid() && r.Last.IsValid() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// Valid reports an ordered range of IPv4 addresses.
func (r Range) Valid() bool {
	return r.First.Is4() && r.Last.Is4() && r.First.Compare(r.Last) <= 0
}

// String is "first-last", the form IPAM pool ranges use.
func (r Range) String() string { return r.First.String() + "-" + r.Last.String() }
