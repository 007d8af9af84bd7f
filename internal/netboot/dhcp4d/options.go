// Package dhcp4d is dcimd's DHCPv4 server, on github.com/insomniacslk/dhcp.
// It hands out only what IPAM holds: the address of the server whose MAC
// asks, inside the subnet the request comes from (the receiving interface's
// subnet, or the relay's giaddr), plus, for network-booting firmware, the
// boot loader netboot.Choose picks. Unknown MACs get nothing, except PXE
// clients in a subnet with a discovery range: they become new servers
// (is_new) with an address from the range, for an operator to adopt.
// A subnet in proxy mode sits beside another DHCP server and sends boot
// options only.
//
// The packet logic is Handler.Handle, a function of the request, where it
// came from, and two small stores (Hosts, Leases); Server adds the sockets,
// a bounded worker pool, per-MAC rate limiting and metrics.
package dhcp4d

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/dcimd/dcimd/internal/netboot"
)

// Mode says how the server answers in a subnet.
type Mode string

// Subnet modes.
const (
	// ModeAuthoritative: dcimd is the subnet's DHCP server. It answers MACs
	// with an address in IPAM (and PXE clients inside the discovery
	// range), NAKs requests for any other address, and is silent to the
	// rest.
	ModeAuthoritative Mode = "authoritative"
	// ModeProxy: another DHCP server hands out addresses; dcimd answers
	// only network-booting firmware of known servers, with boot options and
	// no address (proxyDHCP, PXE 2.1 §2.5). It answers DISCOVERs on port 67
	// and REQUESTs sent to it (on port 4011 when Interface.PXEPort is set,
	// or naming it as server identifier on 67).
	ModeProxy Mode = "proxy"
)

// Subnet is one IPv4 network the server answers for.
type Subnet struct {
	Prefix netip.Prefix
	Mode   Mode // default authoritative
	// Discovery is an optional range of Prefix for unknown PXE clients
	// (authoritative mode only); addresses come from IPAM.
	Discovery netboot.Range
	LeaseTime time.Duration // default 1h
	DNS       []netip.Addr
	Domain    string
	// Router overrides the gateway of the address's IPAM network.
	Router netip.Addr
	// NextServer is the TFTP server (siaddr, option 66); default the
	// address of the interface the request arrived on.
	NextServer netip.Addr
	// HTTPBase is dcimd's boot web server as the machines reach it
	// ("http://198.18.0.1:8080"): iPXE scripts at <base>/boot/<mac>.ipxe,
	// HTTP boot loaders at <base>/boot/<file>. Without it iPXE and UEFI
	// HTTP boot clients get no boot options.
	HTTPBase string
}

// Interface is one place the server listens.
type Interface struct {
	// Name is the network interface the socket is bound to
	// (SO_BINDTODEVICE), so broadcasts go out and come in there only.
	// Empty binds no device: for tests and benchmarks on an address; such
	// a socket answers relays and clients that have an address, and never
	// broadcasts.
	Name string
	// Addr is this server's address on the interface: the server
	// identifier of replies, and what picks the subnet of requests that
	// were not relayed. Default: the interface's first IPv4 address.
	Addr netip.Addr
	// Listen is the local address and port; default 0.0.0.0:67.
	Listen netip.AddrPort
	// PXEPort, when not 0 (4011), opens a second socket for the REQUESTs
	// PXE firmware sends to a proxyDHCP server.
	PXEPort uint16
}

// RateLimit bounds the packets one MAC may make the server handle: a
// token bucket per MAC, refilled at PerSecond up to Burst. Packets over it
// are dropped before any database work.
type RateLimit struct {
	PerSecond float64 // default 5
	Burst     int     // default 10
	// MaxClients bounds the buckets kept (default 65536); when the table
	// is full of recently active MACs, packets of new MACs are dropped.
	MaxClients int
}

// Options configure a Server.
type Options struct {
	Interfaces []Interface
	Subnets    []Subnet
	Files      netboot.Files // boot loader names; empty ones get netboot.DefaultFiles
	RateLimit  RateLimit
	// OfferHold is how long an offered lease waits for its REQUEST
	// (default 1 min). DeclineHold is how long an operator-assigned address
	// a client declined is kept out of offers (default 10 min).
	OfferHold, DeclineHold time.Duration
	// Workers handle packets in parallel (default 8); Queue is how many
	// received packets may wait for one (default 1024); more are dropped.
	Workers, Queue int
	// HandleTimeout bounds the store work for one packet (default 3 s:
	// clients retransmit after about 4 s anyway).
	HandleTimeout time.Duration
	Hosts         Hosts
	Leases        Leases
	Log           *slog.Logger
	Now           func() time.Time
	// ListenPacket opens one socket. Default: server4.NewIPv4UDPConn
	// (broadcast, SO_REUSEADDR, bound to the device). Tests wrap it to
	// open the socket inside a network namespace.
	ListenPacket func(ifname string, addr netip.AddrPort) (net.PacketConn, error)
}

func (o *Options) defaults() {
	if o.RateLimit.PerSecond <= 0 {
		o.RateLimit.PerSecond = 5
	}
	if o.RateLimit.Burst <= 0 {
		o.RateLimit.Burst = 10
	}
	if o.RateLimit.MaxClients <= 0 {
		o.RateLimit.MaxClients = 65536
	}
	if o.OfferHold <= 0 {
		o.OfferHold = time.Minute
	}
	if o.DeclineHold <= 0 {
		o.DeclineHold = 10 * time.Minute
	}
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
	o.Files = o.Files.WithDefaults()
	for i := range o.Subnets {
		s := &o.Subnets[i]
		if s.Mode == "" {
			s.Mode = ModeAuthoritative
		}
		if s.LeaseTime <= 0 {
			s.LeaseTime = time.Hour
		}
		s.Prefix = s.Prefix.Masked()
		s.HTTPBase = strings.TrimRight(s.HTTPBase, "/")
	}
	for i := range o.Interfaces {
		if !o.Interfaces[i].Listen.IsValid() {
			o.Interfaces[i].Listen = netip.AddrPortFrom(netip.IPv4Unspecified(), 67)
		}
	}
}

// validate checks what the handler relies on.
func (o *Options) validate() error {
	var errs []error
	if o.Hosts == nil || o.Leases == nil {
		errs = append(errs, errors.New("hosts and leases stores are required"))
	}
	if len(o.Subnets) == 0 {
		errs = append(errs, errors.New("no subnets"))
	}
	for i, s := range o.Subnets {
		name := fmt.Sprintf("subnet %d (%s)", i, s.Prefix)
		if !s.Prefix.IsValid() || !s.Prefix.Addr().Is4() || s.Prefix.Bits() > 30 {
			errs = append(errs, fmt.Errorf("%s: prefix must be an IPv4 network of at most /30", name))
		}
		if s.Mode != ModeAuthoritative && s.Mode != ModeProxy {
			errs = append(errs, fmt.Errorf("%s: mode must be %q or %q, not %q", name, ModeAuthoritative, ModeProxy, s.Mode))
		}
		if s.Discovery != (netboot.Range{}) {
			if s.Mode != ModeAuthoritative {
				errs = append(errs, fmt.Errorf("%s: a discovery range needs authoritative mode", name))
			}
			if !s.Discovery.Valid() || !s.Prefix.Contains(s.Discovery.First) || !s.Prefix.Contains(s.Discovery.Last) {
				errs = append(errs, fmt.Errorf("%s: discovery range %s is not inside the subnet", name, s.Discovery))
			}
		}
		for _, a := range append(slices.Clone(s.DNS), s.Router, s.NextServer) {
			if a.IsValid() && !a.Is4() {
				errs = append(errs, fmt.Errorf("%s: %s is not an IPv4 address", name, a))
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
		if ifc.Addr.IsValid() && !ifc.Addr.Is4() {
			errs = append(errs, fmt.Errorf("interface %d (%s): address %s is not IPv4", i, ifc.Name, ifc.Addr))
		}
		if ifc.Name == "" && !ifc.Addr.IsValid() {
			errs = append(errs, fmt.Errorf("interface %d: give a device name or this server's address on it", i))
		}
	}
	return errors.Join(errs...)
}
