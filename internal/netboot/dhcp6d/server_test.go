package dhcp6d_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
)

// TestServerRelayOnLoopback: a server on [::1] with no device answers a
// RELAY-FORW from a relay socket on ::1 with a RELAY-REPL, and shuts down
// cleanly; a second Start is refused.
func TestServerRelayOnLoopback(t *testing.T) {
	hosts := newFakeHosts()
	hosts.add(cliMAC, "fd00:2::42")
	s, err := dhcp6d.New(dhcp6d.Options{
		Interfaces: []dhcp6d.Interface{{Listen: netip.MustParseAddrPort("[::1]:0"), Addr: srvAddr6}},
		Subnets:    []dhcp6d.Subnet{{Prefix: subnet6}, {Prefix: relayNet}},
		ServerDUID: srvDUID, Hosts: hosts, Workers: 2, Queue: 4,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer s.Shutdown(ctx)
	if err := s.Start(ctx); err == nil {
		t.Fatal("second Start accepted")
	}
	srv := s.Addrs()[0].(*net.UDPAddr)
	relay, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	en := &dhcpv6.DUIDEN{EnterpriseNumber: 9, EnterpriseIdentifier: []byte("x")}
	fw, _ := dhcpv6.EncapsulateRelay(msg(t, dhcpv6.MessageTypeSolicit, en, dhcpv6.WithRapidCommit), dhcpv6.MessageTypeRelayForward,
		net.ParseIP("fd00:2::1"), net.ParseIP("fe80::9"))
	fw.AddOption(dhcpv6.OptInterfaceID([]byte("swp7")))
	fw.AddOption(dhcpv6.OptClientLinkLayerAddress(iana.HWTypeEthernet, cliMAC))
	if _, err := relay.WriteTo(fw.ToBytes(), srv); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no RELAY-REPL: %v (stats %+v)", err, s.Stats())
	}
	p, err := dhcpv6.FromBytes(buf[:n])
	if err != nil || p.Type() != dhcpv6.MessageTypeRelayReply {
		t.Fatalf("reply %v %v", p, err)
	}
	inner, err := p.(*dhcpv6.RelayMessage).GetInnerMessage()
	if err != nil || inner.MessageType != dhcpv6.MessageTypeReply || addrOf(t, inner) != netip.MustParseAddr("fd00:2::42") {
		t.Fatalf("inner %v %v", inner, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Replies != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]dhcp6d.Options{
		"no hosts":      {Interfaces: []dhcp6d.Interface{{Name: "x"}}, Subnets: []dhcp6d.Subnet{{Prefix: subnet6}}},
		"v4 subnet":     {Interfaces: []dhcp6d.Interface{{Name: "x"}}, Hosts: newFakeHosts(), Subnets: []dhcp6d.Subnet{{Prefix: netip.MustParsePrefix("198.18.0.0/24")}}},
		"overlap":       {Interfaces: []dhcp6d.Interface{{Name: "x"}}, Hosts: newFakeHosts(), Subnets: []dhcp6d.Subnet{{Prefix: subnet6}, {Prefix: netip.MustParsePrefix("fd00:1::/48")}}},
		"no interfaces": {Hosts: newFakeHosts(), Subnets: []dhcp6d.Subnet{{Prefix: subnet6}}},
		"bad http base": {Interfaces: []dhcp6d.Interface{{Name: "x"}}, Hosts: newFakeHosts(), Subnets: []dhcp6d.Subnet{{Prefix: subnet6, HTTPBase: "ftp://x"}}},
		"bad duid":      {Interfaces: []dhcp6d.Interface{{Name: "x"}}, Hosts: newFakeHosts(), Subnets: []dhcp6d.Subnet{{Prefix: subnet6}}, ServerDUID: []byte{0}},
	} {
		if _, err := dhcp6d.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
