package dhcp4d

import (
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/dcimd/dcimd/internal/netboot"
)

// MaxPacket is the largest request read; DHCP messages are far smaller
// (576 bytes is the minimum every client takes, 1500 a full frame).
const MaxPacket = 4096

// HandlePacket parses a received packet, handles it and encodes the reply
// with its destination (out is nil when there is none). It counts the
// outcome in Stats.
func (h *Handler) HandlePacket(ctx context.Context, b []byte, in In) (out []byte, to netip.AddrPort, r Reason) {
	r = DropMalformed // what a panic below counts as
	defer func() { h.stats.add(r) }()
	if len(b) > MaxPacket {
		return nil, netip.AddrPort{}, DropMalformed
	}
	req, err := dhcpv4.FromBytes(b)
	if err != nil {
		return nil, netip.AddrPort{}, DropMalformed
	}
	resp, r := h.Handle(ctx, req, in)
	if resp == nil {
		return nil, netip.AddrPort{}, r
	}
	out = resp.ToBytes()
	if len(out) > maxReply(req) {
		h.o.Log.Warn("dhcp4: reply larger than the client takes", "mac", req.ClientHWAddr.String(), "size", len(out))
		return nil, netip.AddrPort{}, DropReplyTooLarge
	}
	return out, Destination(req, resp, in), r
}

// maxReply is the client's maximum DHCP message size (option 57) as a UDP
// payload, never under the 576-byte IP datagram every client takes.
func maxReply(req *dhcpv4.DHCPv4) int {
	const minDatagram, ipUDP = 576, 28
	n := minDatagram
	if m, err := req.MaxMessageSize(); err == nil && int(m) > n {
		n = int(m)
	}
	return n - ipUDP
}

// Destination is where a reply goes (RFC 2131 §4.1): to the relay's server
// port when relayed; a NAK, and anything for a client without an address,
// to the broadcast address on the client port (the server cannot unicast
// to an address the client does not hold yet without writing ARP entries);
// to the client's own address when it has one (renewal, INFORM); a proxy
// answer on the PXE port back to its sender.
func Destination(req, resp *dhcpv4.DHCPv4, in In) netip.AddrPort {
	bcast := netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcpv4.ClientPort)
	if in.Port == PXEPort && in.Peer.IsValid() {
		return in.Peer
	}
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() {
		return netip.AddrPortFrom(gi, dhcpv4.ServerPort)
	}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return bcast
	}
	if ci := addr4(req.ClientIPAddr); ci.IsValid() {
		return netip.AddrPortFrom(ci, dhcpv4.ClientPort)
	}
	return bcast
}

// reply starts an answer: the request's identity, our server identifier,
// and the options a server must echo (relay agent information, client
// identifier: RFC 3046, RFC 6842).
func (c *call) reply(t dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        c.req.HWType,
		TransactionID: c.req.TransactionID,
		Flags:         c.req.Flags,
		ClientHWAddr:  c.mac,
		GatewayIPAddr: c.req.GatewayIPAddr,
		Options:       dhcpv4.Options{},
	}
	r.UpdateOption(dhcpv4.OptMessageType(t))
	r.UpdateOption(dhcpv4.OptServerIdentifier(c.in.Addr.AsSlice()))
	for _, o := range []dhcpv4.OptionCode{dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientIdentifier} {
		if v := c.req.Options.Get(o); v != nil {
			r.Options[o.Code()] = v
		}
	}
	return r
}

// nak refuses a REQUEST; relayed, it asks the relay to broadcast.
func (c *call) nak(msg string) *dhcpv4.DHCPv4 {
	r := c.reply(dhcpv4.MessageTypeNak)
	r.UpdateOption(dhcpv4.OptMessage(msg))
	if c.giaddr.IsValid() {
		r.SetBroadcast()
	}
	return r
}

// address fills in a lease: the address and its configuration.
func (c *call) address(r *dhcpv4.DHCPv4, h netboot.Host) {
	r.YourIPAddr = h.IP.AsSlice()
	c.config(r, h, c.sn.LeaseTime)
}

// config adds the network's options; lease 0 leaves the lease times out
// (an INFORM).
func (c *call) config(r *dhcpv4.DHCPv4, h netboot.Host, lease time.Duration) {
	p := h.Prefix
	if !p.IsValid() || !p.Contains(h.IP) {
		p = c.sn.Prefix
	}
	r.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(p.Bits(), 32)))
	gw := c.sn.Router
	if !gw.IsValid() {
		gw = h.Gateway
	}
	if gw.Is4() {
		r.UpdateOption(dhcpv4.OptRouter(gw.AsSlice()))
	}
	if len(c.sn.DNS) > 0 {
		ips := make([]net.IP, 0, len(c.sn.DNS))
		for _, a := range c.sn.DNS {
			ips = append(ips, a.AsSlice())
		}
		r.UpdateOption(dhcpv4.OptDNS(ips...))
	}
	if c.sn.Domain != "" {
		r.UpdateOption(dhcpv4.OptDomainName(c.sn.Domain))
	}
	if lease > 0 {
		r.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lease))
		r.UpdateOption(dhcpv4.OptRenewTimeValue(lease / 2))
		r.UpdateOption(dhcpv4.OptRebindingTimeValue(lease * 7 / 8))
	}
}

// pxeVendorOptions is option 43 for PXE firmware: sub-option 6 (discovery
// control) = 8, boot the file named in this reply and skip boot server
// discovery.
var pxeVendorOptions = []byte{6, 1, 8, 255}

// boot adds the boot options netboot.Choose picks: siaddr, file, options
// 66 and 67, and what PXE and HTTP boot firmware need to take a reply
// (43 and 60). In proxy mode the reply must also say PXEClient and echo
// the client's machine identifier (97), as the PXE spec asks of a
// proxyDHCP server.
func (c *call) boot(r *dhcpv4.DHCPv4, proxy bool) {
	ch := netboot.Choose(c.client, c.h.o.Files, c.sn.HTTPBase)
	if ch.Method == netboot.MethodNone {
		return
	}
	next := c.sn.NextServer
	if !next.IsValid() {
		next = c.in.Addr
	}
	if ch.Method != netboot.MethodHTTP {
		r.ServerIPAddr = next.AsSlice()
		r.UpdateOption(dhcpv4.OptTFTPServerName(next.String()))
	}
	if len(ch.File) < 128 { // the header field holds 127 bytes and a NUL; option 67 carries longer URLs
		r.BootFileName = ch.File
	}
	r.UpdateOption(dhcpv4.OptBootFileName(ch.File))
	switch {
	case ch.HTTPClient:
		r.UpdateOption(dhcpv4.OptClassIdentifier(netboot.VendorHTTP))
	case strings.HasPrefix(c.client.VendorClass, netboot.VendorPXE):
		r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, pxeVendorOptions))
		if proxy {
			r.UpdateOption(dhcpv4.OptClassIdentifier(netboot.VendorPXE))
		}
	}
	if v := c.req.Options.Get(dhcpv4.OptionClientMachineIdentifier); proxy && v != nil {
		r.Options[dhcpv4.OptionClientMachineIdentifier.Code()] = v
	}
	c.log.Debug("dhcp4: boot options", "firmware", ch.Firmware.String(), "file", ch.File)
}

// lease is the record of h for this request.
func (c *call) lease(h netboot.Host, st netboot.LeaseState, exp time.Time) netboot.Lease {
	l := netboot.Lease{IPID: h.IPID, NetID: h.NetID, MAC: c.mac, IP: h.IP, State: st, Dynamic: h.Dynamic, ExpiresAt: exp.UTC(),
		Relay: c.giaddr, Hostname: text(c.req.Options.Get(dhcpv4.OptionHostName))}
	if h.ServerID != 0 {
		id := h.ServerID
		l.ServerID = &id
	}
	if v := c.req.Options.Get(dhcpv4.OptionClientIdentifier); len(v) > 0 {
		l.ClientID = hex.EncodeToString(v[:min(len(v), 127)])
	}
	if c.giaddr.IsValid() {
		l.CircuitID, l.RemoteID = relayIDs(c.req)
	}
	return l
}

// relayIDs reads option 82's circuit and remote id as text.
func relayIDs(req *dhcpv4.DHCPv4) (circuit, remote string) {
	ri := req.RelayAgentInfo()
	if ri == nil {
		return "", ""
	}
	return text(ri.Get(dhcpv4.AgentCircuitIDSubOption)), text(ri.Get(dhcpv4.AgentRemoteIDSubOption))
}

// maxText bounds a stored client-supplied string.
const maxText = 255

// text is printable ASCII as is, anything else as 0x-prefixed hex.
func text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	b = b[:min(len(b), maxText)]
	for _, x := range b {
		if x < 0x20 || x > 0x7e {
			return "0x" + hex.EncodeToString(b[:min(len(b), (maxText-2)/2)])
		}
	}
	return string(b)
}
