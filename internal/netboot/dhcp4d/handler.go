package dhcp4d

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netboot"
)

// Hosts finds the address a client gets (implemented by store.DHCP).
type Hosts interface {
	// Host returns the IPv4 address IPAM holds for the server with this
	// MAC inside subnet. ServerID 0: no server has the MAC; an invalid IP:
	// the server has no address there.
	Host(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error)
	// Discover records an unknown (or still new) MAC as a new server with
	// an address from r, allocated through IPAM. Conflicts (range
	// exhausted, MAC of an adopted server) are fault.ErrConflict.
	Discover(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix, r netboot.Range) (netboot.Host, error)
}

// Leases records who holds an address (implemented by store.DHCP).
type Leases interface {
	SaveLease(ctx context.Context, l netboot.Lease) error
	// DeclineLease records a DECLINE; a dynamic address leaves its
	// machine for good.
	DeclineLease(ctx context.Context, l netboot.Lease) error
}

// PXEPort is where PXE firmware sends REQUESTs to a proxyDHCP server.
const PXEPort = 4011

// In says where a packet arrived.
type In struct {
	Iface string         // interface name, for logs
	Addr  netip.Addr     // this server's address on it
	Port  uint16         // local port: 67, or PXEPort
	Peer  netip.AddrPort // the sender
}

// Handler answers DHCPv4 packets. It is safe for concurrent use.
type Handler struct {
	o       Options
	subnets []Subnet // most specific first
	limit   *limiter
	stats   counters
}

// NewHandler checks the options (interfaces aside) and builds a handler.
func NewHandler(o Options) (*Handler, error) {
	o.defaults()
	ifs := o.Interfaces
	o.Interfaces = nil
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dhcp4 options: %w", err)
	}
	o.Interfaces = ifs
	subs := slices.Clone(o.Subnets)
	slices.SortStableFunc(subs, func(a, b Subnet) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return &Handler{o: o, subnets: subs, limit: newLimiter(o.RateLimit)}, nil
}

// call is one packet being handled.
type call struct {
	h      *Handler
	req    *dhcpv4.DHCPv4
	in     In
	mac    net.HardwareAddr
	sn     *Subnet
	giaddr netip.Addr // invalid unless relayed
	now    time.Time
	client netboot.Client
	log    *slog.Logger
}

// Handle answers one request. It returns the reply (nil when the packet
// gets none) and what it did. Store errors drop the packet: a client
// retransmits, and nothing is handed out without a durable lease.
func (h *Handler) Handle(ctx context.Context, req *dhcpv4.DHCPv4, in In) (*dhcpv4.DHCPv4, Reason) {
	if req == nil {
		return nil, DropMalformed
	}
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, DropNotRequest
	}
	mac, ok := clientMAC(req)
	if !ok {
		return nil, DropHWAddr
	}
	mt := req.MessageType()
	switch mt {
	case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeRelease,
		dhcpv4.MessageTypeInform:
	default:
		return nil, DropMessageType
	}
	now := h.o.Now()
	if !h.limit.allow(mac, now) {
		return nil, DropRateLimited
	}
	c := &call{h: h, req: req, in: in, mac: mac, now: now, giaddr: addr4(req.GatewayIPAddr)}
	c.sn = h.subnetFor(c.giaddr, in.Addr)
	c.log = h.o.Log.With("mac", mac.String(), "xid", req.TransactionID.String(), "iface", in.Iface, "msg_type", mt.String())
	if c.giaddr.IsValid() {
		c.log = c.log.With("relay", c.giaddr.String())
		circ, rem := relayIDs(req)
		if circ != "" {
			c.log = c.log.With("circuit_id", circ)
		}
		if rem != "" {
			c.log = c.log.With("remote_id", rem)
		}
	}
	if c.sn == nil {
		return nil, DropNoSubnet
	}
	if !in.Addr.Is4() {
		return nil, DropNoSubnet
	}
	c.client = clientOf(req, mac)
	ctx, cancel := context.WithTimeout(ctx, h.o.HandleTimeout)
	defer cancel()
	if c.sn.Mode == ModeProxy {
		return c.proxy(ctx, mt)
	}
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		return c.discover(ctx)
	case dhcpv4.MessageTypeRequest:
		return c.request(ctx)
	case dhcpv4.MessageTypeDecline:
		return c.decline(ctx)
	case dhcpv4.MessageTypeRelease:
		return c.release(ctx)
	default:
		return c.inform(ctx)
	}
}

// subnetFor picks the subnet of the relay's address, or of the interface
// for a request that was not relayed.
func (h *Handler) subnetFor(giaddr, local netip.Addr) *Subnet {
	a := local
	if giaddr.IsValid() {
		a = giaddr
	}
	for i := range h.subnets {
		if h.subnets[i].Prefix.Contains(a) {
			return &h.subnets[i]
		}
	}
	return nil
}

// clientMAC accepts an Ethernet unicast address only.
func clientMAC(req *dhcpv4.DHCPv4) (net.HardwareAddr, bool) {
	m := req.ClientHWAddr
	if req.HWType != iana.HWTypeEthernet || len(m) != 6 || m[0]&1 != 0 {
		return nil, false
	}
	if m[0]|m[1]|m[2]|m[3]|m[4]|m[5] == 0 {
		return nil, false
	}
	return slices.Clone(m), true
}

// addr4 is an IPv4 header or option address; unspecified and malformed
// ones are invalid.
func addr4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	if !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// maxArches bounds the option 93 entries read; firmware sends one or two.
const maxArches = 8

func clientOf(req *dhcpv4.DHCPv4, mac net.HardwareAddr) netboot.Client {
	c := netboot.Client{MAC: mac, VendorClass: req.ClassIdentifier(), UserClasses: req.UserClass()}
	if v := req.Options.Get(dhcpv4.OptionClientSystemArchitectureType); len(v)%2 == 0 {
		for i := 0; i+1 < len(v) && len(c.Arches) < maxArches; i += 2 {
			c.Arches = append(c.Arches, binary.BigEndian.Uint16(v[i:]))
		}
	}
	return c
}

// host looks the MAC up inside the subnet.
func (c *call) host(ctx context.Context) (netboot.Host, error) {
	h, err := c.h.o.Hosts.Host(ctx, c.mac, c.sn.Prefix)
	if err != nil {
		c.log.Warn("dhcp4: look up host", "err", err)
	}
	return h, err
}

// held reports an address kept out of offers after a DECLINE.
func (c *call) held(h netboot.Host) bool {
	return h.Lease != nil && h.Lease.State == netboot.LeaseDeclined && c.now.Before(h.Lease.ExpiresAt)
}

// otherServer reports a message naming another server as its target.
func (c *call) otherServer() bool {
	sid := addr4(c.req.ServerIdentifier())
	return sid.IsValid() && sid != c.in.Addr
}

func (c *call) discover(ctx context.Context) (*dhcpv4.DHCPv4, Reason) {
	h, err := c.host(ctx)
	if err != nil {
		return nil, DropBackend
	}
	if !h.IP.IsValid() {
		if !c.sn.Discovery.Valid() || !c.client.IsPXE() || (h.ServerID != 0 && !h.IsNew) {
			c.log.Debug("dhcp4: no address for this mac", "subnet", c.sn.Prefix.String(), "server_id", h.ServerID)
			return nil, DropUnknownMAC
		}
		h, err = c.h.o.Hosts.Discover(ctx, c.mac, c.sn.Prefix, c.sn.Discovery)
		if errors.Is(err, fault.ErrConflict) || errors.Is(err, fault.ErrInvalid) {
			c.log.Warn("dhcp4: discovery refused", "err", err)
			return nil, DropDiscovery
		}
		if err != nil {
			c.log.Warn("dhcp4: discovery failed", "err", err)
			return nil, DropBackend
		}
		c.log.Info("dhcp4: discovered a new machine", "server_id", h.ServerID, "server", h.ServerName, "ip", h.IP.String())
	}
	if c.held(h) {
		c.log.Debug("dhcp4: address held after a decline", "ip", h.IP.String())
		return nil, DropAddrDeclined
	}
	r := c.reply(dhcpv4.MessageTypeOffer)
	c.address(r, h)
	c.boot(r, false)
	if l := h.Lease; l == nil || l.State != netboot.LeaseBound || !l.Active(c.now) || l.MAC.String() != c.mac.String() {
		// A bound lease of this client stays bound: it rebooted and will
		// ask for the same address.
		if err := c.h.o.Leases.SaveLease(ctx, c.lease(h, netboot.LeaseOffered, c.now.Add(c.h.o.OfferHold))); err != nil {
			c.log.Warn("dhcp4: record offer", "ip", h.IP.String(), "err", err)
			return nil, DropBackend
		}
	}
	c.log.Debug("dhcp4: offer", "ip", h.IP.String(), "server_id", h.ServerID)
	return r, Offered
}

func (c *call) request(ctx context.Context) (*dhcpv4.DHCPv4, Reason) {
	if c.otherServer() {
		return nil, DropOtherServer
	}
	want := addr4(c.req.RequestedIPAddress())
	if !want.IsValid() {
		want = addr4(c.req.ClientIPAddr)
	}
	if !want.IsValid() {
		return nil, DropBadRequest
	}
	h, err := c.host(ctx)
	if err != nil {
		return nil, DropBackend
	}
	if !h.IP.IsValid() {
		return nil, DropUnknownMAC
	}
	if want != h.IP || c.held(h) {
		c.log.Info("dhcp4: nak", "requested", want.String(), "ip", h.IP.String(), "held", c.held(h))
		return c.nak("requested address is not yours"), Naked
	}
	r := c.reply(dhcpv4.MessageTypeAck)
	c.address(r, h)
	c.boot(r, false)
	if err := c.h.o.Leases.SaveLease(ctx, c.lease(h, netboot.LeaseBound, c.now.Add(c.sn.LeaseTime))); err != nil {
		c.log.Warn("dhcp4: record lease", "ip", h.IP.String(), "err", err)
		return nil, DropBackend
	}
	c.log.Info("dhcp4: ack", "ip", h.IP.String(), "server_id", h.ServerID, "lease", c.sn.LeaseTime.String())
	return r, Acked
}

func (c *call) decline(ctx context.Context) (*dhcpv4.DHCPv4, Reason) {
	if c.otherServer() {
		return nil, DropOtherServer
	}
	ip := addr4(c.req.RequestedIPAddress())
	if !ip.IsValid() {
		return nil, DropBadRequest
	}
	h, err := c.host(ctx)
	if err != nil {
		return nil, DropBackend
	}
	if !h.IP.IsValid() || h.IP != ip {
		return nil, DropNotForUs
	}
	if err := c.h.o.Leases.DeclineLease(ctx, c.lease(h, netboot.LeaseDeclined, c.now.Add(c.h.o.DeclineHold))); err != nil {
		c.log.Warn("dhcp4: record decline", "ip", ip.String(), "err", err)
		return nil, DropBackend
	}
	c.log.Warn("dhcp4: address declined: another host answers on it", "ip", ip.String(), "server_id", h.ServerID,
		"dynamic", h.Dynamic)
	return nil, Declined
}

func (c *call) release(ctx context.Context) (*dhcpv4.DHCPv4, Reason) {
	if c.otherServer() {
		return nil, DropOtherServer
	}
	ip := addr4(c.req.ClientIPAddr)
	if !ip.IsValid() {
		return nil, DropBadRequest
	}
	h, err := c.host(ctx)
	if err != nil {
		return nil, DropBackend
	}
	if !h.IP.IsValid() || h.IP != ip {
		return nil, DropNotForUs
	}
	l := c.lease(h, netboot.LeaseReleased, c.now)
	if old := h.Lease; old != nil && !l.Relay.IsValid() {
		// A RELEASE goes straight to the server; keep how the lease came.
		l.Relay, l.CircuitID, l.RemoteID = old.Relay, old.CircuitID, old.RemoteID
	}
	if err := c.h.o.Leases.SaveLease(ctx, l); err != nil {
		c.log.Warn("dhcp4: record release", "ip", ip.String(), "err", err)
		return nil, DropBackend
	}
	c.log.Info("dhcp4: released", "ip", ip.String(), "server_id", h.ServerID)
	return nil, Released
}

// inform answers a client that has its address: configuration only.
func (c *call) inform(ctx context.Context) (*dhcpv4.DHCPv4, Reason) {
	ci := addr4(c.req.ClientIPAddr)
	if !ci.IsValid() || !c.sn.Prefix.Contains(ci) {
		return nil, DropBadRequest
	}
	h, err := c.host(ctx)
	if err != nil {
		return nil, DropBackend
	}
	if h.IP != ci {
		h = netboot.Host{IP: ci, Prefix: c.sn.Prefix}
	}
	r := c.reply(dhcpv4.MessageTypeAck)
	r.ClientIPAddr = ci.AsSlice()
	c.config(r, h, 0)
	c.boot(r, false)
	return r, Informed
}

// proxy answers network-boot firmware of known servers with boot options
// and no address.
func (c *call) proxy(ctx context.Context, mt dhcpv4.MessageType) (*dhcpv4.DHCPv4, Reason) {
	var t dhcpv4.MessageType
	switch {
	case mt == dhcpv4.MessageTypeDiscover:
		t = dhcpv4.MessageTypeOffer
	case mt == dhcpv4.MessageTypeRequest && (c.in.Port == PXEPort || addr4(c.req.ServerIdentifier()) == c.in.Addr):
		t = dhcpv4.MessageTypeAck
	default:
		return nil, DropNotForUs
	}
	if netboot.Choose(c.client, c.h.o.Files, c.sn.HTTPBase).Method == netboot.MethodNone {
		return nil, DropNotPXE
	}
	h, err := c.host(ctx)
	if err != nil {
		return nil, DropBackend
	}
	if h.ServerID == 0 {
		return nil, DropUnknownMAC
	}
	r := c.reply(t)
	if t == dhcpv4.MessageTypeAck && c.in.Port == PXEPort {
		r.ClientIPAddr = c.req.ClientIPAddr
	}
	c.boot(r, true)
	c.log.Debug("dhcp4: proxy boot options", "server_id", h.ServerID, "file", r.BootFileName)
	if t == dhcpv4.MessageTypeOffer {
		return r, Offered
	}
	return r, Acked
}
