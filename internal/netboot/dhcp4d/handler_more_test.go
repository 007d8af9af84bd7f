package dhcp4d

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcimd/dcimd/internal/netboot"
)

// TestDeclineReleaseInform: a DECLINE holds the address (no offers, NAKs)
// until the hold ends; a RELEASE marks the lease released; an INFORM gets
// configuration without an address.
func TestDeclineReleaseInform(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "198.18.0.1")
	h, clk := testHandler(t, fs)
	_, _, r := exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDecline, requested("198.18.0.11"), serverID("198.18.0.1")), inLAN)
	want(t, r, DropNotForUs)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDecline, requested("198.18.0.10"), serverID("198.18.0.1")), inLAN)
	want(t, r, Declined)
	if len(fs.declined) != 1 || !fs.declined[0].ExpiresAt.Equal(clk.now().Add(10*time.Minute)) {
		t.Fatalf("declines %+v", fs.declined)
	}
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, DropAddrDeclined)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, requested("198.18.0.10")), inLAN)
	want(t, r, Naked)
	clk.add(11 * time.Minute)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, Offered)

	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10")),
		serverID("198.18.0.1")), inLAN)
	want(t, r, Released)
	if l, _ := fs.lease("198.18.0.10"); l.State != netboot.LeaseReleased || !l.ExpiresAt.Equal(clk.now()) {
		t.Fatalf("released lease %+v", l)
	}
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:02", dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10"))), inLAN)
	want(t, r, DropNotForUs)

	ack, to, r := exchange(t, h, msg(t, "52:54:00:00:00:07", dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(net.ParseIP("198.18.0.77")),
		dhcpv4.WithBroadcast(false)), inLAN)
	want(t, r, Informed)
	if to != netip.MustParseAddrPort("198.18.0.77:68") || !ack.YourIPAddr.IsUnspecified() || !ack.ClientIPAddr.Equal(net.ParseIP("198.18.0.77")) ||
		ack.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || ack.DomainName() != "lab.example" || ack.SubnetMask().String() != "ffffff00" {
		t.Fatalf("inform ack to %s: %s", to, ack.Summary())
	}
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:07", dhcpv4.MessageTypeInform, dhcpv4.WithClientIP(net.ParseIP("10.0.0.7"))), inLAN)
	want(t, r, DropBadRequest)
	st := h.Stats()
	if st.Declines != 1 || st.Releases != 1 || st.Informs != 1 || st.Naks != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestIgnored: packets a server must not answer get no reply and touch
// nothing.
func TestIgnored(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "")
	h, _ := testHandler(t, fs)
	disc := func(mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		return msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover, mods...)
	}
	tests := []struct {
		name string
		req  *dhcpv4.DHCPv4
		in   In
		want Reason
	}{
		{"bootreply", disc(func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply }), inLAN, DropNotRequest},
		{"offer", msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeOffer), inLAN, DropMessageType},
		{"ack", msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeAck), inLAN, DropMessageType},
		{"no message type", disc(dhcpv4.WithoutOption(dhcpv4.OptionDHCPMessageType)), inLAN, DropMessageType},
		{"token ring", disc(dhcpv4.WithHWType(iana.HWTypeIEEE802)), inLAN, DropHWAddr},
		{"no mac", disc(dhcpv4.WithHwAddr(nil)), inLAN, DropHWAddr},
		{"zero mac", disc(dhcpv4.WithHwAddr(make(net.HardwareAddr, 6))), inLAN, DropHWAddr},
		{"broadcast mac", disc(dhcpv4.WithHwAddr(hw("ff:ff:ff:ff:ff:ff"))), inLAN, DropHWAddr},
		{"long mac", disc(dhcpv4.WithHwAddr(make(net.HardwareAddr, 16))), inLAN, DropHWAddr},
		{"relay from nowhere", disc(relayed("10.1.2.3", "c", "r")), inLAN, DropNoSubnet},
		{"interface in no subnet", disc(), In{Addr: netip.MustParseAddr("10.0.0.1"), Port: 67}, DropNoSubnet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, r := exchange(t, h, tt.req, tt.in)
			want(t, r, tt.want)
		})
	}
	for name, b := range map[string][]byte{
		"empty": nil, "short": make([]byte, 100), "no cookie": make([]byte, 300), "oversized": make([]byte, MaxPacket+1),
	} {
		if out, _, r := h.HandlePacket(context.Background(), b, inLAN); out != nil || r != DropMalformed {
			t.Fatalf("%s: reply %v, reason %s", name, out != nil, r)
		}
	}
	if fs.writeCount() != 0 {
		t.Fatal("ignored packets wrote leases")
	}
}

// TestBackendErrors: a failing store means silence, never an answer
// without a durable lease.
func TestBackendErrors(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "")
	h, _ := testHandler(t, fs)
	fs.err = errDown
	for _, req := range []*dhcpv4.DHCPv4{
		msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover),
		msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, requested("198.18.0.10")),
		msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDecline, requested("198.18.0.10")),
		msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10"))),
	} {
		_, _, r := exchange(t, h, req, inLAN)
		want(t, r, DropBackend)
	}
}

// TestRateLimit: a MAC past its burst is dropped until tokens come back;
// other MACs are not affected; a full table refuses new MACs only while
// every tracked one is active.
func TestRateLimit(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "")
	fs.add("52:54:00:00:00:02", "198.18.0.11", "198.18.0.0/24", "")
	h, clk := testHandler(t, fs, func(o *Options) { o.RateLimit = RateLimit{PerSecond: 2, Burst: 3, MaxClients: 2} })
	flood := msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover)
	for i := range 3 {
		_, _, r := exchange(t, h, flood, inLAN)
		want(t, r, Offered)
		_ = i
	}
	_, _, r := exchange(t, h, flood, inLAN)
	want(t, r, DropRateLimited)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:02", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, Offered)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:03", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, DropRateLimited) // table full of active MACs
	clk.add(500 * time.Millisecond)
	_, _, r = exchange(t, h, flood, inLAN)
	want(t, r, Offered) // one token back
	_, _, r = exchange(t, h, flood, inLAN)
	want(t, r, DropRateLimited)
	clk.add(2 * time.Second) // every bucket full again: the table may forget them
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:03", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, DropUnknownMAC)
	if n := h.limit.size(); n > 2 {
		t.Fatalf("limiter tracks %d macs, max 2", n)
	}
	if st := h.Stats(); st.DropsBy["rate_limited"] != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCollector(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "")
	h, _ := testHandler(t, fs)
	exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover), inLAN)
	exchange(t, h, msg(t, "52:54:00:00:00:09", dhcpv4.MessageTypeDiscover), inLAN)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(h.Collector()); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[name] = m.GetCounter().GetValue()
		}
	}
	for name, v := range map[string]float64{"dcimd_dhcp4_offers_total": 1, "dcimd_dhcp4_acks_total": 0, "dcimd_dhcp4_naks_total": 0,
		"dcimd_dhcp4_informs_total": 0, "dcimd_dhcp4_declines_total": 0, "dcimd_dhcp4_releases_total": 0,
		"dcimd_dhcp4_drops_total{reason=unknown_mac}": 1, "dcimd_dhcp4_drops_total{reason=rate_limited}": 0} {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	if len(got) != 6+int(reasonCount-DropMalformed) {
		t.Fatalf("%d series: %v", len(got), got)
	}
}

func TestOptionsValidate(t *testing.T) {
	fs := newFakeStore()
	bad := []Options{
		{Hosts: fs, Leases: fs},
		{Subnets: []Subnet{{Prefix: lan}}},
		{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: netip.MustParsePrefix("2001:db8::/64")}}},
		{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan, Mode: "weird"}}},
		{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan}, {Prefix: netip.MustParsePrefix("198.18.0.0/16")}}},
		{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan, Discovery: netboot.Range{First: netip.MustParseAddr("198.18.1.1"),
			Last: netip.MustParseAddr("198.18.1.2")}}}},
		{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan, Mode: ModeProxy, Discovery: netboot.Range{
			First: netip.MustParseAddr("198.18.0.100"), Last: netip.MustParseAddr("198.18.0.110")}}}},
		{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan, HTTPBase: "ftp://x"}}},
	}
	for i, o := range bad {
		if _, err := NewHandler(o); err == nil {
			t.Errorf("options %d accepted: %+v", i, o)
		}
	}
	if _, err := New(Options{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan}}}); err == nil {
		t.Error("a server without interfaces was accepted")
	}
	if _, err := New(Options{Hosts: fs, Leases: fs, Subnets: []Subnet{{Prefix: lan}}, Interfaces: []Interface{{}}}); err == nil {
		t.Error("an interface without name or address was accepted")
	}
}
