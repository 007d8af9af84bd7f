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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcimd/dcimd/internal/netboot"
	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
)

var (
	subnet6  = netip.MustParsePrefix("fd00:1::/64")
	relayNet = netip.MustParsePrefix("fd00:2::/64")
	srvAddr6 = netip.MustParseAddr("fd00:1::1")
	cliMAC   = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}
	srvDUID  = (&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xaa}}).ToBytes()
	direct   = dhcp6d.In{Iface: "eth0", Addr: srvAddr6, Peer: netip.MustParseAddrPort("[fe80::1]:546")}
	t0       = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

type rig struct {
	h      *dhcp6d.Handler
	hosts  *fakeHosts
	leases *dhcp6d.MemLeases
}

func newRig(t *testing.T) *rig {
	t.Helper()
	hosts, leases := newFakeHosts(), dhcp6d.NewMemLeases()
	hosts.add(cliMAC, "fd00:1::42", "fd00:2::42")
	h, err := dhcp6d.NewHandler(dhcp6d.Options{
		Subnets: []dhcp6d.Subnet{
			{Prefix: subnet6, DNS: []netip.Addr{srvAddr6}, HTTPBase: "http://[fd00:1::1]:8080/"},
			{Prefix: relayNet, PreferredLifetime: 10 * time.Minute},
		},
		ServerDUID: srvDUID, Hosts: hosts, Leases: leases, Now: func() time.Time { return t0 },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{h: h, hosts: hosts, leases: leases}
}

func duidLL(m net.HardwareAddr) dhcpv6.DUID {
	return &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: m}
}

// msg builds a client message with an IA_NA.
func msg(t *testing.T, typ dhcpv6.MessageType, cid dhcpv6.DUID, mods ...dhcpv6.Modifier) *dhcpv6.Message {
	t.Helper()
	m, err := dhcpv6.NewMessage(append([]dhcpv6.Modifier{dhcpv6.WithClientID(cid), dhcpv6.WithIAID([4]byte{0, 0, 0, 1})}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.MessageType = typ
	return m
}

func withServer(d []byte) dhcpv6.Modifier {
	return func(p dhcpv6.DHCPv6) {
		duid, _ := dhcpv6.DUIDFromBytes(d)
		p.AddOption(dhcpv6.OptServerID(duid))
	}
}

func (r *rig) do(t *testing.T, b []byte, in dhcp6d.In) (dhcpv6.DHCPv6, netip.AddrPort, dhcp6d.Reason) {
	t.Helper()
	out, to, reason := r.h.Handle(context.Background(), b, in)
	if out == nil {
		return nil, to, reason
	}
	p, err := dhcpv6.FromBytes(out)
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return p, to, reason
}

func addrOf(t *testing.T, m *dhcpv6.Message) netip.Addr {
	t.Helper()
	ia := m.Options.OneIANA()
	if ia == nil || ia.Options.OneAddress() == nil {
		t.Fatalf("no IA_NA address in %s", m)
	}
	a, _ := netip.AddrFromSlice(ia.Options.OneAddress().IPv6Addr)
	return a
}

func TestSolicitAdvertiseRequestReply(t *testing.T) {
	r := newRig(t)
	p, to, reason := r.do(t, msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC)).ToBytes(), direct)
	if reason != dhcp6d.Advertised || p == nil || to != direct.Peer {
		t.Fatalf("solicit: %v %v %v", reason, p, to)
	}
	adv := p.(*dhcpv6.Message)
	if adv.MessageType != dhcpv6.MessageTypeAdvertise || addrOf(t, adv) != netip.MustParseAddr("fd00:1::42") ||
		string(adv.Options.ServerID().ToBytes()) != string(srvDUID) || len(adv.Options.DNS()) != 1 {
		t.Fatalf("advertise: %s", adv)
	}
	if ia := adv.Options.OneIANA(); ia.T1 != 30*time.Minute || ia.T2 != 48*time.Minute ||
		ia.Options.OneAddress().PreferredLifetime != time.Hour || ia.Options.OneAddress().ValidLifetime != 2*time.Hour {
		t.Fatalf("lifetimes: %s", ia)
	}
	if ls := r.leases.Leases(); len(ls) != 1 || ls[0].State != netboot.LeaseOffered {
		t.Fatalf("leases after advertise: %+v", ls)
	}
	p, _, reason = r.do(t, msg(t, dhcpv6.MessageTypeRequest, duidLL(cliMAC), withServer(srvDUID)).ToBytes(), direct)
	if reason != dhcp6d.Replied || p.Type() != dhcpv6.MessageTypeReply || addrOf(t, p.(*dhcpv6.Message)) != netip.MustParseAddr("fd00:1::42") {
		t.Fatalf("request: %v %v", reason, p)
	}
	if ls := r.leases.Leases(); len(ls) != 1 || ls[0].State != netboot.LeaseBound || !ls[0].ExpiresAt.Equal(t0.Add(2*time.Hour)) ||
		ls[0].MAC.String() != cliMAC.String() {
		t.Fatalf("leases after reply: %+v", ls)
	}
	for _, typ := range []dhcpv6.MessageType{dhcpv6.MessageTypeRenew} {
		p, _, reason = r.do(t, msg(t, typ, duidLL(cliMAC), withServer(srvDUID)).ToBytes(), direct)
		if reason != dhcp6d.Replied || addrOf(t, p.(*dhcpv6.Message)) != netip.MustParseAddr("fd00:1::42") {
			t.Fatalf("%s: %v %v", typ, reason, p)
		}
	}
	p, _, reason = r.do(t, msg(t, dhcpv6.MessageTypeRebind, duidLL(cliMAC)).ToBytes(), direct)
	if reason != dhcp6d.Replied || addrOf(t, p.(*dhcpv6.Message)) != netip.MustParseAddr("fd00:1::42") {
		t.Fatalf("rebind: %v %v", reason, p)
	}
	rel := msg(t, dhcpv6.MessageTypeRelease, duidLL(cliMAC), withServer(srvDUID),
		dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("fd00:1::42")}))
	p, _, reason = r.do(t, rel.ToBytes(), direct)
	if reason != dhcp6d.Released || p.(*dhcpv6.Message).Options.Status() == nil {
		t.Fatalf("release: %v %v", reason, p)
	}
	if ls := r.leases.Leases(); ls[0].State != netboot.LeaseReleased {
		t.Fatalf("leases after release: %+v", ls)
	}
	if st := r.h.Stats(); st.Advertises != 1 || st.Replies != 3 || st.Releases != 1 || st.Drops != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRapidCommit(t *testing.T) {
	r := newRig(t)
	p, _, reason := r.do(t, msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC), dhcpv6.WithRapidCommit).ToBytes(), direct)
	if reason != dhcp6d.Replied || p.Type() != dhcpv6.MessageTypeReply || p.GetOneOption(dhcpv6.OptionRapidCommit) == nil {
		t.Fatalf("rapid commit: %v %v", reason, p)
	}
	if ls := r.leases.Leases(); len(ls) != 1 || ls[0].State != netboot.LeaseBound {
		t.Fatalf("leases: %+v", ls)
	}
}

// TestClientMAC: the MAC comes from DUID-LL/LLT, else (direct) from an
// EUI-64 link-local source; a DUID-EN from a privacy address gets nothing.
func TestClientMAC(t *testing.T) {
	en := &dhcpv6.DUIDEN{EnterpriseNumber: 9, EnterpriseIdentifier: []byte("x")}
	eui := dhcp6d.In{Iface: "eth0", Addr: srvAddr6, Peer: netip.MustParseAddrPort("[fe80::5054:ff:fe00:1]:546")}
	priv := dhcp6d.In{Iface: "eth0", Addr: srvAddr6, Peer: netip.MustParseAddrPort("[fe80::1234:5678:9abc:def0]:546")}
	llt := &dhcpv6.DUIDLLT{HWType: iana.HWTypeEthernet, Time: 5, LinkLayerAddr: cliMAC}
	for _, c := range []struct {
		name string
		cid  dhcpv6.DUID
		in   dhcp6d.In
		want dhcp6d.Reason
	}{
		{"duid-ll", duidLL(cliMAC), priv, dhcp6d.Advertised},
		{"duid-llt", llt, priv, dhcp6d.Advertised},
		{"eui-64 source", en, eui, dhcp6d.Advertised},
		{"nothing", en, priv, dhcp6d.DropNoMAC},
		{"unknown mac", duidLL(net.HardwareAddr{0x52, 0, 0, 0, 0, 9}), direct, dhcp6d.DropUnknownMAC},
		{"no subnet", duidLL(cliMAC), dhcp6d.In{Peer: direct.Peer, Addr: netip.MustParseAddr("fd00:9::1")}, dhcp6d.DropNoSubnet},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			p, _, reason := r.do(t, msg(t, dhcpv6.MessageTypeSolicit, c.cid).ToBytes(), c.in)
			if reason != c.want || (p == nil) != (c.want != dhcp6d.Advertised) {
				t.Fatalf("got %v %v, want %v", reason, p, c.want)
			}
		})
	}
}

// TestIgnored: what a server must not answer gets no reply.
func TestIgnored(t *testing.T) {
	other := (&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xbb}}).ToBytes()
	noCID, _ := dhcpv6.NewMessage()
	noCID.MessageType = dhcpv6.MessageTypeSolicit
	relayRepl, _ := dhcpv6.EncapsulateRelay(msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC)), dhcpv6.MessageTypeRelayReply, net.ParseIP("fd00:2::1"), net.ParseIP("fe80::1"))
	for _, c := range []struct {
		name string
		b    []byte
		want dhcp6d.Reason
	}{
		{"garbage", []byte{1, 2}, dhcp6d.DropMalformed},
		{"advertise", msg(t, dhcpv6.MessageTypeAdvertise, duidLL(cliMAC)).ToBytes(), dhcp6d.DropMessageType},
		{"reply", msg(t, dhcpv6.MessageTypeReply, duidLL(cliMAC)).ToBytes(), dhcp6d.DropMessageType},
		{"relay-repl", relayRepl.ToBytes(), dhcp6d.DropMessageType},
		{"solicit without client id", noCID.ToBytes(), dhcp6d.DropNoClientID},
		{"solicit naming a server", msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC), withServer(srvDUID)).ToBytes(), dhcp6d.DropNoClientID},
		{"request for another server", msg(t, dhcpv6.MessageTypeRequest, duidLL(cliMAC), withServer(other)).ToBytes(), dhcp6d.DropOtherServer},
		{"request without server id", msg(t, dhcpv6.MessageTypeRequest, duidLL(cliMAC)).ToBytes(), dhcp6d.DropNoClientID},
		{"rebind of an unknown mac", msg(t, dhcpv6.MessageTypeRebind, duidLL(net.HardwareAddr{0x52, 0, 0, 0, 0, 9})).ToBytes(), dhcp6d.DropUnknownMAC},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			if p, _, reason := r.do(t, c.b, direct); p != nil || reason != c.want {
				t.Fatalf("got %v %v, want no reply for %v", reason, p, c.want)
			}
		})
	}
}

func TestUnknownRequestGetsNoAddrsAvail(t *testing.T) {
	r := newRig(t)
	p, _, reason := r.do(t, msg(t, dhcpv6.MessageTypeRequest, duidLL(net.HardwareAddr{0x52, 0, 0, 0, 0, 9}), withServer(srvDUID)).ToBytes(), direct)
	if reason != dhcp6d.Replied {
		t.Fatalf("%v %v", reason, p)
	}
	ia := p.(*dhcpv6.Message).Options.OneIANA()
	if ia == nil || ia.Options.Status() == nil || ia.Options.Status().StatusCode != iana.StatusNoAddrsAvail || ia.Options.OneAddress() != nil {
		t.Fatalf("IA: %v", ia)
	}
}

func TestBackendFailure(t *testing.T) {
	r := newRig(t)
	r.hosts.fail = true
	if p, _, reason := r.do(t, msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC)).ToBytes(), direct); p != nil || reason != dhcp6d.DropBackend {
		t.Fatalf("%v %v", reason, p)
	}
}

func TestInformationRequest(t *testing.T) {
	r := newRig(t)
	m, _ := dhcpv6.NewMessage(dhcpv6.WithClientID(duidLL(cliMAC)))
	m.MessageType = dhcpv6.MessageTypeInformationRequest
	p, _, reason := r.do(t, m.ToBytes(), direct)
	if reason != dhcp6d.Informed || len(p.(*dhcpv6.Message).Options.DNS()) != 1 || p.(*dhcpv6.Message).Options.OneIANA() != nil {
		t.Fatalf("%v %v", reason, p)
	}
	if r.hosts.calls != 0 {
		t.Fatalf("information-request looked up the host")
	}
}

// TestBootFileURL: UEFI gets the iPXE loader, UEFI HTTP boot also vendor
// class HTTPClient, iPXE its script; others nothing.
func TestBootFileURL(t *testing.T) {
	for _, c := range []struct {
		name      string
		mods      []dhcpv6.Modifier
		url       string
		httpClass bool
	}{
		{"plain", nil, "", false},
		{"uefi x64", []dhcpv6.Modifier{dhcpv6.WithArchType(iana.EFI_X86_64)}, "http://[fd00:1::1]:8080/boot/ipxe.efi", false},
		{"uefi http", []dhcpv6.Modifier{dhcpv6.WithArchType(iana.Arch(16))}, "http://[fd00:1::1]:8080/boot/ipxe.efi", true},
		{"ipxe", []dhcpv6.Modifier{dhcpv6.WithArchType(iana.EFI_X86_64), dhcpv6.WithUserClass([]byte("iPXE"))},
			"http://[fd00:1::1]:8080/boot/52:54:00:00:00:01.ipxe", false},
		{"bios", []dhcpv6.Modifier{dhcpv6.WithArchType(iana.INTEL_X86PC)}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			p, _, _ := r.do(t, msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC), c.mods...).ToBytes(), direct)
			m := p.(*dhcpv6.Message)
			if got := m.Options.BootFileURL(); got != c.url {
				t.Fatalf("boot-file-url %q, want %q", got, c.url)
			}
			vc := m.Options.VendorClasses()
			if got := len(vc) == 1 && string(vc[0].Data[0]) == "HTTPClient"; got != c.httpClass {
				t.Fatalf("vendor class %v, want HTTPClient %v", vc, c.httpClass)
			}
		})
	}
}

// TestRelay: a RELAY-FORW is answered with a RELAY-REPL to the relay,
// interface-id echoed; the relay's link address picks the subnet and its
// option 79 gives the MAC of a client with a DUID-EN.
func TestRelay(t *testing.T) {
	r := newRig(t)
	en := &dhcpv6.DUIDEN{EnterpriseNumber: 9, EnterpriseIdentifier: []byte("x")}
	sol := msg(t, dhcpv6.MessageTypeSolicit, en)
	fw, err := dhcpv6.EncapsulateRelay(sol, dhcpv6.MessageTypeRelayForward, net.ParseIP("fd00:2::1"), net.ParseIP("fe80::9"))
	if err != nil {
		t.Fatal(err)
	}
	fw.AddOption(dhcpv6.OptInterfaceID([]byte("swp7")))
	fw.AddOption(dhcpv6.OptClientLinkLayerAddress(iana.HWTypeEthernet, cliMAC))
	relay := dhcp6d.In{Iface: "eth0", Addr: srvAddr6, Peer: netip.MustParseAddrPort("[fd00:2::1]:547")}
	p, to, reason := r.do(t, fw.ToBytes(), relay)
	if reason != dhcp6d.Advertised || to != relay.Peer || p.Type() != dhcpv6.MessageTypeRelayReply {
		t.Fatalf("relay: %v %v %v", reason, to, p)
	}
	rr := p.(*dhcpv6.RelayMessage)
	if string(rr.Options.InterfaceID()) != "swp7" || !rr.PeerAddr.Equal(net.ParseIP("fe80::9")) {
		t.Fatalf("relay-repl: %s", rr)
	}
	inner, err := rr.GetInnerMessage()
	if err != nil || inner.MessageType != dhcpv6.MessageTypeAdvertise || addrOf(t, inner) != netip.MustParseAddr("fd00:2::42") {
		t.Fatalf("inner: %v %v", inner, err)
	}
	if ia := inner.Options.OneIANA(); ia.Options.OneAddress().PreferredLifetime != 10*time.Minute {
		t.Fatalf("relay subnet lifetimes: %s", ia)
	}
	if ls := r.leases.Leases(); len(ls) != 1 || ls[0].CircuitID != "swp7" || ls[0].Relay != netip.MustParseAddr("fd00:2::1") {
		t.Fatalf("lease: %+v", ls)
	}
}

func TestCollector(t *testing.T) {
	r := newRig(t)
	r.do(t, []byte{1}, direct)
	r.do(t, msg(t, dhcpv6.MessageTypeSolicit, duidLL(cliMAC)).ToBytes(), direct)
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.h.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue()
		}
	}
	if got["dcimd_dhcp6_advertises_total"] != 1 || got["dcimd_dhcp6_drops_total/malformed"] != 1 ||
		got["dcimd_dhcp6_drops_total/queue_full"] != 0 || len(got) != 14 {
		t.Fatalf("metrics %v", got)
	}
	if st := r.h.Stats(); st.Drops != 1 || st.DropsBy["malformed"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConfirm: on-link addresses get Success, others NotOnLink, a CONFIRM
// without addresses nothing; no host lookup either way.
func TestConfirm(t *testing.T) {
	for _, c := range []struct {
		name  string
		addrs []string
		want  iana.StatusCode
		reply bool
	}{
		{"on link", []string{"fd00:1::99"}, iana.StatusSuccess, true},
		{"moved", []string{"fd00:1::99", "fd00:7::1"}, iana.StatusNotOnLink, true},
		{"no addresses", nil, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			var opts []dhcpv6.OptIAAddress
			for _, a := range c.addrs {
				opts = append(opts, dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(a)})
			}
			m := msg(t, dhcpv6.MessageTypeConfirm, &dhcpv6.DUIDEN{EnterpriseNumber: 1, EnterpriseIdentifier: []byte{1}})
			if len(opts) > 0 {
				m.UpdateOption(&dhcpv6.OptIANA{IaId: [4]byte{0, 0, 0, 1}})
				dhcpv6.WithIANA(opts...)(m)
			}
			p, _, reason := r.do(t, m.ToBytes(), dhcp6d.In{Addr: srvAddr6, Peer: netip.MustParseAddrPort("[fe80::1234:5678:9abc:def0]:546")})
			if (p != nil) != c.reply {
				t.Fatalf("reply %v (%v), want %v", p, reason, c.reply)
			}
			if c.reply {
				if st := p.(*dhcpv6.Message).Options.Status(); st == nil || st.StatusCode != c.want {
					t.Fatalf("status %v, want %v", st, c.want)
				}
			}
			if r.hosts.calls != 0 {
				t.Fatal("confirm looked up the host")
			}
		})
	}
}
