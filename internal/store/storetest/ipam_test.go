package storetest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

func TestIPAMNetworks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		m := db.IPAM()
		for _, bad := range []ipam.Net{
			{Name: "10.0.0.1/24"}, {Name: "10.0.0.0/33"}, {Name: "nonsense"},
			{Name: "10.0.0.0/24", Gateway: "10.0.1.1"}, {Name: "10.0.0.0/24", Gateway: "10.0.0.0"},
			{Name: "10.0.0.0/24", Gateway: "10.0.0.255"}, {Name: "10.0.0.0/24", Type: "weird"},
		} {
			n := bad
			wantKind(t, m.CreateNet(f.ctx, &n), fault.ErrInvalid, "create "+bad.Name+" gw "+bad.Gateway)
		}
		c := ipam.Net{Name: "10.0.0.0/16", Type: ipam.TypeContainer}
		f.must(m.CreateNet(f.ctx, &c), "container")
		a := ipam.Net{Name: "10.0.1.0/24", Gateway: "10.0.1.1", VLAN: "100"}
		f.must(m.CreateNet(f.ctx, &a), "active")
		if a.Parent == nil || *a.Parent != c.ID || a.Size != "256" || a.Total != "253" || a.Using != "0" || a.Family != 4 {
			t.Fatalf("active net %+v", a)
		}
		for _, o := range []string{"10.0.1.0/25", "10.0.0.0/23", "10.0.1.128/26"} {
			n := ipam.Net{Name: o}
			wantKind(t, m.CreateNet(f.ctx, &n), fault.ErrInvalid, "overlap "+o)
		}
		other := ipam.Net{Name: "10.0.1.0/24", Userspace: 2}
		f.must(m.CreateNet(f.ctx, &other), "same prefix in another userspace")
		dup := ipam.Net{Name: "10.0.1.0/24"}
		wantKind(t, m.CreateNet(f.ctx, &dup), fault.ErrConflict, "duplicate")

		v6 := ipam.Net{Name: "2001:db8::/48", Gateway: "2001:db8::1"}
		f.must(m.CreateNet(f.ctx, &v6), "v6")
		if v6.Size != "1208925819614629174706176" || v6.Total != "1208925819614629174706174" {
			t.Fatalf("v6 counts %+v", v6)
		}
		got, err := m.GetNet(f.ctx, c.ID)
		f.must(err, "get container")
		if got.Total != "253" || got.Using != "0" {
			t.Fatalf("container counts %+v", got)
		}

		ip, err := m.Allocate(f.ctx, ipam.Alloc{NetID: a.ID})
		f.must(err, "allocate")
		if ip.Name != "10.0.1.2" {
			t.Fatalf("first address %s, want 10.0.1.2 (gateway .1 skipped)", ip.Name)
		}
		wantKind(t, m.DeleteNet(f.ctx, a.ID), fault.ErrConflict, "delete with addresses")
		gw := "10.0.1.2"
		_, err = m.UpdateNet(f.ctx, a.ID, store.NetPatch{Gateway: &gw})
		wantKind(t, err, fault.ErrConflict, "gateway onto an allocated address")
		bad := "10.9.9.9"
		_, err = m.UpdateNet(f.ctx, a.ID, store.NetPatch{Gateway: &bad})
		wantKind(t, err, fault.ErrInvalid, "gateway outside")
		if got, _ := m.GetNet(f.ctx, a.ID); got.Gateway != "10.0.1.1" || got.Using != "1" {
			t.Fatalf("after refused edits %+v", got)
		}
		f.must(m.Release(f.ctx, ip.ID), "release")
		f.must(m.DeleteNet(f.ctx, a.ID), "delete empty")
		wantKind(t, m.DeleteNet(f.ctx, a.ID), fault.ErrNotFound, "delete twice")
	})
}

func TestIPAMAllocation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		m := db.IPAM()
		n := ipam.Net{Name: "192.0.2.0/29", Gateway: "192.0.2.1"}
		f.must(m.CreateNet(f.ctx, &n), "net")
		res, err := m.Allocate(f.ctx, ipam.Alloc{Name: "192.0.2.4", Reserved: true, Note: "router b"})
		f.must(err, "reserve")
		_, err = m.Allocate(f.ctx, ipam.Alloc{Name: "192.0.2.4"})
		wantKind(t, err, fault.ErrConflict, "reserved twice")
		for _, bad := range []string{"192.0.2.0", "192.0.2.1", "192.0.2.7", "198.51.100.1"} {
			_, err = m.Allocate(f.ctx, ipam.Alloc{Name: bad})
			wantKind(t, err, fault.ErrInvalid, "exact "+bad)
		}
		var got []string
		for {
			ip, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID, Family: 4, Domain: "h.example"})
			if err != nil {
				wantKind(t, err, fault.ErrConflict, "exhaustion")
				if err.Error() != "network 192.0.2.0/29 has no free address" {
					t.Fatalf("exhaustion message %q", err)
				}
				break
			}
			got = append(got, ip.Name)
		}
		if fmt.Sprint(got) != "[192.0.2.2 192.0.2.3 192.0.2.5 192.0.2.6]" {
			t.Fatalf("allocated %v", got)
		}
		_ = res
		// Release the second, reallocate: it comes back.
		ips, _, _ := db.IPs().ListIPs(f.ctx, server.Scope{}, all)
		var id3 int64
		for _, ip := range ips {
			if ip.Name == "192.0.2.3" {
				id3 = ip.ID
			}
		}
		f.must(m.Release(f.ctx, id3), "release")
		ip, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID})
		f.must(err, "reallocate")
		if ip.Name != "192.0.2.3" {
			t.Fatalf("reallocated %s", ip.Name)
		}

		// Point-to-point and single-address networks.
		p2p := ipam.Net{Name: "198.51.100.0/31"}
		f.must(m.CreateNet(f.ctx, &p2p), "/31")
		one := ipam.Net{Name: "2001:db8:1::5/128"}
		f.must(m.CreateNet(f.ctx, &one), "/128")
		for _, c := range []struct {
			id   int64
			want []string
		}{{p2p.ID, []string{"198.51.100.0", "198.51.100.1"}}, {one.ID, []string{"2001:db8:1::5"}}} {
			for _, w := range c.want {
				ip, err := m.Allocate(f.ctx, ipam.Alloc{NetID: c.id})
				if err != nil || ip.Name != w {
					t.Fatalf("got %v %v, want %s", ip.Name, err, w)
				}
			}
			_, err := m.Allocate(f.ctx, ipam.Alloc{NetID: c.id})
			wantKind(t, err, fault.ErrConflict, "small net exhausted")
		}

		// A /48 hands out addresses with only the allocated ones stored,
		// also after a hand-inserted row without a sort key.
		big := ipam.Net{Name: "2001:db8:2::/48", Gateway: "2001:db8:2::1"}
		f.must(m.CreateNet(f.ctx, &big), "/48")
		if _, err := db.SQL().ExecContext(f.ctx, fmt.Sprintf(`INSERT INTO ips (name, family, ipnet_id, created_at, updated_at)
			VALUES ('2001:db8:2::3', 6, %d, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, big.ID)); err != nil {
			t.Fatal(err)
		}
		var last string
		for i := 0; i < 20; i++ {
			ip, err := m.Allocate(f.ctx, ipam.Alloc{NetID: big.ID, Family: 6})
			f.must(err, "allocate v6")
			if ip.Name == "2001:db8:2::3" || ip.Name == "2001:db8:2::1" {
				t.Fatalf("handed out %s", ip.Name)
			}
			last = ip.Name
		}
		if last != "2001:db8:2::16" {
			t.Fatalf("20th v6 address %s", last)
		}
		if g, _ := m.GetNet(f.ctx, big.ID); g.Using != "21" || g.Total != "1208925819614629174706174" {
			t.Fatalf("v6 counts %+v", g)
		}
	})
}

func TestIPAMPools(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		m := db.IPAM()
		n4 := ipam.Net{Name: "203.0.113.0/24", Gateway: "203.0.113.1"}
		f.must(m.CreateNet(f.ctx, &n4), "net4")
		n6 := ipam.Net{Name: "2001:db8:9::/64"}
		f.must(m.CreateNet(f.ctx, &n6), "net6")
		for _, bad := range [][]string{{"203.0.114.0-203.0.114.9"}, {"203.0.113.250-203.0.114.2"}, {"203.0.113.9-203.0.113.1"}, {"junk"}} {
			p := ipam.Pool{Name: "bad"}
			wantKind(t, m.CreatePool(f.ctx, &p, bad), fault.ErrInvalid, fmt.Sprint("pool ", bad))
		}
		if ps, _ := m.ListPools(f.ctx); len(ps) != 0 {
			t.Fatalf("refused pools left %v", ps)
		}
		p := ipam.Pool{Name: "public", IsPublic: true}
		f.must(m.CreatePool(f.ctx, &p, []string{"203.0.113.0-203.0.113.9", "2001:db8:9::/120"}), "pool")
		if p.Total4 != "8" || p.Total6 != "255" || p.Total != "263" || p.Using != "0" || len(p.Ranges) != 2 {
			t.Fatalf("pool %+v", p) // .0 network, .1 gateway and the v6 network address are not counted
		}
		_, err := m.AddRange(f.ctx, p.ID, "203.0.113.5-203.0.113.20")
		wantKind(t, err, fault.ErrInvalid, "overlapping range")
		ip, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: p.ID, Family: 4})
		f.must(err, "pool v4")
		ip6, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: p.ID, Family: 6})
		f.must(err, "pool v6")
		if ip.Name != "203.0.113.2" || ip6.Name != "2001:db8:9::1" {
			t.Fatalf("pool addresses %s %s", ip.Name, ip6.Name)
		}
		// The network's own search skips what the pool took, and a
		// released address comes back first.
		ip3, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n4.ID})
		f.must(err, "net after pool")
		hi := ipam.Pool{Name: "high"}
		f.must(m.CreatePool(f.ctx, &hi, []string{"203.0.113.200-203.0.113.210"}), "high pool")
		ipHi, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: hi.ID})
		f.must(err, "high pool allocation")
		ip4, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n4.ID})
		f.must(err, "net after high pool")
		if ip3.Name != "203.0.113.3" || ipHi.Name != "203.0.113.200" || ip4.Name != "203.0.113.4" {
			t.Fatalf("addresses %s %s %s", ip3.Name, ipHi.Name, ip4.Name)
		}
		f.must(m.Release(f.ctx, ip3.ID), "release .3")
		f.must(m.Release(f.ctx, ip4.ID), "release .4")
		f.must(m.Release(f.ctx, ipHi.ID), "release .200")
		f.must(m.DeletePool(f.ctx, hi.ID), "delete high pool")
		if again, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n4.ID}); err != nil || again.Name != "203.0.113.3" {
			t.Fatalf("after release: %v %v", again.Name, err)
		} else {
			f.must(m.Release(f.ctx, again.ID), "release again")
		}
		got, _ := m.GetPool(f.ctx, p.ID)
		if got.Using4 != "1" || got.Using6 != "1" || got.Using != "2" {
			t.Fatalf("pool counts %+v", got)
		}
		loc := f.location("dc1")
		_, err = m.AttachPool(f.ctx, p.ID, &loc.ID, nil)
		f.must(err, "attach")
		_, lp, pub, err := m.PlacePools(f.ctx, nil, &loc.ID)
		if err != nil || len(lp) != 1 || lp[0] != p.ID || len(pub) != 1 {
			t.Fatalf("place pools %v %v %v", lp, pub, err)
		}
		wantKind(t, m.DeleteNet(f.ctx, n6.ID), fault.ErrConflict, "net with pool range and address")
		f.must(m.DeletePool(f.ctx, p.ID), "delete pool")
	})
}

// TestIPAMConcurrentExhaustion: 64 concurrent allocations from a pool with
// 50 free addresses: exactly 50 succeed, 14 get the exhaustion conflict, no
// address twice, counts exact afterwards.
func TestIPAMConcurrentExhaustion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		m := db.IPAM()
		n := ipam.Net{Name: "10.20.0.0/24", Gateway: "10.20.0.1"}
		f.must(m.CreateNet(f.ctx, &n), "net")
		p := ipam.Pool{Name: "fifty"}
		// .1 is the gateway: .1-.51 holds 50 free addresses; reserve one
		// more inside and extend by one to keep 50.
		f.must(m.CreatePool(f.ctx, &p, []string{"10.20.0.1-10.20.0.52"}), "pool")
		_, err := m.Allocate(f.ctx, ipam.Alloc{Name: "10.20.0.30", Reserved: true, Note: "kept"})
		f.must(err, "reserve")
		if g, _ := m.GetPool(f.ctx, p.ID); g.Total != "51" || g.Using != "1" {
			t.Fatalf("pool before %+v", g)
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok       = map[string]int{}
			conflict int
			other    []error
		)
		start := make(chan struct{})
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ip, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: p.ID, Family: 4})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok[ip.Name]++
				case errors.Is(err, fault.ErrConflict) && err.Error() == "pool fifty has no free address":
					conflict++
				default:
					other = append(other, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("unexpected errors: %v", other)
		}
		succeeded := 0
		for name, c := range ok {
			succeeded += c
			if c > 1 {
				t.Errorf("%s handed out %d times", name, c)
			}
			a := netip.MustParseAddr(name)
			if name == "10.20.0.30" || name == "10.20.0.1" || a.Less(netip.MustParseAddr("10.20.0.2")) || netip.MustParseAddr("10.20.0.52").Less(a) {
				t.Errorf("handed out %s", name)
			}
		}
		if succeeded != 50 || len(ok) != 50 || conflict != 14 {
			t.Fatalf("%d succeeded (%d distinct), %d conflicts; want 50, 14", succeeded, len(ok), conflict)
		}
		if g, _ := m.GetPool(f.ctx, p.ID); g.Total != "51" || g.Using != "51" {
			t.Fatalf("pool after %+v", g)
		}
		if g, _ := m.GetNet(f.ctx, n.ID); g.Using != "51" {
			t.Fatalf("net after %+v", g)
		}
	})
}

// TestIPAMAdminTools: free listing, moving an address between servers,
// editing, releasing a server or deleting its owner returning the
// non-permanent addresses in the same transaction, pool attachments.
func TestIPAMAdminTools(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		m := db.IPAM()
		n := ipam.Net{Name: "198.51.100.0/29", Gateway: "198.51.100.1"}
		f.must(m.CreateNet(f.ctx, &n), "net")
		free, err := m.FreeAddrs(f.ctx, n.ID, 10)
		f.must(err, "free")
		if strings.Join(free, ",") != "198.51.100.2,198.51.100.3,198.51.100.4,198.51.100.5,198.51.100.6" {
			t.Fatalf("free of an empty /29: %v", free)
		}
		big6 := ipam.Net{Name: "2001:db8:77::/48"}
		f.must(m.CreateNet(f.ctx, &big6), "v6 net")
		if free, err = m.FreeAddrs(f.ctx, big6.ID, 3); err != nil || strings.Join(free, ",") != "2001:db8:77::1,2001:db8:77::2,2001:db8:77::3" {
			t.Fatalf("free of a /48: %v %v", free, err)
		}
		for _, bad := range []int{0, -1, 1001} {
			_, err := m.FreeAddrs(f.ctx, n.ID, bad)
			wantKind(t, err, fault.ErrInvalid, "free limit")
		}
		_, err = m.FreeAddrs(f.ctx, 999999, 1)
		wantKind(t, err, fault.ErrNotFound, "free of a missing net")

		owner := f.user("ipam-owner@example.com", "@user")
		s1 := f.server("ip-s1", func(s *server.Server) { s.OwnerID = &owner.ID })
		s2 := f.server("ip-s2")
		a, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID, ServerID: &s1.ID, SetMain: true})
		f.must(err, "alloc a")
		perm, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID, ServerID: &s1.ID, Permanent: true})
		f.must(err, "alloc permanent")
		res, err := m.Allocate(f.ctx, ipam.Alloc{Name: "198.51.100.6", Reserved: true, Note: "router"})
		f.must(err, "reserve")
		if free, _ = m.FreeAddrs(f.ctx, n.ID, 10); strings.Join(free, ",") != "198.51.100.4,198.51.100.5" {
			t.Fatalf("free after 3 stored: %v", free)
		}

		// Move a (the main address of s1) to s2 as its main address.
		moved, err := m.MoveIP(f.ctx, a.ID, &s2.ID, true)
		f.must(err, "move")
		if moved.ServerID == nil || *moved.ServerID != s2.ID || moved.Reserved {
			t.Fatalf("moved %+v", moved)
		}
		g1, _ := f.inv.Servers.Get(f.ctx, s1.ID)
		g2, _ := f.inv.Servers.Get(f.ctx, s2.ID)
		if g1.MainIPv4 != nil || g2.MainIPv4 == nil || *g2.MainIPv4 != a.ID {
			t.Fatalf("main after move: s1 %v s2 %v", g1.MainIPv4, g2.MainIPv4)
		}
		_, err = m.MoveIP(f.ctx, a.ID, ptr(int64(999999)), false)
		wantKind(t, err, fault.ErrInvalid, "move to a missing server")
		f.must(m.SetStatus(f.ctx, res.ID, ipam.StatusDeleting, ""), "status")
		_, err = m.MoveIP(f.ctx, res.ID, &s2.ID, false)
		wantKind(t, err, fault.ErrConflict, "move an unsettled address")
		f.must(m.SetStatus(f.ctx, res.ID, ipam.StatusOK, ""), "status back")
		// Back to s1, not main; then edit.
		_, err = m.MoveIP(f.ctx, a.ID, &s1.ID, false)
		f.must(err, "move back")
		g2, _ = f.inv.Servers.Get(f.ctx, s2.ID)
		if g2.MainIPv4 != nil {
			t.Fatalf("s2 keeps main %v after its address moved away", *g2.MainIPv4)
		}
		dom := "host.example.com"
		ed, err := m.UpdateIP(f.ctx, a.ID, ipam.IPPatch{Domain: &dom})
		if err != nil || ed.Domain != dom {
			t.Fatalf("edit: %+v %v", ed, err)
		}

		// Release s1: a goes back, the permanent address stays.
		f.must(db.Views().SetOwner(f.ctx, s1.ID, nil), "release")
		if _, err := m.GetIP(f.ctx, a.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("released server's address still stored: %v", err)
		}
		if p, err := m.GetIP(f.ctx, perm.ID); err != nil || p.ServerID == nil || *p.ServerID != s1.ID {
			t.Fatalf("permanent address after release: %+v %v", p, err)
		}
		again, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID})
		if err != nil || again.Name != a.Name {
			t.Fatalf("released address not handed out first: %v %v", again.Name, err)
		}
		f.must(m.Release(f.ctx, again.ID), "release again")

		// Deleting the owner releases its servers the same way.
		f.must(db.Views().SetOwner(f.ctx, s1.ID, &owner.ID), "assign")
		b, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID, ServerID: &s1.ID, SetMain: true})
		f.must(err, "alloc b")
		f.must(db.Auth().DeleteUser(f.ctx, owner.ID), "delete owner")
		if _, err := m.GetIP(f.ctx, b.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("deleted owner's server keeps its address: %v", err)
		}
		if g1, _ = f.inv.Servers.Get(f.ctx, s1.ID); g1.MainIPv4 != nil || g1.OwnerID != nil {
			t.Fatalf("server after owner deletion: owner %v main %v", g1.OwnerID, g1.MainIPv4)
		}

		// Attach and detach pools.
		p := ipam.Pool{Name: "placed"}
		f.must(m.CreatePool(f.ctx, &p, []string{"198.51.100.4-198.51.100.5"}), "pool")
		loc := f.location("ipam-loc")
		rk := f.rack("ipam-rack", loc.ID)
		pl, err := m.AttachPool(f.ctx, p.ID, nil, &rk.ID)
		f.must(err, "attach rack")
		_, err = m.AttachPool(f.ctx, p.ID, nil, &rk.ID)
		wantKind(t, err, fault.ErrConflict, "attach twice")
		_, err = m.AttachPool(f.ctx, p.ID, &loc.ID, &rk.ID)
		wantKind(t, err, fault.ErrInvalid, "attach to both")
		_, err = m.AttachPool(f.ctx, p.ID, ptr(int64(999999)), nil)
		wantKind(t, err, fault.ErrInvalid, "attach to a missing location")
		_, err = m.AttachPool(f.ctx, 999999, &loc.ID, nil)
		wantKind(t, err, fault.ErrNotFound, "attach a missing pool")
		got, _ := m.GetPool(f.ctx, p.ID)
		if len(got.Places) != 1 || got.Places[0].RackID == nil || *got.Places[0].RackID != rk.ID {
			t.Fatalf("places %+v", got.Places)
		}
		wantKind(t, m.DetachPool(f.ctx, p.ID, pl.ID+1000), fault.ErrNotFound, "detach missing")
		f.must(m.DetachPool(f.ctx, p.ID, pl.ID), "detach")
		if got, _ = m.GetPool(f.ctx, p.ID); len(got.Places) != 0 {
			t.Fatalf("places after detach %+v", got.Places)
		}
	})
}

// TestIPAMPoolRangeHint: a pool range above its network's lowest free
// address is searched from its own hint, which releases move back down;
// a full range answers the exhaustion conflict and takes addresses again
// once one is released.
func TestIPAMPoolRangeHint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		m := db.IPAM()
		n := ipam.Net{Name: "10.99.0.0/24", Gateway: "10.99.0.1"}
		f.must(m.CreateNet(f.ctx, &n), "net")
		p := ipam.Pool{Name: "high"}
		f.must(m.CreatePool(f.ctx, &p, []string{"10.99.0.200-10.99.0.203"}), "pool")
		var got []ipam.IP
		for i := 0; i < 4; i++ {
			ip, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: p.ID})
			f.must(err, "alloc")
			got = append(got, ip)
		}
		if got[0].Name != "10.99.0.200" || got[3].Name != "10.99.0.203" {
			t.Fatalf("pool order %v %v", got[0].Name, got[3].Name)
		}
		_, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: p.ID})
		wantKind(t, err, fault.ErrConflict, "full range")
		f.must(m.Release(f.ctx, got[1].ID), "release .201")
		again, err := m.Allocate(f.ctx, ipam.Alloc{PoolID: p.ID})
		if err != nil || again.Name != "10.99.0.201" {
			t.Fatalf("after releasing .201: %v %v", again.Name, err)
		}
		// The network's own lowest free address is untouched by the pool.
		low, err := m.Allocate(f.ctx, ipam.Alloc{NetID: n.ID})
		if err != nil || low.Name != "10.99.0.2" {
			t.Fatalf("network allocation %v %v", low.Name, err)
		}
	})
}
