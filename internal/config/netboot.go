package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// NetbootConfig configures dcimd's own boot infrastructure: DHCPv4, TFTP
// and HTTP boot (the scripts under /boot are always served by the API
// listener).
type NetbootConfig struct {
	// HTTPBaseURL is how booting machines reach dcimd's HTTP listener,
	// e.g. http://198.51.100.10:1500; empty takes the Host of each request
	// for scripts, and gives DHCP clients no HTTP boot options.
	HTTPBaseURL string `yaml:"http_base_url"`
	// TemplateDir holds the *.ipxe.tmpl scripts; empty uses the built-in ones.
	TemplateDir string `yaml:"template_dir"`
	// ImageDir holds kernels, initrds and images served under /boot/images/.
	ImageDir string      `yaml:"image_dir"`
	TFTP     TFTPConfig  `yaml:"tftp"`
	DHCP4    DHCP4Config `yaml:"dhcp4"`
	DHCP6    DHCP6Config `yaml:"dhcp6"`
}

// DHCP6Config configures the DHCPv6 server (stateful IA_NA addresses from
// IPAM, boot-file-url for UEFI and iPXE).
type DHCP6Config struct {
	Enabled    bool            `yaml:"enabled"`
	Interfaces []DHCPInterface `yaml:"interfaces"`
	Subnets    []DHCP6Subnet   `yaml:"subnets"`
}

// DHCP6Subnet is one IPv6 subnet the DHCPv6 server answers for.
type DHCP6Subnet struct {
	Prefix            string        `yaml:"prefix"`             // 2001:db8:10::/64
	PreferredLifetime time.Duration `yaml:"preferred_lifetime"` // default 1h
	ValidLifetime     time.Duration `yaml:"valid_lifetime"`     // default 2h
	DNS               []string      `yaml:"dns"`                // name servers handed out
}

// TFTPConfig configures the read-only TFTP server.
type TFTPConfig struct {
	Enabled bool `yaml:"enabled"`
	// Listen is host:port; ":69" on every address.
	Listen string `yaml:"listen"`
	// Root is searched first; the iPXE loaders of netboot/ after it.
	Root         string `yaml:"root"`
	MaxTransfers int    `yaml:"max_transfers"`
}

// DHCP4Config configures the DHCPv4 server.
type DHCP4Config struct {
	Enabled    bool            `yaml:"enabled"`
	Interfaces []DHCPInterface `yaml:"interfaces"`
	Subnets    []DHCPSubnet    `yaml:"subnets"`
}

// DHCPInterface is one interface the DHCP server listens on.
type DHCPInterface struct {
	Name    string `yaml:"name"`    // e.g. eth1; the socket is bound to it
	Address string `yaml:"address"` // dcimd's address there; empty: the interface's first IPv4
}

// DHCPSubnet is one subnet the DHCP server answers for.
type DHCPSubnet struct {
	Prefix     string        `yaml:"prefix"`      // 198.51.100.0/24
	Mode       string        `yaml:"mode"`        // authoritative (default) or proxy
	Discovery  string        `yaml:"discovery"`   // "first-last": addresses for unknown PXE clients
	LeaseTime  time.Duration `yaml:"lease_time"`  // default 1h
	DNS        []string      `yaml:"dns"`         // name servers handed out
	Domain     string        `yaml:"domain"`      // domain name handed out
	Router     string        `yaml:"router"`      // overrides the IPAM network's gateway
	NextServer string        `yaml:"next_server"` // TFTP server; default the interface address
}

func (c Config) validateNetboot(bad func(key, format string, args ...any) error) error {
	n := c.Netboot
	if n.HTTPBaseURL != "" {
		u, err := url.Parse(n.HTTPBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("netboot.http_base_url", "%q is not an http:// URL", n.HTTPBaseURL)
		}
	}
	if n.TFTP.Enabled {
		if _, _, err := net.SplitHostPort(n.TFTP.Listen); err != nil {
			return bad("netboot.tftp.listen", "%q is not host:port", n.TFTP.Listen)
		}
		if n.TFTP.MaxTransfers < 1 {
			return bad("netboot.tftp.max_transfers", "must be at least 1")
		}
	}
	if err := c.validateDHCP6(bad); err != nil {
		return err
	}
	if !n.DHCP4.Enabled {
		return nil
	}
	if len(n.DHCP4.Interfaces) == 0 {
		return bad("netboot.dhcp4.interfaces", "name at least one interface to listen on")
	}
	for i, f := range n.DHCP4.Interfaces {
		key := fmt.Sprintf("netboot.dhcp4.interfaces[%d]", i)
		if strings.TrimSpace(f.Name) == "" {
			return bad(key+".name", "must name a network interface")
		}
		if f.Address != "" {
			if a, err := netip.ParseAddr(f.Address); err != nil || !a.Is4() {
				return bad(key+".address", "%q is not an IPv4 address", f.Address)
			}
		}
	}
	if len(n.DHCP4.Subnets) == 0 {
		return bad("netboot.dhcp4.subnets", "describe at least one subnet")
	}
	for i, s := range n.DHCP4.Subnets {
		key := fmt.Sprintf("netboot.dhcp4.subnets[%d]", i)
		p, err := netip.ParsePrefix(s.Prefix)
		if err != nil || !p.Addr().Is4() || p.Masked() != p {
			return bad(key+".prefix", "%q is not an IPv4 network like 198.51.100.0/24", s.Prefix)
		}
		switch s.Mode {
		case "", "authoritative", "proxy":
		default:
			return bad(key+".mode", "%q is not authoritative or proxy", s.Mode)
		}
		if s.Discovery != "" {
			first, last, ok := strings.Cut(s.Discovery, "-")
			f, err1 := netip.ParseAddr(strings.TrimSpace(first))
			l, err2 := netip.ParseAddr(strings.TrimSpace(last))
			if !ok || err1 != nil || err2 != nil || !p.Contains(f) || !p.Contains(l) || l.Less(f) {
				return bad(key+".discovery", "%q is not a range first-last inside %s", s.Discovery, s.Prefix)
			}
			if s.Mode == "proxy" {
				return bad(key+".discovery", "a proxy subnet hands out no addresses")
			}
		}
		if s.LeaseTime < 0 || (s.LeaseTime > 0 && s.LeaseTime < time.Minute) {
			return bad(key+".lease_time", "must be at least 1m")
		}
		for _, d := range s.DNS {
			if a, err := netip.ParseAddr(d); err != nil || !a.Is4() {
				return bad(key+".dns", "%q is not an IPv4 address", d)
			}
		}
		for _, f := range []struct{ name, v string }{{"router", s.Router}, {"next_server", s.NextServer}} {
			if f.v != "" {
				if a, err := netip.ParseAddr(f.v); err != nil || !a.Is4() {
					return bad(key+"."+f.name, "%q is not an IPv4 address", f.v)
				}
			}
		}
	}
	return nil
}

func (c Config) validateDHCP6(bad func(key, format string, args ...any) error) error {
	d := c.Netboot.DHCP6
	if !d.Enabled {
		return nil
	}
	if len(d.Interfaces) == 0 {
		return bad("netboot.dhcp6.interfaces", "name at least one interface to listen on")
	}
	for i, f := range d.Interfaces {
		key := fmt.Sprintf("netboot.dhcp6.interfaces[%d]", i)
		if strings.TrimSpace(f.Name) == "" {
			return bad(key+".name", "must name a network interface")
		}
		if f.Address != "" {
			if a, err := netip.ParseAddr(f.Address); err != nil || !a.Is6() || a.Is4In6() {
				return bad(key+".address", "%q is not an IPv6 address", f.Address)
			}
		}
	}
	if len(d.Subnets) == 0 {
		return bad("netboot.dhcp6.subnets", "describe at least one subnet")
	}
	for i, s := range d.Subnets {
		key := fmt.Sprintf("netboot.dhcp6.subnets[%d]", i)
		p, err := netip.ParsePrefix(s.Prefix)
		if err != nil || !p.Addr().Is6() || p.Masked() != p {
			return bad(key+".prefix", "%q is not an IPv6 network like 2001:db8::/64", s.Prefix)
		}
		if s.PreferredLifetime < 0 || s.ValidLifetime < 0 || (s.ValidLifetime > 0 && s.ValidLifetime < s.PreferredLifetime) {
			return bad(key+".valid_lifetime", "must not be shorter than preferred_lifetime")
		}
		for _, x := range s.DNS {
			if a, err := netip.ParseAddr(x); err != nil || !a.Is6() {
				return bad(key+".dns", "%q is not an IPv6 address", x)
			}
		}
	}
	return nil
}
