package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/netboot"
	"github.com/dcimd/dcimd/internal/netboot/dhcp4d"
	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
	"github.com/dcimd/dcimd/internal/netboot/httpboot"
	"github.com/dcimd/dcimd/internal/netboot/tftpd"
	"github.com/dcimd/dcimd/internal/store"
)

// debianIPXE is where Debian's ipxe package puts the loaders; TFTP serves
// them after the configured root, so a stock install boots without
// `make netboot`.
const debianIPXE = "/usr/lib/ipxe"

// netbootServers are the boot servers `dcimd serve` runs.
type netbootServers struct {
	cfg   config.NetbootConfig
	http  *httpboot.Handler
	tftp  *tftpd.Server
	dhcp4 *dhcp4d.Server
	dhcp6 *dhcp6d.Server
}

// startNetboot builds the HTTP boot handler and starts the TFTP and
// DHCPv4 servers that are enabled.
func startNetboot(ctx context.Context, cfg config.NetbootConfig, db *store.DB, log *slog.Logger) (*netbootServers, error) {
	n := &netbootServers{cfg: cfg}
	ho := httpboot.Options{Plans: db.BootPlans(), Events: db.BootTokens(), ImageDir: cfg.ImageDir, BaseURL: cfg.HTTPBaseURL,
		Log: log.With("component", "httpboot")}
	if cfg.TemplateDir != "" {
		ho.Templates = os.DirFS(cfg.TemplateDir)
	}
	n.http = httpboot.New(ho)
	if cfg.TFTP.Enabled {
		roots := []string{cfg.TFTP.Root}
		if st, err := os.Stat(debianIPXE); err == nil && st.IsDir() {
			roots = append(roots, debianIPXE)
		}
		n.tftp = tftpd.New(tftpd.Options{Addr: cfg.TFTP.Listen, Roots: roots, MaxTransfers: cfg.TFTP.MaxTransfers,
			Log: log.With("component", "tftp")})
		if err := n.tftp.Start(ctx); err != nil {
			return nil, fmt.Errorf("tftp on %s: %w", cfg.TFTP.Listen, err)
		}
		log.Info("tftp server started", "listen", n.tftp.Addr().String(), "roots", strings.Join(roots, ","))
	}
	// One DHCP store for both servers: it holds the prepared statements and
	// the lock that queues its SQLite writes.
	leases := db.DHCP()
	if cfg.DHCP4.Enabled {
		o := dhcpOptions(cfg)
		o.Hosts, o.Leases, o.Log = leases, leases, log.With("component", "dhcp4")
		var err error
		if n.dhcp4, err = dhcp4d.New(o); err == nil {
			err = n.dhcp4.Start(ctx)
		}
		if err != nil {
			n.dhcp4 = nil
			n.stop(log, time.Second)
			return nil, fmt.Errorf("dhcp4: %w", err)
		}
		log.Info("dhcp4 server started", "interfaces", len(o.Interfaces), "subnets", len(o.Subnets))
	}
	if cfg.DHCP6.Enabled {
		o := dhcp6Options(cfg)
		o.Hosts, o.Leases, o.Log = leases, leases, log.With("component", "dhcp6")
		var err error
		if n.dhcp6, err = dhcp6d.New(o); err == nil {
			err = n.dhcp6.Start(ctx)
		}
		if err != nil {
			n.dhcp6 = nil
			n.stop(log, time.Second)
			return nil, fmt.Errorf("dhcp6: %w", err)
		}
		log.Info("dhcp6 server started", "interfaces", len(o.Interfaces), "subnets", len(o.Subnets))
	}
	return n, nil
}

// dhcpOptions turns the (validated) configuration into server options.
func dhcpOptions(cfg config.NetbootConfig) dhcp4d.Options {
	var o dhcp4d.Options
	for _, f := range cfg.DHCP4.Interfaces {
		i := dhcp4d.Interface{Name: f.Name}
		if f.Address != "" {
			i.Addr = netip.MustParseAddr(f.Address)
		}
		o.Interfaces = append(o.Interfaces, i)
	}
	for _, s := range cfg.DHCP4.Subnets {
		sn := dhcp4d.Subnet{Prefix: netip.MustParsePrefix(s.Prefix), Mode: dhcp4d.Mode(s.Mode), LeaseTime: s.LeaseTime,
			Domain: s.Domain, HTTPBase: cfg.HTTPBaseURL}
		if s.Discovery != "" {
			first, last, _ := strings.Cut(s.Discovery, "-")
			sn.Discovery = netboot.Range{First: netip.MustParseAddr(strings.TrimSpace(first)), Last: netip.MustParseAddr(strings.TrimSpace(last))}
		}
		for _, d := range s.DNS {
			sn.DNS = append(sn.DNS, netip.MustParseAddr(d))
		}
		if s.Router != "" {
			sn.Router = netip.MustParseAddr(s.Router)
		}
		if s.NextServer != "" {
			sn.NextServer = netip.MustParseAddr(s.NextServer)
		}
		o.Subnets = append(o.Subnets, sn)
	}
	return o
}

// dhcp6Options turns the (validated) configuration into server options.
func dhcp6Options(cfg config.NetbootConfig) dhcp6d.Options {
	var o dhcp6d.Options
	for _, f := range cfg.DHCP6.Interfaces {
		i := dhcp6d.Interface{Name: f.Name}
		if f.Address != "" {
			i.Addr = netip.MustParseAddr(f.Address)
		}
		o.Interfaces = append(o.Interfaces, i)
	}
	for _, s := range cfg.DHCP6.Subnets {
		sn := dhcp6d.Subnet{Prefix: netip.MustParsePrefix(s.Prefix), PreferredLifetime: s.PreferredLifetime,
			ValidLifetime: s.ValidLifetime, HTTPBase: cfg.HTTPBaseURL}
		for _, d := range s.DNS {
			sn.DNS = append(sn.DNS, netip.MustParseAddr(d))
		}
		o.Subnets = append(o.Subnets, sn)
	}
	return o
}

// collectors are the boot servers' metrics.
func (n *netbootServers) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{n.http}
	if n.tftp != nil {
		cs = append(cs, n.tftp.Collector())
	}
	if n.dhcp4 != nil {
		cs = append(cs, n.dhcp4.Collector())
	}
	if n.dhcp6 != nil {
		cs = append(cs, n.dhcp6.Collector())
	}
	return cs
}

// Status is GET /api/dci/v3/netboot/status.
func (n *netbootServers) Status() map[string]any {
	out := map[string]any{"http_base_url": n.cfg.HTTPBaseURL, "image_dir": n.cfg.ImageDir,
		"tftp": map[string]any{"enabled": false}, "dhcp4": map[string]any{"enabled": false}, "dhcp6": map[string]any{"enabled": false}}
	if n.tftp != nil {
		out["tftp"] = map[string]any{"enabled": true, "listen": n.tftp.Addr().String(), "stats": n.tftp.Stats()}
	}
	if n.dhcp4 != nil {
		addrs := []string{}
		for _, a := range n.dhcp4.Addrs() {
			addrs = append(addrs, a.String())
		}
		out["dhcp4"] = map[string]any{"enabled": true, "listen": addrs, "stats": n.dhcp4.Stats()}
	}
	if n.dhcp6 != nil {
		addrs := []string{}
		for _, a := range n.dhcp6.Addrs() {
			addrs = append(addrs, a.String())
		}
		out["dhcp6"] = map[string]any{"enabled": true, "listen": addrs, "stats": n.dhcp6.Stats()}
	}
	return out
}

// stop shuts the UDP servers down, bounded.
func (n *netbootServers) stop(log *slog.Logger, timeout time.Duration) {
	if n.dhcp6 != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if err := n.dhcp6.Shutdown(ctx); err != nil {
			log.Warn("stop dhcp6 server", "err", err)
		}
		cancel()
	}
	if n.dhcp4 != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if err := n.dhcp4.Shutdown(ctx); err != nil {
			log.Warn("stop dhcp4 server", "err", err)
		}
		cancel()
	}
	if n.tftp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), max(timeout, n.tftp.DrainTimeout()))
		if err := n.tftp.Shutdown(ctx); err != nil {
			log.Warn("stop tftp server", "err", err)
		}
		cancel()
	}
}
