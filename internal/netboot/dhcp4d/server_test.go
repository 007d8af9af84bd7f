package dhcp4d

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/dcimd/dcimd/internal/netboot"
)

// loopNet is a random /24 of 127.0.0.0/8, so parallel test runs do not
// share addresses.
func loopNet(t *testing.T) netip.Prefix {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, b[0], b[1], 0}), 24)
}

func nth(p netip.Prefix, n int) netip.Addr {
	a := p.Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// panicky panics on a chosen MAC, to show a handler bug costs one packet.
type panicky struct {
	*fakeStore
	mac string
}

func (p panicky) Host(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error) {
	if mac.String() == p.mac {
		panic("store bug")
	}
	return p.fakeStore.Host(ctx, mac, subnet)
}

// TestServerLoopback: the listener on a loopback address without a device
// answers a relay (a socket on giaddr:67), never broadcasts, survives a
// panicking handler, and stops cleanly.
func TestServerLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the fake relay binds port 67: needs root")
	}
	p := loopNet(t)
	srvIP, relayIP := nth(p, 1), nth(p, 2)
	fs := newFakeStore()
	fs.add("52:54:00:00:00:01", nth(p, 10).String(), p.String(), srvIP.String())
	fs.add("52:54:00:00:00:02", nth(p, 11).String(), p.String(), "")
	s, err := New(Options{
		Interfaces: []Interface{{Addr: srvIP, Listen: netip.AddrPortFrom(srvIP, 0)}},
		Subnets:    []Subnet{{Prefix: p}},
		Hosts:      panicky{fs, "52:54:00:00:00:02"}, Leases: fs, Log: quiet(), Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Shutdown(context.Background())
		}
	})
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("a second Start succeeded")
	}
	srvAddr := s.Addrs()[0].(*net.UDPAddr)

	relay, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(relayIP, dhcpv4.ServerPort)))
	if err != nil {
		t.Skipf("fake relay on %s:67: %v", relayIP, err)
	}
	defer relay.Close()
	send := func(mac string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		t.Helper()
		d := msg(t, mac, dhcpv4.MessageTypeDiscover, mods...)
		if _, err := relay.WriteTo(d.ToBytes(), srvAddr); err != nil {
			t.Fatal(err)
		}
		return d
	}
	recv := func(wait time.Duration) *dhcpv4.DHCPv4 {
		t.Helper()
		buf := make([]byte, 1500)
		_ = relay.SetReadDeadline(time.Now().Add(wait))
		n, _, err := relay.ReadFrom(buf)
		if err != nil {
			return nil
		}
		d, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		return d
	}
	viaRelay := func(d *dhcpv4.DHCPv4) { d.GatewayIPAddr = relayIP.AsSlice(); d.HopCount = 1 }

	send("52:54:00:00:00:02", viaRelay) // panics in the store
	req := send("52:54:00:00:00:01", viaRelay)
	offer := recv(3 * time.Second)
	if offer == nil || offer.TransactionID != req.TransactionID || !offer.YourIPAddr.Equal(nth(p, 10).AsSlice()) {
		t.Fatalf("relayed offer %v", offer)
	}
	send("52:54:00:00:00:01") // not relayed: the answer would be a broadcast
	if got := recv(300 * time.Millisecond); got != nil {
		t.Fatalf("a reply came back to the relay: %s", got.Summary())
	}
	if st := s.Stats(); st.Offers != 2 || st.DropsBy["malformed"] != 1 {
		t.Fatalf("stats %+v", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	send("52:54:00:00:00:01", viaRelay)
	if got := recv(300 * time.Millisecond); got != nil {
		t.Fatal("answered after Shutdown")
	}
}

// TestServe: Serve runs until its context ends.
func TestServe(t *testing.T) {
	p := loopNet(t)
	fs := newFakeStore()
	s, err := New(Options{Interfaces: []Interface{{Addr: nth(p, 1), Listen: netip.AddrPortFrom(nth(p, 1), 0)}},
		Subnets: []Subnet{{Prefix: p}}, Hosts: fs, Leases: fs, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	bad, err := New(Options{Interfaces: []Interface{{Addr: nth(p, 1), Listen: netip.MustParseAddrPort("192.0.2.1:67")}},
		Subnets: []Subnet{{Prefix: p}}, Hosts: fs, Leases: fs, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(context.Background()); err == nil {
		_ = bad.Shutdown(context.Background())
		t.Fatal("listening on an address this host does not have succeeded")
	}
}
