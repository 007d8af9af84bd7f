package dhcp4d

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/dcimd/dcimd/internal/netboot"
)

var (
	srvAddr = netip.MustParseAddr("198.18.0.1")
	lan     = netip.MustParsePrefix("198.18.0.0/24")
	remote  = netip.MustParsePrefix("198.18.1.0/24")
	proxied = netip.MustParsePrefix("198.18.2.0/24")
	inLAN   = In{Iface: "veth0", Addr: srvAddr, Port: 67, Peer: netip.MustParseAddrPort("0.0.0.0:68")}
	bcast68 = netip.MustParseAddrPort("255.255.255.255:68")
)

const httpBase = "http://198.18.0.1:8080"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testHandler serves lan (authoritative), remote (authoritative, relayed,
// with a discovery range) and proxied (proxy mode).
func testHandler(t testing.TB, fs *fakeStore, mods ...func(*Options)) (*Handler, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	o := Options{
		Subnets: []Subnet{
			{Prefix: lan, DNS: []netip.Addr{netip.MustParseAddr("198.18.0.53")}, Domain: "lab.example", HTTPBase: httpBase},
			{Prefix: remote, LeaseTime: 2 * time.Hour, HTTPBase: httpBase, NextServer: netip.MustParseAddr("198.18.0.69"),
				Discovery: netboot.Range{First: netip.MustParseAddr("198.18.1.100"), Last: netip.MustParseAddr("198.18.1.101")}},
			{Prefix: proxied, Mode: ModeProxy, HTTPBase: httpBase},
		},
		Hosts: fs, Leases: fs, Log: quiet(), Now: c.now,
	}
	for _, m := range mods {
		m(&o)
	}
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

func hw(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func msg(t testing.TB, mac string, mt dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{dhcpv4.WithHwAddr(hw(mac)), dhcpv4.WithMessageType(mt), dhcpv4.WithBroadcast(true)}
	d, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func requested(ip string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(ip)))
}

func serverID(ip string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(ip)))
}

func pxe(vendor string, arch iana.Arch) dhcpv4.Modifier {
	return func(d *dhcpv4.DHCPv4) {
		d.UpdateOption(dhcpv4.OptClassIdentifier(vendor))
		d.UpdateOption(dhcpv4.OptClientArch(arch))
	}
}

func relayed(giaddr, circuit, remoteID string) dhcpv4.Modifier {
	return func(d *dhcpv4.DHCPv4) {
		d.GatewayIPAddr = net.ParseIP(giaddr).To4()
		d.HopCount = 1
		d.UpdateOption(dhcpv4.OptRelayAgentInfo(
			dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte(circuit)),
			dhcpv4.OptGeneric(dhcpv4.AgentRemoteIDSubOption, []byte(remoteID))))
	}
}

// exchange sends req through the byte path and parses the reply back.
func exchange(t testing.TB, h *Handler, req *dhcpv4.DHCPv4, in In) (*dhcpv4.DHCPv4, netip.AddrPort, Reason) {
	t.Helper()
	out, to, r := h.HandlePacket(context.Background(), req.ToBytes(), in)
	if (out != nil) != r.Replied() {
		t.Fatalf("reason %s with reply %v", r, out != nil)
	}
	if out == nil {
		return nil, to, r
	}
	resp, err := dhcpv4.FromBytes(out)
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	if resp.OpCode != dhcpv4.OpcodeBootReply || resp.TransactionID != req.TransactionID ||
		resp.ClientHWAddr.String() != req.ClientHWAddr.String() {
		t.Fatalf("reply does not answer the request: %s", resp.Summary())
	}
	return resp, to, r
}

func want(t testing.TB, got, wantR Reason) {
	t.Helper()
	if got != wantR {
		t.Fatalf("reason %s, want %s", got, wantR)
	}
}

// TestDORA: a known MAC gets its IPAM address with the network's options;
// the offer and the ack are recorded as leases.
func TestDORA(t *testing.T) {
	fs := newFakeStore()
	host := fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "198.18.0.1")
	h, clk := testHandler(t, fs)

	offer, to, r := exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, Offered)
	if to != bcast68 || offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.Equal(net.ParseIP("198.18.0.10")) ||
		offer.SubnetMask().String() != "ffffff00" || len(offer.Router()) != 1 || !offer.Router()[0].Equal(net.ParseIP("198.18.0.1")) ||
		!offer.ServerIdentifier().Equal(srvAddr.AsSlice()) || offer.IPAddressLeaseTime(0) != time.Hour ||
		offer.DomainName() != "lab.example" || len(offer.DNS()) != 1 || offer.BootFileName != "" || offer.ServerIPAddr.To4() != nil && !offer.ServerIPAddr.IsUnspecified() {
		t.Fatalf("offer to %s: %s", to, offer.Summary())
	}
	if l, ok := fs.lease("198.18.0.10"); !ok || l.State != netboot.LeaseOffered || !l.ExpiresAt.Equal(clk.now().Add(time.Minute)) ||
		l.ServerID == nil || *l.ServerID != host.ServerID {
		t.Fatalf("offered lease %+v", l)
	}

	ack, _, r := exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, requested("198.18.0.10"), serverID("198.18.0.1"),
		dhcpv4.WithOption(dhcpv4.OptHostName("vm")), dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 0x52, 0x54, 0, 0, 0, 1}))), inLAN)
	want(t, r, Acked)
	if !ack.YourIPAddr.Equal(net.ParseIP("198.18.0.10")) || ack.IPAddressRenewalTime(0) != 30*time.Minute ||
		ack.IPAddressRebindingTime(0) != 52*time.Minute+30*time.Second || ack.GetOneOption(dhcpv4.OptionClientIdentifier) == nil {
		t.Fatalf("ack %s", ack.Summary())
	}
	l, _ := fs.lease("198.18.0.10")
	if l.State != netboot.LeaseBound || !l.ExpiresAt.Equal(clk.now().Add(time.Hour)) || l.Hostname != "vm" || l.ClientID != "01525400000001" ||
		l.Relay.IsValid() {
		t.Fatalf("bound lease %+v", l)
	}
	// A reboot's DISCOVER does not turn the bound lease back into an offer.
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, Offered)
	if l, _ := fs.lease("198.18.0.10"); l.State != netboot.LeaseBound {
		t.Fatalf("lease after a second discover %+v", l)
	}
	// Renewal: unicast from the client's address, answered there.
	ack, to, r = exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(net.ParseIP("198.18.0.10")),
		dhcpv4.WithBroadcast(false)), inLAN)
	want(t, r, Acked)
	if to != netip.MustParseAddrPort("198.18.0.10:68") {
		t.Fatalf("renewal ack to %s", to)
	}

	st := h.Stats()
	if st.Offers != 2 || st.Acks != 2 || st.Drops != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRequestRefusals: a wrong address is NAKed; a REQUEST for another
// server, an unknown MAC or with no address is ignored.
func TestRequestRefusals(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "")
	h, _ := testHandler(t, fs)
	nak, to, r := exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, requested("198.18.0.99")), inLAN)
	want(t, r, Naked)
	if to != bcast68 || nak.MessageType() != dhcpv4.MessageTypeNak || !nak.YourIPAddr.IsUnspecified() || nak.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		t.Fatalf("nak to %s: %s", to, nak.Summary())
	}
	for name, tc := range map[string]struct {
		req  *dhcpv4.DHCPv4
		want Reason
	}{
		"other server": {msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, requested("198.18.0.10"), serverID("198.18.0.2")), DropOtherServer},
		"unknown mac":  {msg(t, "52:54:00:00:00:09", dhcpv4.MessageTypeRequest, requested("198.18.0.10")), DropUnknownMAC},
		"no address":   {msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest), DropBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, r := exchange(t, h, tc.req, inLAN)
			want(t, r, tc.want)
		})
	}
	if fs.writeCount() != 0 {
		t.Fatalf("%d lease writes for refused requests", fs.writeCount())
	}
}

// TestUnknownMAC: authoritative mode is silent to MACs without an address,
// PXE or not, where there is no discovery range, and to non-PXE clients
// where there is one.
func TestUnknownMAC(t *testing.T) {
	fs := newFakeStore()
	h, _ := testHandler(t, fs)
	_, _, r := exchange(t, h, msg(t, "52:54:00:00:00:09", dhcpv4.MessageTypeDiscover), inLAN)
	want(t, r, DropUnknownMAC)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:09", dhcpv4.MessageTypeDiscover, pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC)), inLAN)
	want(t, r, DropUnknownMAC)
	relay := In{Iface: "veth0", Addr: srvAddr, Port: 67, Peer: netip.MustParseAddrPort("198.18.0.2:67")}
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:00:09", dhcpv4.MessageTypeDiscover, relayed("198.18.1.1", "c", "r")), relay)
	want(t, r, DropUnknownMAC)
	if fs.writeCount() != 0 || len(fs.hosts) != 0 {
		t.Fatalf("unknown macs changed the store: %d writes, hosts %+v", fs.writeCount(), fs.hosts)
	}
	if st := h.Stats(); st.Drops != 3 || st.DropsBy["unknown_mac"] != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDiscovery: an unknown PXE client in a discovery range becomes a new
// machine with an address from the range; an exhausted range is silence.
func TestDiscovery(t *testing.T) {
	fs := newFakeStore()
	h, _ := testHandler(t, fs)
	relay := In{Iface: "veth0", Addr: srvAddr, Port: 67, Peer: netip.MustParseAddrPort("198.18.0.2:67")}
	boot := pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64)
	for i, mac := range []string{"52:54:00:00:01:01", "52:54:00:00:01:02"} {
		offer, to, r := exchange(t, h, msg(t, mac, dhcpv4.MessageTypeDiscover, boot, relayed("198.18.1.1", "port-7", "sw1")), relay)
		want(t, r, Offered)
		wantIP := netip.MustParseAddr("198.18.1.100")
		for range i {
			wantIP = wantIP.Next()
		}
		if to != netip.MustParseAddrPort("198.18.1.1:67") || !offer.YourIPAddr.Equal(wantIP.AsSlice()) ||
			offer.BootFileName != "ipxe.efi" || !offer.ServerIPAddr.Equal(net.ParseIP("198.18.0.69")) ||
			offer.IPAddressLeaseTime(0) != 2*time.Hour || offer.RelayAgentInfo() == nil || !offer.GatewayIPAddr.Equal(net.ParseIP("198.18.1.1")) {
			t.Fatalf("discovery offer to %s: %s", to, offer.Summary())
		}
		l, ok := fs.lease(wantIP.String())
		if !ok || !l.Dynamic || l.Relay != netip.MustParseAddr("198.18.1.1") || l.CircuitID != "port-7" || l.RemoteID != "sw1" {
			t.Fatalf("discovery lease %+v", l)
		}
	}
	_, _, r := exchange(t, h, msg(t, "52:54:00:00:01:03", dhcpv4.MessageTypeDiscover, boot, relayed("198.18.1.1", "c", "r")), relay)
	want(t, r, DropDiscovery)
	// The discovered machine asks again: same address, no new machine.
	offer, _, r := exchange(t, h, msg(t, "52:54:00:00:01:01", dhcpv4.MessageTypeDiscover, boot, relayed("198.18.1.1", "c", "r")), relay)
	want(t, r, Offered)
	if !offer.YourIPAddr.Equal(net.ParseIP("198.18.1.100")) || len(fs.hosts) != 2 {
		t.Fatalf("rediscovery %s, hosts %d", offer.YourIPAddr, len(fs.hosts))
	}
}

// TestBootOptions: the boot file follows the firmware, iPXE gets its own
// script, HTTP boot a URL and its vendor class back.
func TestBootOptions(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", "198.18.0.10", "198.18.0.0/24", "")
	h, _ := testHandler(t, fs)
	tests := []struct {
		name             string
		mods             []dhcpv4.Modifier
		file, vendor     string
		next, vendorOpts bool
	}{
		{"bios", []dhcpv4.Modifier{pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC)}, "undionly.kpxe", "", true, true},
		{"uefi", []dhcpv4.Modifier{pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64)}, "ipxe.efi", "", true, true},
		{"arm64", []dhcpv4.Modifier{pxe("PXEClient:Arch:00011:UNDI:003000", iana.EFI_ARM64)}, "ipxe-arm64.efi", "", true, true},
		{"ipxe", []dhcpv4.Modifier{pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC), dhcpv4.WithUserClass("iPXE", false)},
			httpBase + "/boot/52:54:00:00:00:01.ipxe", "", true, true},
		{"http boot", []dhcpv4.Modifier{pxe("HTTPClient:Arch:00016:UNDI:003001", iana.EFI_X86_64_HTTP)}, httpBase + "/boot/ipxe.efi",
			"HTTPClient", false, false},
		{"plain client", nil, "", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, _, r := exchange(t, h, msg(t, "52:54:00:00:00:01", dhcpv4.MessageTypeRequest, append(tt.mods, requested("198.18.0.10"))...), inLAN)
			want(t, r, Acked)
			if ack.BootFileName != tt.file || ack.BootFileNameOption() != tt.file || ack.ClassIdentifier() != tt.vendor ||
				(ack.Options.Has(dhcpv4.OptionVendorSpecificInformation) != tt.vendorOpts) {
				t.Fatalf("%s", ack.Summary())
			}
			if tt.next != ack.ServerIPAddr.Equal(srvAddr.AsSlice()) || tt.next != (ack.TFTPServerName() == "198.18.0.1") {
				t.Fatalf("next server %s / %q", ack.ServerIPAddr, ack.TFTPServerName())
			}
			if !ack.YourIPAddr.Equal(net.ParseIP("198.18.0.10")) {
				t.Fatalf("boot options lost the address: %s", ack.Summary())
			}
		})
	}
}

// TestProxy: beside another DHCP server, dcimd sends known PXE clients
// boot options only, and ignores everything else.
func TestProxy(t *testing.T) {
	fs := newFakeStore()
	fs.add("52:54:00:00:02:01", "10.9.9.9", "10.9.9.0/24", "")
	h, _ := testHandler(t, fs)
	in := In{Iface: "veth1", Addr: netip.MustParseAddr("198.18.2.1"), Port: 67, Peer: netip.MustParseAddrPort("0.0.0.0:68")}
	boot := pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC)
	guid := dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte{0}, make([]byte, 16)...))
	offer, to, r := exchange(t, h, msg(t, "52:54:00:00:02:01", dhcpv4.MessageTypeDiscover, boot, guid), in)
	want(t, r, Offered)
	if to != bcast68 || !offer.YourIPAddr.IsUnspecified() || offer.BootFileName != "undionly.kpxe" || offer.ClassIdentifier() != "PXEClient" ||
		!offer.ServerIPAddr.Equal(net.ParseIP("198.18.2.1")) || !offer.Options.Has(dhcpv4.OptionVendorSpecificInformation) ||
		!offer.Options.Has(dhcpv4.OptionClientMachineIdentifier) || offer.Options.Has(dhcpv4.OptionIPAddressLeaseTime) ||
		offer.Options.Has(dhcpv4.OptionSubnetMask) {
		t.Fatalf("proxy offer to %s: %s", to, offer.Summary())
	}
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:02:01", dhcpv4.MessageTypeRequest, boot, requested("198.18.2.50"), serverID("198.18.2.254")), in)
	want(t, r, DropNotForUs)
	pin := in
	pin.Port, pin.Peer = PXEPort, netip.MustParseAddrPort("198.18.2.50:68")
	ack, to, r := exchange(t, h, msg(t, "52:54:00:00:02:01", dhcpv4.MessageTypeRequest, boot, dhcpv4.WithClientIP(net.ParseIP("198.18.2.50"))), pin)
	want(t, r, Acked)
	if to != pin.Peer || ack.BootFileName != "undionly.kpxe" || !ack.YourIPAddr.IsUnspecified() {
		t.Fatalf("proxy ack to %s: %s", to, ack.Summary())
	}
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:02:01", dhcpv4.MessageTypeDiscover), in)
	want(t, r, DropNotPXE)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:02:09", dhcpv4.MessageTypeDiscover, boot), in)
	want(t, r, DropUnknownMAC)
	_, _, r = exchange(t, h, msg(t, "52:54:00:00:02:01", dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(net.ParseIP("198.18.2.50"))), in)
	want(t, r, DropNotForUs)
	if fs.writeCount() != 0 {
		t.Fatal("proxy mode wrote leases")
	}
}
