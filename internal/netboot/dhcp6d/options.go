// Package dhcp6d is dcimd's DHCPv6 server, on github.com/insomniacslk/dhcp.
// It is stateful for IA_NA only (no temporary addresses, no prefix
// delegation) and hands out only what IPAM holds: the IPv6 address of the
// server whose MAC asks, inside the subnet the request comes from. UEFI
// and iPXE clients also get a boot-file-url (option 59). Relayed requests
// (RELAY-FORW) are answered with a RELAY-REPL to the relay.
//
// The client's MAC is read, in this order:
//  1. its DUID, when it is a DUID-LL or DUID-LLT of an Ethernet address;
//  2. the client link-layer address option (79, RFC 6939) a relay added
//     (the innermost relay's);
//  3. for a direct request, the EUI-64 interface identifier of its
//     link-local source address (clients with privacy or stable-privacy
//     link-local addresses have none: they get nothing).
//
// The packet logic is Handler.Handle, a function of the request, where it
// came from, and two small stores; Server adds the sockets, a bounded
// worker pool and metrics.
package dhcp6d

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/dcimd/dcimd/internal/netboot"
)

// Hosts finds the address a client gets (implemented by store.DHCP).
type Hosts interface {
	// Host6 returns the IPv6 address IPAM holds for the server with this
	// MAC inside subnet. ServerID 0: no server has the MAC; an invalid IP:
	// the server has no address there.
	Host6(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error)
}

// Leases records who holds an address (implemented by store.DHCP;
// MemLeases keeps them in memory).
type Leases interface {
	SaveLease6(ctx context.Context, l netboot.Lease) error
}

// Subnet is one IPv6 network the server answers for.
type Subnet struct {
	Prefix netip.Prefix
	// PreferredLifetime (default 1h) and ValidLifetime (default 2h) of the
	// addresses; T1 and T2 are 0.5 and 0.8 of the preferred lifetime.
	PreferredLifetime, ValidLifetime time.Duration
	DNS                              []netip.Addr
	// HTTPBase is dcimd's boot web server as the machines reach it
	// ("http://[fd00::1]:8080"): boot-file-url is <base>/boot/<loader> for
	// UEFI clients and <base>/boot/<mac>.ipxe for iPXE. Empty: no boot
	// options.
	HTTPBase string
}

// Interface is one place the server listens.
type Interface struct {
	// Name is the device the socket is bound to and joins
	// All_DHCP_Relay_Agents_and_Servers (ff02::1:2) on. Empty: no device,
	// no multicast (tests, relays only).
	Name string
	// Addr is an address of this server on the link: it picks the subnet
	// of direct (not relayed) requests. Default: the device's first
	// global IPv6 address.
	Addr netip.Addr
	// Listen is the local address and port; default [::]:547.
	Listen netip.AddrPort
}

// Options configure a Server.
type Options struct {
	Interfaces []Interface
	Subnets    []Subnet
	Files      netboot.Files // boot loader names; empty ones get netboot.DefaultFiles
	// ServerDUID is the server identifier. Default: a DUID-LL of the first
	// interface with a hardware address.
	ServerDUID []byte
	// Workers handle packets in parallel (default 8); Queue is how many
	// received packets may wait (default 1024); more are dropped.
	Workers, Queue int
	// HandleTimeout bounds the store work for one packet (default 3 s).
	HandleTimeout time.Duration
	Hosts         Hosts
	Leases        Leases // default: a MemLeases
	Log           *slog.Logger
	Now           func() time.Time
	// ListenPacket opens one socket. Default: server6.NewIPv6UDPConn
	// bound to the device, joined to ff02::1:2. Tests wrap it to open the
	// socket inside a network namespace.
	ListenPacket func(ifname string, addr netip.AddrPort) (net.PacketConn, error)
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Queue <= 0 {
		o.Queue = 1024
	}
	if o.HandleTimeout <= 0 {
		o.HandleTimeout = 3 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leases == nil {
		o.Leases = NewMemLeases()
	}
	o.Files = o.Files.WithDefaults()
	for i := range o.Subnets {
		s := &o.Subnets[i]
		if s.PreferredLifetime <= 0 {
			s.PreferredLifetime = time.Hour
		}
		if s.ValidLifetime < s.PreferredLifetime {
			s.ValidLifetime = 2 * s.PreferredLifetime
		}
		s.Prefix = s.Prefix.Masked()
		s.HTTPBase = strings.TrimRight(s.HTTPBase, "/")
	}
	for i := range o.Interfaces {
		if !o.Interfaces[i].Listen.IsValid() {
			o.Interfaces[i].Listen = netip.AddrPortFrom(netip.IPv6Unspecified(), ServerPort)
		}
	}
}

func (o *Options) validate() error {
	var errs []error
	if o.Hosts == nil {
		errs = append(errs, errors.New("a hosts store is required"))
	}
	if len(o.Subnets) == 0 {
		errs = append(errs, errors.New("no subnets"))
	}
	for i, s := range o.Subnets {
		name := fmt.Sprintf("subnet %d (%s)", i, s.Prefix)
		if !s.Prefix.IsValid() || !s.Prefix.Addr().Is6() || s.Prefix.Addr().Is4In6() || s.Prefix.Bits() > 126 {
			errs = append(errs, fmt.Errorf("%s: prefix must be an IPv6 network of at most /126", name))
		}
		for _, a := range s.DNS {
			if !a.Is6() || a.Is4In6() {
				errs = append(errs, fmt.Errorf("%s: DNS %s is not an IPv6 address", name, a))
			}
		}
		if s.HTTPBase != "" && !strings.HasPrefix(s.HTTPBase, "http://") && !strings.HasPrefix(s.HTTPBase, "https://") {
			errs = append(errs, fmt.Errorf("%s: http base %q must be an http:// or https:// URL", name, s.HTTPBase))
		}
		for j := range i {
			if o.Subnets[j].Prefix.Overlaps(s.Prefix) {
				errs = append(errs, fmt.Errorf("%s overlaps subnet %d (%s)", name, j, o.Subnets[j].Prefix))
			}
		}
	}
	for i, ifc := range o.Interfaces {
		if ifc.Addr.IsValid() && (!ifc.Addr.Is6() || ifc.Addr.Is4In6()) {
			errs = append(errs, fmt.Errorf("interface %d (%s): address %s is not IPv6", i, ifc.Name, ifc.Addr))
		}
	}
	return errors.Join(errs...)
}
