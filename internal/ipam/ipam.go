// Package ipam is the address arithmetic of IP address management: prefixes
// and ranges of IPv4 and IPv6 addresses, their exact sizes, the addresses a
// network may hand out, and the lowest free address among sorted used ones,
// all without materialising address space.
package ipam

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// Key is the fixed-width sortable form of an address: 32 lowercase hex
// digits of its 128-bit value (an IPv4 address is zero-extended). Keys of
// one family compare as strings in address order.
func Key(a netip.Addr) string {
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[12:], v[:])
	} else {
		b = a.As16()
	}
	return hex.EncodeToString(b[:])
}

// FromKey is the inverse of Key for the family (4 or 6).
func FromKey(k string, family int) (netip.Addr, error) {
	b, err := hex.DecodeString(k)
	if err != nil || len(b) != 16 {
		return netip.Addr{}, fmt.Errorf("bad address key %q", k)
	}
	if family == 4 {
		return netip.AddrFrom4([4]byte(b[12:])), nil
	}
	return netip.AddrFrom16([16]byte(b)), nil
}

// Family is 4 or 6.
func Family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// ParsePrefix reads a network in CIDR form; the address must be the
// network's first (no host bits set) and v4-mapped v6 forms are refused.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network in CIDR form", s)
	}
	if p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: use plain IPv4 or IPv6 notation", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (the network is %s)", s, p.Masked())
	}
	return p, nil
}

// ParseAddr reads one address, refusing zones and v4-mapped forms.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	return a, nil
}

// Range is the inclusive span First..Last of one family.
type Range struct{ First, Last netip.Addr }

// ParseRange reads "first-last" or a CIDR (its whole span) or one address.
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		f, err := ParseAddr(a)
		if err != nil {
			return Range{}, err
		}
		l, err := ParseAddr(b)
		if err != nil {
			return Range{}, err
		}
		if f.BitLen() != l.BitLen() {
			return Range{}, fmt.Errorf("%q mixes IPv4 and IPv6", s)
		}
		if l.Less(f) {
			return Range{}, fmt.Errorf("%q: the last address is before the first", s)
		}
		return Range{f, l}, nil
	}
	if strings.Contains(s, "/") {
		p, err := ParsePrefix(s)
		if err != nil {
			return Range{}, err
		}
		return PrefixRange(p), nil
	}
	a, err := ParseAddr(s)
	if err != nil {
		return Range{}, err
	}
	return Range{a, a}, nil
}

func (r Range) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// Valid reports a non-empty range of one family.
func (r Range) Valid() bool {
	return r.First.IsValid() && r.Last.IsValid() && r.First.BitLen() == r.Last.BitLen() && !r.Last.Less(r.First)
}

// Contains reports a in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.First.BitLen() && !a.Less(r.First) && !r.Last.Less(a)
}

// Within reports r entirely inside o.
func (r Range) Within(o Range) bool { return o.Contains(r.First) && o.Contains(r.Last) }

// Overlaps reports a shared address.
func (r Range) Overlaps(o Range) bool {
	return r.First.BitLen() == o.First.BitLen() && !r.Last.Less(o.First) && !o.Last.Less(r.First)
}

// Intersect is the common part; ok false when none.
func (r Range) Intersect(o Range) (Range, bool) {
	if !r.Overlaps(o) {
		return Range{}, false
	}
	f, l := r.First, r.Last
	if f.Less(o.First) {
		f = o.First
	}
	if o.Last.Less(l) {
		l = o.Last
	}
	return Range{f, l}, true
}

// Size is the exact number of addresses in r.
func (r Range) Size() *big.Int {
	if !r.Valid() {
		return new(big.Int)
	}
	n := new(big.Int).Sub(toBig(r.Last), toBig(r.First))
	return n.Add(n, big.NewInt(1))
}

func toBig(a netip.Addr) *big.Int {
	b := a.AsSlice()
	return new(big.Int).SetBytes(b)
}

// PrefixRange is the whole span of p, network to broadcast.
func PrefixRange(p netip.Prefix) Range {
	p = p.Masked()
	first := p.Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	last, _ := netip.AddrFromSlice(b)
	return Range{first, last}
}

// PrefixSize is the exact number of addresses of p as a decimal string
// ("1208925819614629174706176" for a /48).
func PrefixSize(p netip.Prefix) string { return PrefixRange(p).Size().String() }

// Usable is the span of addresses p may hand out: without the network and
// broadcast addresses of an IPv4 network up to /30 and without the
// Subnet-Router anycast (network) address of an IPv6 network up to /126;
// a /31 (RFC 3021) and a /127 (RFC 6164) use both addresses, a /32 and a
// /128 their single one. The gateway is excluded separately (Excluded).
// ok is false when nothing is usable.
func Usable(p netip.Prefix) (Range, bool) {
	r := PrefixRange(p)
	host := p.Addr().BitLen() - p.Bits()
	switch {
	case host <= 1:
		return r, true
	case p.Addr().Is4():
		return Range{r.First.Next(), r.Last.Prev()}, true
	default:
		return Range{r.First.Next(), r.Last}, true
	}
}

// Reserved lists the addresses of p never handed out though inside it:
// network, broadcast (IPv4) and gateway, sorted, without duplicates.
func Reserved(p netip.Prefix, gateway netip.Addr) []netip.Addr {
	r := PrefixRange(p)
	u, _ := Usable(p)
	var out []netip.Addr
	if r.First != u.First {
		out = append(out, r.First)
	}
	if gateway.IsValid() && u.Contains(gateway) {
		out = append(out, gateway)
	}
	if r.Last != u.Last {
		out = append(out, r.Last)
	}
	return out
}

// NextFree returns the lowest address of r that is not in used and not
// before from (when valid). used must be sorted ascending (duplicates and
// addresses outside r are allowed). ok is false when r is exhausted.
// It walks used once and never enumerates free space.
func NextFree(r Range, used []netip.Addr, from netip.Addr) (netip.Addr, bool) {
	if !r.Valid() {
		return netip.Addr{}, false
	}
	cur := r.First
	if from.IsValid() && r.First.Less(from) {
		cur = from
	}
	for _, u := range used {
		if u.Less(cur) {
			continue
		}
		if u != cur {
			break
		}
		cur = cur.Next()
		if !cur.IsValid() { // wrapped past the top of the family
			return netip.Addr{}, false
		}
	}
	if !r.Contains(cur) {
		return netip.Addr{}, false
	}
	return cur, true
}

// Cursor finds the first gap in a stream of sorted used addresses: feed
// them in ascending order with Skip until it returns false, then Free is
// the answer. It lets the store read used addresses in pages.
type Cursor struct {
	r    Range
	cur  netip.Addr
	done bool // cur ran past the top of the family
}

// NewCursor starts at r.First.
func NewCursor(r Range) *Cursor { return &Cursor{r: r, cur: r.First} }

// Skip accounts for one used address; it returns false once a gap is found
// (the rest of the stream cannot change the answer).
func (c *Cursor) Skip(u netip.Addr) bool {
	if c.done || u.Less(c.cur) {
		return !c.done
	}
	if u != c.cur {
		return false
	}
	c.cur = c.cur.Next()
	if !c.cur.IsValid() {
		c.done = true
		return false
	}
	return true
}

// Free is the lowest free address so far; ok is false when r is exhausted.
func (c *Cursor) Free() (netip.Addr, bool) {
	if c.done || !c.r.Valid() || !c.r.Contains(c.cur) {
		return netip.Addr{}, false
	}
	return c.cur, true
}

// Position is the address the cursor will check next (for paging).
func (c *Cursor) Position() netip.Addr { return c.cur }
