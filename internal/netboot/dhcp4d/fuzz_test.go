package dhcp4d

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// fuzzSeeds are real packets from the dhcpv4 builders and broken ones:
// truncated, garbage, oversized and contradictory options.
func fuzzSeeds(t testing.TB) [][]byte {
	known, pxeMAC := "52:54:00:00:00:01", "52:54:00:00:01:01"
	bios := pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC)
	var seeds [][]byte
	for _, d := range []*dhcpv4.DHCPv4{
		msg(t, known, dhcpv4.MessageTypeDiscover),
		msg(t, known, dhcpv4.MessageTypeDiscover, bios),
		msg(t, known, dhcpv4.MessageTypeDiscover, bios, dhcpv4.WithUserClass("iPXE", false)),
		msg(t, known, dhcpv4.MessageTypeDiscover, pxe("HTTPClient:Arch:00016:UNDI:003001", iana.EFI_X86_64_HTTP)),
		msg(t, pxeMAC, dhcpv4.MessageTypeDiscover, bios, relayed("198.18.1.1", "port-7", "sw1")),
		msg(t, known, dhcpv4.MessageTypeRequest, requested("198.18.0.10"), serverID("198.18.0.1")),
		msg(t, known, dhcpv4.MessageTypeRequest, requested("198.18.0.99")),
		msg(t, known, dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10")), dhcpv4.WithBroadcast(false)),
		msg(t, known, dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10"))),
		msg(t, known, dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10")), serverID("198.18.0.1")),
		msg(t, known, dhcpv4.MessageTypeDecline, requested("198.18.0.10"), serverID("198.18.0.1")),
		msg(t, known, dhcpv4.MessageTypeOffer),
		msg(t, known, dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply }),
		msg(t, known, dhcpv4.MessageTypeDiscover, dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 7, 0})),
		msg(t, known, dhcpv4.MessageTypeDiscover, dhcpv4.WithGeneric(dhcpv4.OptionMaximumDHCPMessageSize, []byte{0, 10})),
		msg(t, known, dhcpv4.MessageTypeDiscover, dhcpv4.WithGeneric(dhcpv4.OptionRelayAgentInformation, bytes.Repeat([]byte{1, 255}, 200))),
		msg(t, known, dhcpv4.MessageTypeDiscover, dhcpv4.WithGeneric(dhcpv4.OptionDHCPMessageType, []byte{1, 3})),
	} {
		seeds = append(seeds, d.ToBytes())
	}
	full := seeds[1]
	seeds = append(seeds,
		full[:100], full[:236], full[:240], full[:len(full)-1],
		bytes.Repeat([]byte{0xff}, 300), bytes.Repeat([]byte{0}, 600), []byte{1},
		append(bytes.Clone(full[:240]), 53, 1, 1, 82, 200, 1, 2), // option 82 claims more than there is
		append(bytes.Clone(full[:240]), bytes.Repeat([]byte{0}, 4000)...),
	)
	// hlen 16 with a 6-byte Ethernet type.
	long := bytes.Clone(seeds[0])
	long[2] = 16
	return append(seeds, long)
}

// FuzzHandle feeds raw packets to the handler: it never panics, never
// answers a packet it must ignore, and every answer is a well-formed reply
// to the request, sent where RFC 2131 says, giving only an address the
// store holds for that MAC.
func FuzzHandle(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "198.18.0.1")
	fs.add("52:54:00:00:02:01", "10.9.9.9", "10.9.9.0/24", "")
	h, _ := testHandler(f, fs, func(o *Options) { o.RateLimit = RateLimit{PerSecond: 1e9, Burst: 1 << 30} })
	f.Fuzz(func(t *testing.T, b []byte, pxePort bool) {
		in := inLAN
		if pxePort {
			in = In{Iface: "veth1", Addr: netip.MustParseAddr("198.18.2.1"), Port: PXEPort, Peer: netip.MustParseAddrPort("198.18.2.50:68")}
		}
		out, to, r := h.HandlePacket(context.Background(), b, in)
		if (out != nil) != r.Replied() {
			t.Fatalf("reason %s with reply %v", r, out != nil)
		}
		req, err := dhcpv4.FromBytes(b)
		mustIgnore := err != nil || len(b) > MaxPacket || req.OpCode != dhcpv4.OpcodeBootRequest || req.HWType != iana.HWTypeEthernet ||
			len(req.ClientHWAddr) != 6
		if err == nil {
			switch req.MessageType() {
			case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeInform:
			default:
				mustIgnore = true
			}
		}
		if out == nil {
			return
		}
		if mustIgnore {
			t.Fatalf("answered a packet to ignore (%s): %x", r, b)
		}
		resp, err := dhcpv4.FromBytes(out)
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if resp.OpCode != dhcpv4.OpcodeBootReply || resp.TransactionID != req.TransactionID || !bytes.Equal(resp.ClientHWAddr, req.ClientHWAddr) {
			t.Fatalf("reply does not answer the request: %s", resp.Summary())
		}
		if len(out) > maxReply(req) {
			t.Fatalf("reply of %d bytes, client takes %d", len(out), maxReply(req))
		}
		switch rt := resp.MessageType(); {
		case req.MessageType() == dhcpv4.MessageTypeDiscover && rt == dhcpv4.MessageTypeOffer:
		case req.MessageType() == dhcpv4.MessageTypeRequest && (rt == dhcpv4.MessageTypeAck || rt == dhcpv4.MessageTypeNak):
		case req.MessageType() == dhcpv4.MessageTypeInform && rt == dhcpv4.MessageTypeAck:
		default:
			t.Fatalf("%s answered with %s", req.MessageType(), rt)
		}
		if y := addr4(resp.YourIPAddr); y.IsValid() {
			hst, err := fs.Host(context.Background(), req.ClientHWAddr, netip.PrefixFrom(y, 32))
			if err != nil || hst.IP != y {
				t.Fatalf("gave %s to %s, which the store does not hold for it", y, req.ClientHWAddr)
			}
		}
		bcast := netip.MustParseAddrPort("255.255.255.255:68")
		gi, ci := addr4(req.GatewayIPAddr), addr4(req.ClientIPAddr)
		switch {
		case to == bcast, in.Port == PXEPort && to == in.Peer:
		case gi.IsValid() && to == netip.AddrPortFrom(gi, 67):
		case ci.IsValid() && to == netip.AddrPortFrom(ci, 68):
		default:
			t.Fatalf("reply sent to %s (giaddr %s, ciaddr %s)", to, gi, ci)
		}
	})
}
