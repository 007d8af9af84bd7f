package store

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netboot"
)

type host6Row struct {
	ServerID   int64   `gorm:"column:server_id"`
	ServerName string  `gorm:"column:server_name"`
	IsNew      bool    `gorm:"column:is_new"`
	MainIPv6   *int64  `gorm:"column:main_ipv6"`
	IPID       *int64  `gorm:"column:ip_id"`
	IP         *string `gorm:"column:ip"`
	NetID      *int64  `gorm:"column:ipnet_id"`
	NetName    *string `gorm:"column:net_name"`
	Gateway    *string `gorm:"column:gateway"`
}

// host6Query is hostQuery for IPv6 addresses, without the lease join: the
// DHCPv6 server never reads a lease back.
const host6Query = `SELECT s.id AS server_id, s.name AS server_name, s.is_new, s.main_ipv6,
	i.id AS ip_id, i.name AS ip, i.ipnet_id, n.name AS net_name, n.gateway
	FROM servers s
	LEFT JOIN ips i ON i.server_id = s.id AND i.family = 6 AND i.status = 'ok'
	LEFT JOIN ipnets n ON n.id = i.ipnet_id
	WHERE s.mac = ? AND s.mac <> ''
	ORDER BY i.id`

// Host6 finds the IPv6 address IPAM holds for the server whose MAC is
// mac, inside subnet: the server's main IPv6 address when it is inside,
// else its lowest-numbered one there. Only addresses with status ok
// count. ServerID 0: no server has the MAC; an invalid IP: the server has
// no IPv6 address in the subnet. It implements dhcp6d.Hosts.
func (s *DHCP) Host6(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error) {
	var rows []host6Row
	if err := s.g.WithContext(ctx).Raw(host6Query, mac.String()).Scan(&rows).Error; err != nil {
		return netboot.Host{}, fmt.Errorf("look up IPv6 host %s: %w", mac, err)
	}
	if len(rows) == 0 {
		return netboot.Host{}, nil
	}
	h := netboot.Host{ServerID: rows[0].ServerID, ServerName: rows[0].ServerName, IsNew: rows[0].IsNew}
	var pick *host6Row
	var pickIP netip.Addr
	for i := range rows {
		r := &rows[i]
		if r.IPID == nil || r.IP == nil || r.NetID == nil {
			continue
		}
		a, err := netip.ParseAddr(*r.IP)
		if err != nil || !a.Is6() || a.Is4In6() || !subnet.Contains(a) {
			continue
		}
		if pick == nil || (r.MainIPv6 != nil && *r.MainIPv6 == *r.IPID) {
			pick, pickIP = r, a
		}
	}
	if pick == nil {
		return h, nil
	}
	h.IPID, h.NetID, h.IP = *pick.IPID, *pick.NetID, pickIP
	p, err := netip.ParsePrefix(deref(pick.NetName))
	if err != nil {
		return netboot.Host{}, fmt.Errorf("stored network %d: bad prefix %q", h.NetID, deref(pick.NetName))
	}
	h.Prefix = p
	if gw, err := netip.ParseAddr(deref(pick.Gateway)); err == nil {
		h.Gateway = gw
	}
	return h, nil
}

// SaveLease6 writes the lease of an IPv6 address into dhcp_leases, the
// table of the v4 leases: it is keyed by the IPAM address (ip_id) and
// holds any family, so one address still has one row and the row goes
// with the address when IPAM frees it. Relay is the relay's link address,
// CircuitID its interface-id. It implements dhcp6d.Leases.
func (s *DHCP) SaveLease6(ctx context.Context, l netboot.Lease) error {
	switch l.State {
	case netboot.LeaseOffered, netboot.LeaseBound, netboot.LeaseReleased, netboot.LeaseDeclined:
	default:
		return fault.Invalid("state", "unknown lease state %q", l.State)
	}
	if l.IPID == 0 || l.NetID == 0 || !l.IP.Is6() || l.IP.Is4In6() {
		return fault.Invalid("ip", "a DHCPv6 lease needs a stored IPv6 address")
	}
	defer s.writing()()
	now := time.Now().UTC()
	relay := ""
	if l.Relay.IsValid() {
		relay = l.Relay.String()
	}
	err := s.g.WithContext(ctx).Exec(`INSERT INTO dhcp_leases (ip_id, ipnet_id, server_id, mac, ip, state, dynamic, expires_at, relay,
		circuit_id, remote_id, client_id, hostname, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ip_id) DO UPDATE SET ipnet_id = excluded.ipnet_id, server_id = excluded.server_id, mac = excluded.mac,
			ip = excluded.ip, state = excluded.state, dynamic = excluded.dynamic, expires_at = excluded.expires_at,
			relay = excluded.relay, circuit_id = excluded.circuit_id, remote_id = excluded.remote_id,
			client_id = excluded.client_id, hostname = excluded.hostname, updated_at = excluded.updated_at`,
		l.IPID, l.NetID, l.ServerID, l.MAC.String(), l.IP.String(), string(l.State), l.Dynamic, l.ExpiresAt.UTC(), relay,
		l.CircuitID, l.RemoteID, l.ClientID, l.Hostname, now, now).Error
	if err != nil {
		return fmt.Errorf("save lease of %s: %w", l.IP, translate(err, "lease", l.IP))
	}
	return nil
}
