package dhcp6d

import (
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/dcimd/dcimd/internal/netboot"
)

// clientMAC reads the client's Ethernet address in the order the package
// documentation gives: DUID-LL/LLT, relay option 79, EUI-64 link-local
// source of a direct request. nil when none has one.
func (c *call) clientMAC(cid dhcpv6.DUID) net.HardwareAddr {
	switch d := cid.(type) {
	case *dhcpv6.DUIDLL:
		if d.HWType == iana.HWTypeEthernet && usable(d.LinkLayerAddr) {
			return d.LinkLayerAddr
		}
	case *dhcpv6.DUIDLLT:
		if d.HWType == iana.HWTypeEthernet && usable(d.LinkLayerAddr) {
			return d.LinkLayerAddr
		}
	}
	if c.inner != nil {
		if ht, lla := c.inner.Options.ClientLinkLayerAddress(); ht == iana.HWTypeEthernet && usable(lla) {
			return lla
		}
		return nil
	}
	return eui64MAC(c.in.Peer.Addr())
}

func usable(m net.HardwareAddr) bool {
	if len(m) != 6 || m[0]&1 != 0 {
		return false
	}
	return m.String() != "00:00:00:00:00:00"
}

// eui64MAC is the MAC inside a modified EUI-64 link-local address
// (fe80::XXXX:XXff:feXX:XXXX, RFC 4291 App. A), nil for any other.
func eui64MAC(a netip.Addr) net.HardwareAddr {
	if !a.Is6() || !a.IsLinkLocalUnicast() {
		return nil
	}
	b := a.As16()
	if b[11] != 0xff || b[12] != 0xfe {
		return nil
	}
	m := net.HardwareAddr{b[8] ^ 0x02, b[9], b[10], b[13], b[14], b[15]}
	if !usable(m) {
		return nil
	}
	return m
}

// subnet picks the subnet of the request: the innermost relay's link
// address when a relay gave one, else the receiving interface's address.
func (c *call) subnet() *Subnet {
	at := c.in.Addr
	if c.inner != nil {
		if la, ok := netip.AddrFromSlice(c.inner.LinkAddr); ok && !la.IsUnspecified() {
			at = la
		} else {
			return nil // RFC 8415 leaves it to interface-id; dcimd configures none
		}
	}
	if !at.IsValid() {
		return nil
	}
	for i := range c.h.o.Subnets {
		if c.h.o.Subnets[i].Prefix.Contains(at) {
			return &c.h.o.Subnets[i]
		}
	}
	return nil
}

// bootURL is the boot-file-url of a network-booting client, like
// netboot.Choose for v4 but over HTTP only: an iPXE client gets its
// script, a UEFI client (option 61 architecture 7, 9, 16, ...) the iPXE
// loader for its architecture. httpClient says the client does UEFI HTTP
// boot and needs vendor class HTTPClient back.
func (c *call) bootURL() (url string, httpClient bool) {
	base := c.sn.HTTPBase
	if base == "" || c.mac == nil {
		return "", false
	}
	nc := netboot.Client{MAC: c.mac}
	for _, a := range c.req.Options.ArchTypes() {
		nc.Arches = append(nc.Arches, uint16(a))
	}
	for _, u := range c.req.Options.UserClasses() {
		nc.UserClasses = append(nc.UserClasses, string(u))
	}
	for _, vc := range c.req.Options.VendorClasses() {
		for _, d := range vc.Data {
			if nc.VendorClass == "" {
				nc.VendorClass = string(d)
			}
		}
	}
	if nc.IsIPXE() {
		return netboot.ScriptURL(base, c.mac), false
	}
	for _, a := range nc.Arches {
		name, http := "", false
		f := c.h.o.Files
		switch a {
		case 6, 15:
			name, http = f.EFI32, a == 15
		case 7, 9, 16:
			name, http = f.EFI64, a == 16
		case 10, 18:
			name, http = f.ARM32, a == 18
		case 11, 19:
			name, http = f.ARM64, a == 19
		}
		if name != "" {
			return netboot.LoaderURL(base, name), http || nc.VendorClass == netboot.VendorHTTP ||
				len(nc.VendorClass) > len(netboot.VendorHTTP) && nc.VendorClass[:len(netboot.VendorHTTP)] == netboot.VendorHTTP
		}
	}
	return "", false
}
