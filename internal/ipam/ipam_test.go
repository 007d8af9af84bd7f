package ipam

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func TestSizes(t *testing.T) {
	for _, c := range []struct{ p, size, first, last string }{
		{"10.0.0.0/24", "256", "10.0.0.1", "10.0.0.254"},
		{"10.0.0.0/31", "2", "10.0.0.0", "10.0.0.1"},
		{"10.0.0.7/32", "1", "10.0.0.7", "10.0.0.7"},
		{"0.0.0.0/0", "4294967296", "0.0.0.1", "255.255.255.254"},
		{"2001:db8::/48", "1208925819614629174706176", "2001:db8::1", "2001:db8:0:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/127", "2", "2001:db8::", "2001:db8::1"},
		{"2001:db8::5/128", "1", "2001:db8::5", "2001:db8::5"},
		{"::/0", "340282366920938463463374607431768211456", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		p, err := ParsePrefix(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := PrefixSize(p); got != c.size {
			t.Errorf("%s size %s, want %s", c.p, got, c.size)
		}
		u, _ := Usable(p)
		if u.First.String() != c.first || u.Last.String() != c.last {
			t.Errorf("%s usable %s, want %s-%s", c.p, u, c.first, c.last)
		}
	}
}

func TestParseBad(t *testing.T) {
	for _, s := range []string{"10.0.0.1/24", "10.0.0.0/33", "x", "10.0.0.0", "::ffff:10.0.0.0/120", "fe80::%eth0/64", ""} {
		if _, err := ParsePrefix(s); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", s)
		}
	}
	for _, s := range []string{"10.0.0.5-10.0.0.1", "10.0.0.1-::1", "a-b", "10.0.0.0/33"} {
		if _, err := ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) accepted", s)
		}
	}
	r, err := ParseRange("10.0.0.0/30")
	if err != nil || r.String() != "10.0.0.0-10.0.0.3" {
		t.Errorf("ParseRange CIDR: %v %v", r, err)
	}
}

func TestKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var a, b netip.Addr
		if i%2 == 0 {
			a, b = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), 0, byte(rng.Uint32())}), netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), 0, byte(rng.Uint32())})
		} else {
			var x, y [16]byte
			for j := range x {
				x[j], y[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			a, b = netip.AddrFrom16(x), netip.AddrFrom16(y)
		}
		if (Key(a) < Key(b)) != a.Less(b) || len(Key(a)) != 32 {
			t.Fatalf("key order %s %s", a, b)
		}
		back, err := FromKey(Key(a), Family(a))
		if err != nil || back != a {
			t.Fatalf("FromKey(%s) = %s %v", Key(a), back, err)
		}
	}
}

// TestAllocateProperty: random small networks of both families, allocate
// the lowest free address until exhausted, release some, reallocate: every
// address handed out is usable, unique, never reserved, the count matches
// the exact size, and reallocation returns the lowest released ones.
func TestAllocateProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 6))
	for iter := 0; iter < 300; iter++ {
		var p netip.Prefix
		if rng.IntN(2) == 0 {
			a := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			p = netip.PrefixFrom(a, 22+rng.IntN(11)).Masked()
		} else {
			var b [16]byte
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if rng.IntN(8) == 0 { // near the top of the space
				for j := range b {
					b[j] = 0xff
				}
			}
			p = netip.PrefixFrom(netip.AddrFrom16(b), 118+rng.IntN(11)).Masked()
		}
		u, ok := Usable(p)
		if !ok {
			t.Fatalf("%s: nothing usable", p)
		}
		whole := PrefixRange(p)
		var gw netip.Addr
		if rng.IntN(3) > 0 {
			gw = u.First
			for n := rng.IntN(int(min(u.Size().Int64(), 8))); n > 0; n-- {
				gw = gw.Next()
			}
		}
		reserved := Reserved(p, gw)
		used := slices.Clone(reserved)
		want := int(u.Size().Int64())
		if gw.IsValid() && u.Contains(gw) {
			want--
		}
		var got []netip.Addr
		for {
			a, ok := NextFree(u, used, netip.Addr{})
			if !ok {
				break
			}
			if !u.Contains(a) || !whole.Contains(a) || slices.Contains(reserved, a) {
				t.Fatalf("%s: handed out %s (reserved %v)", p, a, reserved)
			}
			// Cursor agrees with NextFree.
			c := NewCursor(u)
			for _, x := range used {
				if !c.Skip(x) {
					break
				}
			}
			if ca, cok := c.Free(); !cok || ca != a {
				t.Fatalf("%s: cursor %s %v, NextFree %s", p, ca, cok, a)
			}
			i, found := slices.BinarySearchFunc(used, a, netip.Addr.Compare)
			if found {
				t.Fatalf("%s: %s handed out twice", p, a)
			}
			used = slices.Insert(used, i, a)
			got = append(got, a)
			if len(got) > want {
				t.Fatalf("%s: more than %d addresses", p, want)
			}
		}
		if len(got) != want {
			t.Fatalf("%s gw %s: %d addresses, want %d", p, gw, len(got), want)
		}
		if !slices.IsSortedFunc(got, netip.Addr.Compare) {
			t.Fatalf("%s: not lowest-first", p)
		}
		// Release a random subset, then reallocate: the lowest come back.
		var released []netip.Addr
		for _, a := range got {
			if rng.IntN(4) == 0 {
				released = append(released, a)
				i, _ := slices.BinarySearchFunc(used, a, netip.Addr.Compare)
				used = slices.Delete(used, i, i+1)
			}
		}
		for _, w := range released {
			a, ok := NextFree(u, used, netip.Addr{})
			if !ok || a != w {
				t.Fatalf("%s: reallocated %s %v, want %s", p, a, ok, w)
			}
			i, _ := slices.BinarySearchFunc(used, a, netip.Addr.Compare)
			used = slices.Insert(used, i, a)
		}
		if a, ok := NextFree(u, used, netip.Addr{}); ok {
			t.Fatalf("%s: %s free after refill", p, a)
		}
	}
}

// A /48 allocates with only the allocated addresses in memory.
func TestHugeNetwork(t *testing.T) {
	p, _ := ParsePrefix("2001:db8::/48")
	u, _ := Usable(p)
	used := Reserved(p, netip.MustParseAddr("2001:db8::1"))
	for i := 0; i < 1000; i++ {
		a, ok := NextFree(u, used, netip.Addr{})
		if !ok {
			t.Fatal("exhausted")
		}
		used = append(used, a) // ascending: a is above all used
	}
	if used[len(used)-1].String() != "2001:db8::3e9" {
		t.Fatalf("last %s", used[len(used)-1])
	}
}
