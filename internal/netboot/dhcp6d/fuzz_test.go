package dhcp6d_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
)

// FuzzHandle6: no input makes the handler panic; a reply always parses,
// goes back to where the packet came from, and never answers what a
// server must ignore (server messages, RELAY-REPL, a message naming
// another server).
func FuzzHandle6(f *testing.F) {
	t := &testing.T{}
	en := &dhcpv6.DUIDEN{EnterpriseNumber: 9, EnterpriseIdentifier: []byte("x")}
	seeds := []*dhcpv6.Message{
		msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC)),
		msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC), dhcpv6.WithRapidCommit, dhcpv6.WithArchType(iana.EFI_X86_64)),
		msg(t, dhcpv6.MessageTypeSolicit, en, dhcpv6.WithUserClass([]byte("iPXE"))),
		msg(t, dhcpv6.MessageTypeRequest, duidLL(cliMAC), withServer(srvDUID)),
		msg(t, dhcpv6.MessageTypeRenew, duidLL(cliMAC), withServer(srvDUID)),
		msg(t, dhcpv6.MessageTypeRebind, duidLL(cliMAC)),
		msg(t, dhcpv6.MessageTypeConfirm, duidLL(cliMAC), dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("fd00:9::1")})),
		msg(t, dhcpv6.MessageTypeRelease, duidLL(cliMAC), withServer(srvDUID)),
		msg(t, dhcpv6.MessageTypeDecline, duidLL(cliMAC), withServer(srvDUID), dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("fd00:1::42")})),
		msg(t, dhcpv6.MessageTypeInformationRequest, duidLL(cliMAC)),
		msg(t, dhcpv6.MessageTypeAdvertise, duidLL(cliMAC), withServer(srvDUID)),
	}
	for _, s := range seeds {
		f.Add(s.ToBytes())
	}
	fw, _ := dhcpv6.EncapsulateRelay(seeds[2], dhcpv6.MessageTypeRelayForward, net.ParseIP("fd00:2::1"), net.ParseIP("fe80::9"))
	fw.AddOption(dhcpv6.OptInterfaceID([]byte("swp7")))
	fw.AddOption(dhcpv6.OptClientLinkLayerAddress(iana.HWTypeEthernet, cliMAC))
	f.Add(fw.ToBytes())
	fw2, _ := dhcpv6.EncapsulateRelay(fw, dhcpv6.MessageTypeRelayForward, net.ParseIP("fd00:2::1"), net.ParseIP("fd00:3::1"))
	f.Add(fw2.ToBytes())
	f.Add([]byte{})
	f.Add([]byte{12, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newRig(t)
		peer := netip.MustParseAddrPort("[fe80::5054:ff:fe00:1]:546")
		out, to, reason := r.h.Handle(context.Background(), b, dhcp6d.In{Iface: "eth0", Addr: srvAddr6, Peer: peer})
		if out == nil {
			if reason < dhcp6d.DropMalformed {
				t.Fatalf("no reply but reason %v", reason)
			}
			return
		}
		if reason >= dhcp6d.DropMalformed {
			t.Fatalf("reply with drop reason %v", reason)
		}
		if to != peer {
			t.Fatalf("reply to %v, not the sender", to)
		}
		in, err := dhcpv6.FromBytes(b)
		if err != nil {
			t.Fatalf("answered a packet that does not parse")
		}
		rep, err := dhcpv6.FromBytes(out)
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if in.IsRelay() != rep.IsRelay() {
			t.Fatalf("relay %v answered with relay %v", in.IsRelay(), rep.IsRelay())
		}
		inner := in
		for inner != nil && inner.IsRelay() {
			inner, err = dhcpv6.DecapsulateRelay(inner)
			if err != nil {
				t.Fatal(err)
			}
		}
		m, ok := inner.(*dhcpv6.Message)
		if !ok {
			t.Fatalf("answered a relay without a message")
		}
		switch m.MessageType {
		case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind,
			dhcpv6.MessageTypeConfirm, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline, dhcpv6.MessageTypeInformationRequest:
		default:
			t.Fatalf("answered a %s", m.MessageType)
		}
		if sid := m.Options.ServerID(); sid != nil && string(sid.ToBytes()) != string(srvDUID) {
			t.Fatalf("answered a message for another server")
		}
	})
}
