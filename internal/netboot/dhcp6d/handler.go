package dhcp6d

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/dcimd/dcimd/internal/netboot"
)

// Ports of DHCPv6 (RFC 8415 §7.2).
const (
	ServerPort = 547
	ClientPort = 546
)

// MaxPacket is the largest message read.
const MaxPacket = 8192

// maxRelayHops bounds nested RELAY-FORWs (RFC 8415 HOP_COUNT_LIMIT).
const maxRelayHops = 32

// In says where a packet arrived.
type In struct {
	Iface string         // interface name, for logs
	Addr  netip.Addr     // this server's address on the link: picks the subnet of direct requests
	Peer  netip.AddrPort // the sender
}

// Handler answers DHCPv6 packets. It is safe for concurrent use.
type Handler struct {
	o     Options
	duid  dhcpv6.DUID
	stats counters
}

// NewHandler checks the options (interfaces aside) and builds a handler.
// Without Options.ServerDUID it uses a DUID-LL of 02:00:00:00:00:00; the
// Server fills it from the interface before.
func NewHandler(o Options) (*Handler, error) {
	o.defaults()
	ifs := o.Interfaces
	o.Interfaces = nil
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dhcp6 options: %w", err)
	}
	o.Interfaces = ifs
	var duid dhcpv6.DUID = &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0}}
	if len(o.ServerDUID) > 0 {
		d, err := dhcpv6.DUIDFromBytes(o.ServerDUID)
		if err != nil {
			return nil, fmt.Errorf("dhcp6 options: server DUID: %w", err)
		}
		duid = d
	}
	subs := slices.Clone(o.Subnets)
	slices.SortStableFunc(subs, func(a, b Subnet) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	o.Subnets = subs
	return &Handler{o: o, duid: duid}, nil
}

// ServerDUID is the server identifier the handler sends.
func (h *Handler) ServerDUID() []byte { return h.duid.ToBytes() }

// Handle answers one packet: the reply's bytes and where to send them (nil
// when nothing is sent), and what was done. It never panics on input.
func (h *Handler) Handle(ctx context.Context, b []byte, in In) ([]byte, netip.AddrPort, Reason) {
	out, to, r := h.handle(ctx, b, in)
	h.stats.add(r)
	if out == nil {
		return nil, netip.AddrPort{}, r
	}
	return out, to, r
}

func (h *Handler) handle(ctx context.Context, b []byte, in In) ([]byte, netip.AddrPort, Reason) {
	if len(b) > MaxPacket {
		return nil, netip.AddrPort{}, DropMalformed
	}
	pkt, err := dhcpv6.FromBytes(b)
	if err != nil {
		return nil, netip.AddrPort{}, DropMalformed
	}
	c := call{h: h, in: in}
	var msg *dhcpv6.Message
	if pkt.IsRelay() {
		outer, ok := pkt.(*dhcpv6.RelayMessage)
		if !ok || outer.MessageType != dhcpv6.MessageTypeRelayForward {
			return nil, netip.AddrPort{}, DropMessageType
		}
		var cur dhcpv6.DHCPv6 = outer
		for hops := 0; cur != nil && cur.IsRelay(); hops++ {
			r, ok := cur.(*dhcpv6.RelayMessage)
			if !ok || hops >= maxRelayHops || r.MessageType != dhcpv6.MessageTypeRelayForward {
				return nil, netip.AddrPort{}, DropMalformed
			}
			c.inner = r
			cur = r.Options.RelayMessage()
		}
		m, ok := cur.(*dhcpv6.Message)
		if !ok || m == nil {
			return nil, netip.AddrPort{}, DropMalformed
		}
		c.relay, msg = outer, m
	} else {
		m, ok := pkt.(*dhcpv6.Message)
		if !ok {
			return nil, netip.AddrPort{}, DropMalformed
		}
		msg = m
	}
	c.req = msg
	reply, r := c.answer(ctx)
	if reply == nil {
		return nil, netip.AddrPort{}, r
	}
	if c.relay != nil {
		rr, err := dhcpv6.NewRelayReplFromRelayForw(c.relay, reply)
		if err != nil {
			return nil, netip.AddrPort{}, DropMalformed
		}
		// RFC 8415 §19.3: to the relay agent from which the RELAY-FORW came.
		to := in.Peer
		if to.Port() == 0 {
			to = netip.AddrPortFrom(to.Addr(), ServerPort)
		}
		return rr.ToBytes(), to, r
	}
	to := in.Peer
	if to.Port() == 0 {
		to = netip.AddrPortFrom(to.Addr(), ClientPort)
	}
	return reply.ToBytes(), to, r
}

// call is one message being answered.
type call struct {
	h     *Handler
	in    In
	req   *dhcpv6.Message
	relay *dhcpv6.RelayMessage // outermost RELAY-FORW, nil when direct
	inner *dhcpv6.RelayMessage // innermost RELAY-FORW
	mac   net.HardwareAddr
	sn    *Subnet
}

func (c *call) answer(ctx context.Context) (*dhcpv6.Message, Reason) {
	req := c.req
	cid := req.Options.ClientID()
	sid := req.Options.ServerID()
	t := req.MessageType
	switch t {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRebind, dhcpv6.MessageTypeConfirm:
		if cid == nil || sid != nil {
			return nil, DropNoClientID
		}
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		if cid == nil || sid == nil {
			return nil, DropNoClientID
		}
		if !bytes.Equal(sid.ToBytes(), c.h.duid.ToBytes()) {
			return nil, DropOtherServer
		}
	case dhcpv6.MessageTypeInformationRequest:
		if sid != nil && !bytes.Equal(sid.ToBytes(), c.h.duid.ToBytes()) {
			return nil, DropOtherServer
		}
	default:
		return nil, DropMessageType
	}
	c.mac = c.clientMAC(cid)
	c.sn = c.subnet()
	if t == dhcpv6.MessageTypeInformationRequest {
		if c.sn == nil {
			return nil, DropNoSubnet
		}
		rep, err := c.newReply()
		if err != nil {
			return nil, DropMalformed
		}
		c.addConfig(rep)
		return rep, Informed
	}
	if t == dhcpv6.MessageTypeConfirm {
		return c.confirm()
	}
	if c.mac == nil {
		return nil, DropNoMAC
	}
	if c.sn == nil {
		return nil, DropNoSubnet
	}
	sctx, cancel := context.WithTimeout(ctx, c.h.o.HandleTimeout)
	defer cancel()
	host, err := c.h.o.Hosts.Host6(sctx, c.mac, c.sn.Prefix)
	if err != nil {
		c.h.o.Log.Warn("dhcp6: host lookup", "mac", c.mac.String(), "err", err)
		return nil, DropBackend
	}
	known := host.ServerID != 0 && host.IP.IsValid() && c.sn.Prefix.Contains(host.IP)
	switch t {
	case dhcpv6.MessageTypeSolicit:
		if !known {
			return nil, DropUnknownMAC
		}
		rapid := req.GetOneOption(dhcpv6.OptionRapidCommit) != nil
		var rep *dhcpv6.Message
		if rapid {
			rep, err = dhcpv6.NewReplyFromMessage(req, dhcpv6.WithServerID(c.h.duid))
		} else {
			rep, err = dhcpv6.NewAdvertiseFromSolicit(req, dhcpv6.WithServerID(c.h.duid))
		}
		if err != nil {
			return nil, DropMalformed
		}
		c.addIAs(rep, host)
		c.addConfig(rep)
		state, r := netboot.LeaseOffered, Advertised
		if rapid {
			state, r = netboot.LeaseBound, Replied
		}
		if err := c.save(sctx, host, state); err != nil {
			return nil, DropBackend
		}
		return rep, r
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind:
		if !known && t == dhcpv6.MessageTypeRebind {
			return nil, DropUnknownMAC // RFC 8415 §18.3.5: no binding, cannot tell: no reply
		}
		rep, err := c.newReply()
		if err != nil {
			return nil, DropMalformed
		}
		if !known {
			code := iana.StatusNoAddrsAvail
			if t == dhcpv6.MessageTypeRenew {
				code = iana.StatusNoBinding
			}
			for _, ia := range req.Options.IANA() {
				rep.AddOption(&dhcpv6.OptIANA{IaId: ia.IaId, Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{
					&dhcpv6.OptStatusCode{StatusCode: code, StatusMessage: "no address for this client here"}}}})
			}
			return rep, Replied
		}
		c.addIAs(rep, host)
		c.addConfig(rep)
		if err := c.save(sctx, host, netboot.LeaseBound); err != nil {
			return nil, DropBackend
		}
		return rep, Replied
	}
	// RELEASE, DECLINE: record when the address is the client's, always answer.
	rep, err := c.newReply()
	if err != nil {
		return nil, DropMalformed
	}
	rep.AddOption(&dhcpv6.OptStatusCode{StatusCode: iana.StatusSuccess})
	state, r := netboot.LeaseReleased, Released
	if t == dhcpv6.MessageTypeDecline {
		state, r = netboot.LeaseDeclined, Declined
	}
	if known && c.names(host.IP) {
		if err := c.save(sctx, host, state); err != nil {
			return nil, DropBackend
		}
		if state == netboot.LeaseDeclined {
			c.h.o.Log.Warn("dhcp6: address declined: another host answers on it", "mac", c.mac.String(), "ip", host.IP.String())
		}
	}
	return rep, r
}

// confirm answers whether the client's addresses are on its link
// (RFC 8415 §18.3.3): it needs no host lookup, and a CONFIRM without
// addresses gets no reply.
func (c *call) confirm() (*dhcpv6.Message, Reason) {
	if c.sn == nil {
		return nil, DropNoSubnet
	}
	code, n := iana.StatusSuccess, 0
	for _, ia := range c.req.Options.IANA() {
		for _, a := range ia.Options.Addresses() {
			n++
			if ad, ok := netip.AddrFromSlice(a.IPv6Addr); !ok || !c.sn.Prefix.Contains(ad) {
				code = iana.StatusNotOnLink
			}
		}
	}
	if n == 0 {
		return nil, DropMessageType
	}
	rep, err := c.newReply()
	if err != nil {
		return nil, DropMalformed
	}
	rep.AddOption(&dhcpv6.OptStatusCode{StatusCode: code})
	return rep, Replied
}

// names reports whether the request's IA_NAs carry ip.
func (c *call) names(ip netip.Addr) bool {
	for _, ia := range c.req.Options.IANA() {
		for _, a := range ia.Options.Addresses() {
			if ad, ok := netip.AddrFromSlice(a.IPv6Addr); ok && ad == ip {
				return true
			}
		}
	}
	return false
}

func (c *call) newReply() (*dhcpv6.Message, error) {
	return dhcpv6.NewReplyFromMessage(c.req, dhcpv6.WithServerID(c.h.duid))
}

// addIAs gives the address to the first IA_NA; other IA_NAs get
// NoAddrsAvail (one address per machine), and addresses the client asked
// for that are not its own are sent back with lifetimes 0 (RFC 8415
// §18.3.4).
func (c *call) addIAs(rep *dhcpv6.Message, host netboot.Host) {
	sn := c.sn
	for i, ia := range c.req.Options.IANA() {
		out := &dhcpv6.OptIANA{IaId: ia.IaId}
		if i > 0 {
			out.Options.Add(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail})
			rep.AddOption(out)
			continue
		}
		out.T1, out.T2 = sn.PreferredLifetime/2, sn.PreferredLifetime*4/5
		out.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: net.IP(host.IP.AsSlice()),
			PreferredLifetime: sn.PreferredLifetime, ValidLifetime: sn.ValidLifetime})
		if c.req.MessageType == dhcpv6.MessageTypeRenew || c.req.MessageType == dhcpv6.MessageTypeRebind {
			for _, a := range ia.Options.Addresses() {
				if ad, ok := netip.AddrFromSlice(a.IPv6Addr); ok && ad != host.IP {
					out.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: a.IPv6Addr})
				}
			}
		}
		rep.AddOption(out)
	}
}

// addConfig adds DNS and the boot file URL.
func (c *call) addConfig(rep *dhcpv6.Message) {
	if len(c.sn.DNS) > 0 {
		ips := make([]net.IP, len(c.sn.DNS))
		for i, a := range c.sn.DNS {
			ips[i] = net.IP(a.AsSlice())
		}
		rep.AddOption(dhcpv6.OptDNS(ips...))
	}
	if url, httpClient := c.bootURL(); url != "" {
		rep.AddOption(dhcpv6.OptBootFileURL(url))
		if httpClient {
			// UEFI HTTP boot ignores replies without vendor class HTTPClient.
			rep.AddOption(&dhcpv6.OptVendorClass{EnterpriseNumber: 343, Data: [][]byte{[]byte(netboot.VendorHTTP)}})
		}
	}
}

func (c *call) save(ctx context.Context, host netboot.Host, state netboot.LeaseState) error {
	sid := host.ServerID
	l := netboot.Lease{IPID: host.IPID, NetID: host.NetID, ServerID: &sid, MAC: c.mac, IP: host.IP, State: state,
		ExpiresAt: c.h.o.Now().Add(c.sn.ValidLifetime).UTC(), UpdatedAt: c.h.o.Now().UTC(),
		ClientID: hex.EncodeToString(c.req.Options.ClientID().ToBytes())}
	if state == netboot.LeaseOffered {
		l.ExpiresAt = c.h.o.Now().Add(time.Minute).UTC()
	}
	if c.inner != nil {
		l.Relay, _ = netip.AddrFromSlice(c.inner.LinkAddr)
		if id := c.inner.Options.InterfaceID(); id != nil {
			l.CircuitID = printable(id)
		}
	}
	if err := c.h.o.Leases.SaveLease6(ctx, l); err != nil {
		c.h.o.Log.Warn("dhcp6: save lease", "mac", c.mac.String(), "ip", host.IP.String(), "err", err)
		return err
	}
	return nil
}

func printable(b []byte) string {
	for _, x := range b {
		if x < 0x20 || x > 0x7e {
			return hex.EncodeToString(b)
		}
	}
	return string(b)
}
