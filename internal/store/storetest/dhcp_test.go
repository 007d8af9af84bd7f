package storetest

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

var (
	dhcpNet  = netip.MustParsePrefix("198.18.0.0/24")
	dhcpNet2 = netip.MustParsePrefix("198.18.1.0/24")
)

func (f *fx) ipamNet(name, gw string) ipam.Net {
	f.t.Helper()
	n := ipam.Net{Name: name, Gateway: gw}
	f.must(f.db.IPAM().CreateNet(f.ctx, &n), "create network "+name)
	return n
}

func (f *fx) alloc(addr string, serverID *int64, mods ...func(*ipam.Alloc)) ipam.IP {
	f.t.Helper()
	a := ipam.Alloc{Name: addr, ServerID: serverID}
	for _, m := range mods {
		m(&a)
	}
	ip, err := f.db.IPAM().Allocate(f.ctx, a)
	f.must(err, "allocate "+addr)
	return ip
}

func (f *fx) macServer(name, m string) server.Server {
	f.t.Helper()
	return f.server(name, func(s *server.Server) { s.MAC = mac(f.t, m) })
}

func rng(first, last string) netboot.Range {
	return netboot.Range{First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last)}
}

// TestDHCPHost: a MAC finds its server's address inside the asked subnet
// (the main address first), with the network's mask and gateway; a MAC
// without an address there, or without a server, gets none.
func TestDHCPHost(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		n1 := f.ipamNet(dhcpNet.String(), "198.18.0.1")
		f.ipamNet(dhcpNet2.String(), "")
		srv := f.macServer("web1", "52:54:00:00:00:01")
		first := f.alloc("198.18.0.10", &srv.ID)
		main := f.alloc("198.18.0.20", &srv.ID, func(a *ipam.Alloc) { a.SetMain = true })
		f.alloc("198.18.0.5", &srv.ID, func(a *ipam.Alloc) { a.Status = ipam.StatusDeleting })
		other := f.alloc("198.18.1.10", &srv.ID)

		h, err := d.Host(f.ctx, mac(t, "52:54:00:00:00:01"), dhcpNet)
		f.must(err, "host")
		if h.ServerID != srv.ID || h.ServerName != "web1" || h.IsNew || h.IPID != main.ID || h.IP != netip.MustParseAddr("198.18.0.20") ||
			h.NetID != n1.ID || h.Prefix != dhcpNet || h.Gateway != netip.MustParseAddr("198.18.0.1") || h.Dynamic || h.Lease != nil {
			t.Fatalf("host in %s: %+v", dhcpNet, h)
		}
		h, err = d.Host(f.ctx, mac(t, "52:54:00:00:00:01"), dhcpNet2)
		f.must(err, "host net 2")
		if h.IPID != other.ID || h.Gateway.IsValid() || h.Prefix != dhcpNet2 {
			t.Fatalf("host in %s: %+v", dhcpNet2, h)
		}
		// Without a main address in the subnet the lowest-numbered one wins.
		_, err = db.IPAM().MoveIP(f.ctx, main.ID, nil, false)
		f.must(err, "move main away")
		h, err = d.Host(f.ctx, mac(t, "52:54:00:00:00:01"), dhcpNet)
		f.must(err, "host after move")
		if h.IPID != first.ID {
			t.Fatalf("host without main address: %+v, want ip %d", h, first.ID)
		}
		h, err = d.Host(f.ctx, mac(t, "52:54:00:00:00:01"), netip.MustParsePrefix("10.0.0.0/8"))
		if err != nil || h.ServerID != srv.ID || h.IP.IsValid() {
			t.Fatalf("host in a subnet without its address: %+v %v", h, err)
		}
		h, err = d.Host(f.ctx, mac(t, "52:54:00:00:00:99"), dhcpNet)
		if err != nil || h.ServerID != 0 || h.IP.IsValid() {
			t.Fatalf("unknown mac: %+v %v", h, err)
		}
	})
}

// TestDHCPLeases: one lease row per address, updated in place, showing in
// the host lookup; a new holder replaces the old one; the row goes when
// IPAM frees the address.
func TestDHCPLeases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		f.ipamNet(dhcpNet.String(), "198.18.0.1")
		srv := f.macServer("web1", "52:54:00:00:00:01")
		ip := f.alloc("198.18.0.10", &srv.ID)
		m := mac(t, "52:54:00:00:00:01")
		h, err := d.Host(f.ctx, m, dhcpNet)
		f.must(err, "host")
		exp := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		l := netboot.Lease{IPID: h.IPID, NetID: h.NetID, ServerID: &h.ServerID, MAC: m, IP: h.IP, State: netboot.LeaseOffered,
			ExpiresAt: exp, Relay: netip.MustParseAddr("198.18.1.1"), CircuitID: "eth0", RemoteID: "0x0102", ClientID: "01525400000001",
			Hostname: "vm"}
		f.must(d.SaveLease(f.ctx, l), "offer")
		l.State = netboot.LeaseBound
		f.must(d.SaveLease(f.ctx, l), "bind")
		h, err = d.Host(f.ctx, m, dhcpNet)
		f.must(err, "host with lease")
		if h.Lease == nil || h.Lease.State != netboot.LeaseBound || !h.Lease.ExpiresAt.Equal(exp) || h.Lease.MAC.String() != m.String() ||
			h.Lease.Relay != l.Relay || h.Lease.CircuitID != "eth0" || h.Lease.RemoteID != "0x0102" || h.Lease.Hostname != "vm" ||
			h.Lease.ClientID != l.ClientID || !h.Lease.Active(time.Now()) {
			t.Fatalf("lease in host %+v", h.Lease)
		}
		ls, err := d.Leases(f.ctx, m)
		f.must(err, "leases")
		if len(ls) != 1 || ls[0].IPID != ip.ID || ls[0].State != netboot.LeaseBound || ls[0].IP != h.IP || ls[0].ServerID == nil ||
			*ls[0].ServerID != srv.ID || ls[0].UpdatedAt.IsZero() {
			t.Fatalf("leases %+v", ls)
		}

		// The operator gives the address to another machine: its lease
		// replaces the old holder's.
		srv2 := f.macServer("web2", "52:54:00:00:00:02")
		_, err = db.IPAM().MoveIP(f.ctx, ip.ID, &srv2.ID, false)
		f.must(err, "move address")
		m2 := mac(t, "52:54:00:00:00:02")
		f.must(d.SaveLease(f.ctx, netboot.Lease{IPID: ip.ID, NetID: h.NetID, ServerID: &srv2.ID, MAC: m2, IP: h.IP,
			State: netboot.LeaseOffered, ExpiresAt: exp}), "offer to the new holder")
		if ls, _ := d.Leases(f.ctx, m); len(ls) != 0 {
			t.Fatalf("old holder still has %+v", ls)
		}
		all, err := d.Leases(f.ctx, nil)
		f.must(err, "all leases")
		if len(all) != 1 || all[0].MAC.String() != m2.String() || all[0].Relay.IsValid() || all[0].CircuitID != "" {
			t.Fatalf("all leases %+v", all)
		}

		wantKind(t, d.SaveLease(f.ctx, netboot.Lease{IPID: ip.ID, NetID: h.NetID, MAC: m2, IP: h.IP, State: "weird"}),
			fault.ErrInvalid, "bad state")
		wantKind(t, d.SaveLease(f.ctx, netboot.Lease{MAC: m2, State: netboot.LeaseBound}), fault.ErrInvalid, "no address")

		f.must(db.IPAM().Release(f.ctx, ip.ID), "release address")
		if all, _ := d.Leases(f.ctx, nil); len(all) != 0 {
			t.Fatalf("lease survived its address: %+v", all)
		}
	})
}

// TestDHCPDiscover: an unknown MAC becomes a new server with the lowest
// free address of the range; asking again gives the same; addresses taken
// by IPAM are skipped, an exhausted range and an adopted server's MAC are
// conflicts.
func TestDHCPDiscover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		n := f.ipamNet(dhcpNet.String(), "198.18.0.1")
		r := rng("198.18.0.100", "198.18.0.102")
		f.alloc("198.18.0.101", nil, func(a *ipam.Alloc) { a.Reserved = true })

		m1 := mac(t, "52:54:00:aa:00:01")
		h, err := d.Discover(f.ctx, m1, dhcpNet, r)
		f.must(err, "discover 1")
		if h.IP != netip.MustParseAddr("198.18.0.100") || !h.IsNew || h.ServerName != "new-525400aa0001" || h.NetID != n.ID ||
			h.Prefix != dhcpNet || h.Gateway != netip.MustParseAddr("198.18.0.1") || !h.Dynamic {
			t.Fatalf("discovered %+v", h)
		}
		s, err := f.inv.Servers.Get(f.ctx, h.ServerID)
		f.must(err, "get discovered server")
		if !s.IsNew || s.MAC.String() != m1.String() || s.MainIPv4 == nil || *s.MainIPv4 != h.IPID {
			t.Fatalf("discovered server %+v", s)
		}
		ip, err := db.IPAM().GetIP(f.ctx, h.IPID)
		f.must(err, "get discovered ip")
		if ip.ServerID == nil || *ip.ServerID != h.ServerID || ip.Note != store.DiscoveryNote || ip.Reserved {
			t.Fatalf("discovered ip %+v", ip)
		}
		again, err := d.Discover(f.ctx, m1, dhcpNet, r)
		if err != nil || again.IPID != h.IPID || again.ServerID != h.ServerID {
			t.Fatalf("discover again: %+v %v", again, err)
		}
		looked, err := d.Host(f.ctx, m1, dhcpNet)
		if err != nil || looked.IPID != h.IPID || !looked.Dynamic || !looked.IsNew {
			t.Fatalf("host of a discovered mac: %+v %v", looked, err)
		}

		h2, err := d.Discover(f.ctx, mac(t, "52:54:00:aa:00:02"), dhcpNet, r)
		f.must(err, "discover 2")
		if h2.IP != netip.MustParseAddr("198.18.0.102") {
			t.Fatalf("second discovery got %s, want .102 (.101 is reserved)", h2.IP)
		}
		_, err = d.Discover(f.ctx, mac(t, "52:54:00:aa:00:03"), dhcpNet, r)
		wantKind(t, err, fault.ErrConflict, "exhausted range")

		f.macServer("adopted", "52:54:00:aa:00:04")
		_, err = d.Discover(f.ctx, mac(t, "52:54:00:aa:00:04"), dhcpNet, rng("198.18.0.110", "198.18.0.120"))
		wantKind(t, err, fault.ErrConflict, "adopted server")
		_, err = d.Discover(f.ctx, mac(t, "52:54:00:aa:00:05"), dhcpNet, rng("198.18.0.120", "198.18.0.110"))
		wantKind(t, err, fault.ErrInvalid, "reversed range")
		_, err = d.Discover(f.ctx, mac(t, "52:54:00:aa:00:05"), dhcpNet2, rng("198.18.1.10", "198.18.1.20"))
		wantKind(t, err, fault.ErrInvalid, "range in no network")
		if s, _, _ := f.inv.Servers.List(f.ctx, where(t, "mac EQ '52:54:00:aa:00:05'")); len(s) != 0 {
			t.Fatalf("a failed discovery left a server behind: %+v", s)
		}
	})
}

// TestDHCPDiscoverConcurrent: discoveries at once never share an address,
// and one MAC asking many times at once makes one server.
func TestDHCPDiscoverConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		f.ipamNet(dhcpNet.String(), "198.18.0.1")
		r := rng("198.18.0.100", "198.18.0.199")
		const macs, repeats = 8, 3
		type res struct {
			mac string
			h   netboot.Host
			err error
		}
		out := make(chan res, macs*repeats)
		var wg sync.WaitGroup
		for i := range macs {
			for range repeats {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := fmt.Sprintf("52:54:00:bb:00:%02x", i)
					h, err := d.Discover(f.ctx, mac(t, m), dhcpNet, r)
					out <- res{m, h, err}
				}()
			}
		}
		wg.Wait()
		close(out)
		byMAC := map[string]netip.Addr{}
		byIP := map[netip.Addr]string{}
		for x := range out {
			if x.err != nil {
				t.Fatalf("discover %s: %v", x.mac, x.err)
			}
			if prev, ok := byMAC[x.mac]; ok && prev != x.h.IP {
				t.Fatalf("%s got %s and %s", x.mac, prev, x.h.IP)
			}
			if other, ok := byIP[x.h.IP]; ok && other != x.mac {
				t.Fatalf("%s handed to %s and %s", x.h.IP, other, x.mac)
			}
			byMAC[x.mac], byIP[x.h.IP] = x.h.IP, x.mac
		}
		if len(byIP) != macs {
			t.Fatalf("%d addresses for %d macs", len(byIP), macs)
		}
		news, _, err := f.inv.Servers.List(f.ctx, where(t, "is_new EQ true"))
		f.must(err, "list new servers")
		if len(news) != macs {
			t.Fatalf("%d new servers for %d macs", len(news), macs)
		}
	})
}

// TestDHCPDecline: a declined operator-assigned address keeps its owner
// and gets a declined lease until the hold ends; a declined discovery
// address leaves its machine, stays reserved in IPAM with a note, and the
// machine's next discovery gets another one.
func TestDHCPDecline(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		f.ipamNet(dhcpNet.String(), "198.18.0.1")
		hold := time.Now().UTC().Add(10 * time.Minute).Truncate(time.Second)

		srv := f.macServer("web1", "52:54:00:00:00:01")
		ip := f.alloc("198.18.0.10", &srv.ID)
		m := mac(t, "52:54:00:00:00:01")
		h, err := d.Host(f.ctx, m, dhcpNet)
		f.must(err, "host")
		f.must(d.DeclineLease(f.ctx, netboot.Lease{IPID: h.IPID, NetID: h.NetID, ServerID: &h.ServerID, MAC: m, IP: h.IP,
			State: netboot.LeaseBound, ExpiresAt: hold}), "decline reserved")
		h, err = d.Host(f.ctx, m, dhcpNet)
		f.must(err, "host after decline")
		if h.IPID != ip.ID || h.Lease == nil || h.Lease.State != netboot.LeaseDeclined || !h.Lease.ExpiresAt.Equal(hold) {
			t.Fatalf("declined reserved host %+v lease %+v", h, h.Lease)
		}
		if got, _ := db.IPAM().GetIP(f.ctx, ip.ID); got.ServerID == nil || *got.ServerID != srv.ID || got.Reserved {
			t.Fatalf("declined reserved address changed in IPAM: %+v", got)
		}

		nm := mac(t, "52:54:00:cc:00:01")
		r := rng("198.18.0.100", "198.18.0.110")
		dh, err := d.Discover(f.ctx, nm, dhcpNet, r)
		f.must(err, "discover")
		f.must(d.DeclineLease(f.ctx, netboot.Lease{IPID: dh.IPID, NetID: dh.NetID, ServerID: &dh.ServerID, MAC: nm, IP: dh.IP,
			Dynamic: true, ExpiresAt: hold}), "decline discovered")
		got, err := db.IPAM().GetIP(f.ctx, dh.IPID)
		f.must(err, "declined ip")
		if got.ServerID != nil || !got.Reserved || !strings.Contains(got.Note, "declined by 52:54:00:cc:00:01") {
			t.Fatalf("declined discovery address %+v", got)
		}
		s, err := f.inv.Servers.Get(f.ctx, dh.ServerID)
		f.must(err, "discovered server")
		if s.MainIPv4 != nil {
			t.Fatalf("main ipv4 still points at the declined address: %d", *s.MainIPv4)
		}
		after, err := d.Host(f.ctx, nm, dhcpNet)
		if err != nil || after.ServerID != dh.ServerID || after.IP.IsValid() {
			t.Fatalf("host after a discovery decline %+v %v", after, err)
		}
		next, err := d.Discover(f.ctx, nm, dhcpNet, r)
		f.must(err, "discover after decline")
		if next.ServerID != dh.ServerID || next.IP == dh.IP || next.IP != netip.MustParseAddr("198.18.0.101") {
			t.Fatalf("rediscovery %+v, declined %s", next, dh.IP)
		}
		ls, err := d.Leases(f.ctx, nm)
		f.must(err, "leases")
		if len(ls) != 1 || ls[0].State != netboot.LeaseDeclined || ls[0].ServerID != nil || ls[0].IP != dh.IP || !ls[0].Dynamic {
			t.Fatalf("declined discovery lease %+v", ls)
		}
	})
}
