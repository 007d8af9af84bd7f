package storetest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot"
	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// The store is the DHCPv6 server's host and lease store.
var (
	_ dhcp6d.Hosts  = (*store.DHCP)(nil)
	_ dhcp6d.Leases = (*store.DHCP)(nil)
)

var (
	dhcp6Net  = netip.MustParsePrefix("fd00:198:18::/64")
	dhcp6Net2 = netip.MustParsePrefix("fd00:198:19::/64")
)

// TestDHCPHost6: a MAC finds its server's IPv6 address inside the asked
// subnet (the main one first, status ok only, never an IPv4 address); a
// MAC without an address there, or without a server, gets none.
func TestDHCPHost6(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		n1 := f.ipamNet(dhcp6Net.String(), "fd00:198:18::1")
		f.ipamNet(dhcp6Net2.String(), "")
		f.ipamNet(dhcpNet.String(), "198.18.0.1")
		srv := f.macServer("web1", "52:54:00:00:00:01")
		f.alloc("198.18.0.10", &srv.ID)
		first := f.alloc("fd00:198:18::10", &srv.ID)
		main := f.alloc("fd00:198:18::20", &srv.ID, func(a *ipam.Alloc) { a.SetMain = true })
		f.alloc("fd00:198:18::5", &srv.ID, func(a *ipam.Alloc) { a.Status = ipam.StatusDeleting })
		other := f.alloc("fd00:198:19::10", &srv.ID)
		m := mac(t, "52:54:00:00:00:01")

		h, err := d.Host6(f.ctx, m, dhcp6Net)
		f.must(err, "host6")
		if h.ServerID != srv.ID || h.ServerName != "web1" || h.IPID != main.ID || h.IP != netip.MustParseAddr("fd00:198:18::20") ||
			h.NetID != n1.ID || h.Prefix != dhcp6Net || h.Gateway != netip.MustParseAddr("fd00:198:18::1") || h.Lease != nil {
			t.Fatalf("host6 in %s: %+v", dhcp6Net, h)
		}
		h, err = d.Host6(f.ctx, m, dhcp6Net2)
		f.must(err, "host6 net 2")
		if h.IPID != other.ID || h.Gateway.IsValid() || h.Prefix != dhcp6Net2 {
			t.Fatalf("host6 in %s: %+v", dhcp6Net2, h)
		}
		_, err = db.IPAM().MoveIP(f.ctx, main.ID, nil, false)
		f.must(err, "move main away")
		h, err = d.Host6(f.ctx, m, dhcp6Net)
		f.must(err, "host6 after move")
		if h.IPID != first.ID {
			t.Fatalf("host6 without main address: %+v, want ip %d", h, first.ID)
		}
		h, err = d.Host6(f.ctx, m, netip.MustParsePrefix("fd00:1::/64"))
		if err != nil || h.ServerID != srv.ID || h.IP.IsValid() {
			t.Fatalf("host6 in a subnet without its address: %+v %v", h, err)
		}
		h, err = d.Host6(f.ctx, mac(t, "52:54:00:00:00:99"), dhcp6Net)
		if err != nil || h.ServerID != 0 || h.IP.IsValid() {
			t.Fatalf("unknown mac: %+v %v", h, err)
		}
	})
}

// TestDHCPLeases6: IPv6 leases share dhcp_leases (one row per address,
// updated in place, listed with the v4 ones); an IPv4 address or an
// unknown state is refused; the row goes when IPAM frees the address.
func TestDHCPLeases6(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		d := db.DHCP()
		f.ipamNet(dhcp6Net.String(), "")
		srv := f.macServer("web1", "52:54:00:00:00:01")
		ip := f.alloc("fd00:198:18::10", &srv.ID)
		m := mac(t, "52:54:00:00:00:01")
		h, err := d.Host6(f.ctx, m, dhcp6Net)
		f.must(err, "host6")
		exp := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		l := netboot.Lease{IPID: h.IPID, NetID: h.NetID, ServerID: &h.ServerID, MAC: m, IP: h.IP, State: netboot.LeaseOffered,
			ExpiresAt: exp, Relay: netip.MustParseAddr("fd00:198:19::1"), CircuitID: "swp7", ClientID: "00030001525400000001"}
		f.must(d.SaveLease6(f.ctx, l), "advertise")
		l.State = netboot.LeaseBound
		f.must(d.SaveLease6(f.ctx, l), "reply")
		ls, err := d.Leases(f.ctx, m)
		f.must(err, "list")
		if len(ls) != 1 || ls[0].IP != h.IP || ls[0].State != netboot.LeaseBound || !ls[0].ExpiresAt.Equal(exp) ||
			ls[0].Relay != l.Relay || ls[0].CircuitID != "swp7" || ls[0].ClientID != l.ClientID || ls[0].IPID != ip.ID {
			t.Fatalf("leases %+v", ls)
		}
		bad := l
		bad.IP = netip.MustParseAddr("198.18.0.10")
		wantKind(t, d.SaveLease6(f.ctx, bad), fault.ErrInvalid, "v4 address")
		bad = l
		bad.State = "gone"
		wantKind(t, d.SaveLease6(f.ctx, bad), fault.ErrInvalid, "bad state")
		f.must(db.IPAM().Release(f.ctx, ip.ID), "release address")
		ls, err = d.Leases(f.ctx, m)
		f.must(err, "list after free")
		if len(ls) != 0 {
			t.Fatalf("leases after free: %+v", ls)
		}
	})
}
