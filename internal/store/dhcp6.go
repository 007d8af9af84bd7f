package store

import (
	"context"
	"fmt"
	"net"
	"net/netip"

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

// host6Query is hostQuery for IPv6 addresses, without leases: the
// dhcp_leases table holds IPv4 leases only (netboot/dhcp6d keeps its
// leases in memory).
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
