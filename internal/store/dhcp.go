package store

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot"
)

// DiscoveryNote marks an address IPAM handed to a discovered machine from
// a DHCP discovery range.
const DiscoveryNote = "dhcp discovery"

// DHCP is the DHCP server's view of IPAM: the address a MAC gets inside a
// subnet, discovery of unknown machines, and lease records. It implements
// the host and lease stores of netboot/dhcp4d.
type DHCP struct {
	db *DB
	g  *gorm.DB // with a prepared statement cache: the same few statements run for every packet
	// wmu serialises this store's writes on SQLite. SQLite takes one
	// writer at a time anyway; writers that queue here instead of in
	// SQLite's busy handler (which sleeps in growing steps) keep a burst of
	// DHCP packets from turning into seconds of delay.
	wmu sync.Mutex
}

// writing holds the SQLite write lock of the store (no-op on PostgreSQL).
func (s *DHCP) writing() func() {
	if s.db.IsPostgres() {
		return func() {}
	}
	s.wmu.Lock()
	return s.wmu.Unlock
}

// DHCP returns the DHCP store. Make one and keep it: it caches its
// prepared statements.
func (d *DB) DHCP() *DHCP {
	return &DHCP{db: d, g: d.gorm.Session(&gorm.Session{PrepareStmt: true})}
}

type hostRow struct {
	ServerID   int64      `gorm:"column:server_id"`
	ServerName string     `gorm:"column:server_name"`
	IsNew      bool       `gorm:"column:is_new"`
	MainIPv4   *int64     `gorm:"column:main_ipv4"`
	IPID       *int64     `gorm:"column:ip_id"`
	IP         *string    `gorm:"column:ip"`
	NetID      *int64     `gorm:"column:ipnet_id"`
	Note       *string    `gorm:"column:note"`
	NetName    *string    `gorm:"column:net_name"`
	Gateway    *string    `gorm:"column:gateway"`
	LeaseID    *int64     `gorm:"column:lease_id"`
	LeaseMAC   *string    `gorm:"column:lease_mac"`
	LeaseState *string    `gorm:"column:lease_state"`
	Dynamic    *bool      `gorm:"column:lease_dynamic"`
	ExpiresAt  *time.Time `gorm:"column:lease_expires_at"`
	Relay      *string    `gorm:"column:lease_relay"`
	CircuitID  *string    `gorm:"column:lease_circuit_id"`
	RemoteID   *string    `gorm:"column:lease_remote_id"`
	ClientID   *string    `gorm:"column:lease_client_id"`
	Hostname   *string    `gorm:"column:lease_hostname"`
	UpdatedAt  *time.Time `gorm:"column:lease_updated_at"`
}

// hostQuery runs for every packet. Its second condition on s.mac repeats
// the predicate of the partial unique index servers_mac (a MAC is set), so
// both databases use that index for a bound parameter instead of scanning
// every server.
const hostQuery = `SELECT s.id AS server_id, s.name AS server_name, s.is_new, s.main_ipv4,
	i.id AS ip_id, i.name AS ip, i.ipnet_id, i.note, n.name AS net_name, n.gateway,
	l.id AS lease_id, l.mac AS lease_mac, l.state AS lease_state, l.dynamic AS lease_dynamic, l.expires_at AS lease_expires_at,
	l.relay AS lease_relay, l.circuit_id AS lease_circuit_id, l.remote_id AS lease_remote_id, l.client_id AS lease_client_id,
	l.hostname AS lease_hostname, l.updated_at AS lease_updated_at
	FROM servers s
	LEFT JOIN ips i ON i.server_id = s.id AND i.family = 4 AND i.status = 'ok'
	LEFT JOIN ipnets n ON n.id = i.ipnet_id
	LEFT JOIN dhcp_leases l ON l.ip_id = i.id
	WHERE s.mac = ? AND s.mac <> ''
	ORDER BY i.id`

// Host finds the IPv4 address IPAM holds for the server whose MAC is mac,
// inside subnet: the server's main IPv4 address when it is inside, else
// its lowest-numbered one there. Only addresses with status ok count. The
// result has ServerID 0 when no server has the MAC, and an invalid IP when
// the server has no address in the subnet.
func (s *DHCP) Host(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error) {
	return s.host(s.g.WithContext(ctx), mac, subnet)
}

func (s *DHCP) host(tx *gorm.DB, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error) {
	var rows []hostRow
	if err := tx.Raw(hostQuery, mac.String()).Scan(&rows).Error; err != nil {
		return netboot.Host{}, fmt.Errorf("look up host %s: %w", mac, err)
	}
	if len(rows) == 0 {
		return netboot.Host{}, nil
	}
	h := netboot.Host{ServerID: rows[0].ServerID, ServerName: rows[0].ServerName, IsNew: rows[0].IsNew}
	var pick *hostRow
	for i := range rows {
		r := &rows[i]
		if r.IPID == nil || r.IP == nil {
			continue
		}
		a, err := netip.ParseAddr(*r.IP)
		if err != nil || !subnet.Contains(a.Unmap()) {
			continue
		}
		if pick == nil || (r.MainIPv4 != nil && *r.MainIPv4 == *r.IPID) {
			pick = r
		}
	}
	if pick == nil {
		return h, nil
	}
	h.IPID, h.NetID = *pick.IPID, *pick.NetID
	h.IP = netip.MustParseAddr(*pick.IP).Unmap()
	p, err := netip.ParsePrefix(deref(pick.NetName))
	if err != nil {
		return netboot.Host{}, fmt.Errorf("stored network %d: bad prefix %q", h.NetID, deref(pick.NetName))
	}
	h.Prefix = p
	if gw, err := netip.ParseAddr(deref(pick.Gateway)); err == nil {
		h.Gateway = gw
	}
	h.Dynamic = deref(pick.Note) == DiscoveryNote
	if pick.LeaseID != nil {
		l := netboot.Lease{IPID: h.IPID, NetID: h.NetID, ServerID: &h.ServerID, IP: h.IP,
			State: netboot.LeaseState(deref(pick.LeaseState)), Dynamic: pick.Dynamic != nil && *pick.Dynamic,
			CircuitID: deref(pick.CircuitID), RemoteID: deref(pick.RemoteID), ClientID: deref(pick.ClientID),
			Hostname: deref(pick.Hostname)}
		l.MAC, _ = net.ParseMAC(deref(pick.LeaseMAC))
		l.Relay, _ = netip.ParseAddr(deref(pick.Relay))
		if pick.ExpiresAt != nil {
			l.ExpiresAt = pick.ExpiresAt.UTC()
		}
		if pick.UpdatedAt != nil {
			l.UpdatedAt = pick.UpdatedAt.UTC()
		}
		h.Dynamic = h.Dynamic || l.Dynamic
		h.Lease = &l
	}
	return h, nil
}

// discoveryLock serialises discoveries on PostgreSQL (one advisory lock
// key), so two DISCOVERs of one unknown MAC arriving together make one
// server; SQLite's write transaction already does.
const discoveryLock = 0x1A0D4C50

// Discover records an unknown MAC as a new server (is_new, named
// "new-<mac hex>") and gives it the lowest free address of r through IPAM,
// noted DiscoveryNote and made its main IPv4 address. A MAC that already
// belongs to a discovered server reuses that server: it gets its address
// inside subnet back, or a new one from r when it has none (its last one
// was declined). A MAC of an adopted server is a conflict: discovery never
// hands addresses to machines an operator manages. An exhausted range is a
// conflict too. Server, address and lease all commit together or not at
// all.
func (s *DHCP) Discover(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix, r netboot.Range) (netboot.Host, error) {
	if !r.Valid() || !subnet.Contains(r.First) || !subnet.Contains(r.Last) {
		return netboot.Host{}, fault.Invalid("range", "%s is not a range inside %s", r, subnet)
	}
	if len(mac) != 6 {
		return netboot.Host{}, fault.Invalid("mac", "%q is not an Ethernet address", mac.String())
	}
	var out netboot.Host
	m := s.db.IPAM()
	defer s.writing()()
	err := s.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.db.IsPostgres() {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(?, 0)`, int32(discoveryLock)).Error; err != nil {
				return err
			}
		}
		h, err := s.host(tx, mac, subnet)
		if err != nil {
			return err
		}
		if h.ServerID != 0 && !h.IsNew {
			return fault.Conflict("mac %s belongs to server %d, which is not a discovered one", mac, h.ServerID)
		}
		if h.IP.IsValid() {
			out = h
			return nil
		}
		now := time.Now().UTC()
		if h.ServerID == 0 {
			name := "new-" + strings.ReplaceAll(mac.String(), ":", "")
			err := tx.Raw(`INSERT INTO servers (name, mac, is_new, state, power_status, created_at, updated_at)
				VALUES (?, ?, ?, 'ok', 'unknown', ?, ?) RETURNING id`, name, mac.String(), true, now, now).Scan(&h.ServerID).Error
			if err != nil {
				return translate(err, "server "+name, nil)
			}
			h.ServerName, h.IsNew = name, true
		}
		nets, err := m.loadNets(tx, "family = 4 AND type = ?", ipam.TypeActive)
		if err != nil {
			return err
		}
		var nw *parsed
		for i := range nets {
			if nets[i].p.Contains(r.First) && nets[i].p.Contains(r.Last) {
				nw = &nets[i]
			}
		}
		if nw == nil {
			return fault.Invalid("range", "discovery range %s is in no active IPAM network", r)
		}
		if err := m.lockNets(tx, []int64{nw.ID}); err != nil {
			return err
		}
		if err := m.backfill(tx, []int64{nw.ID}); err != nil {
			return err
		}
		addr, ok, err := m.allocIn(tx, *nw, ipam.Range{First: r.First, Last: r.Last})
		if err != nil {
			return err
		}
		if !ok {
			return fault.Conflict("discovery range %s has no free address", r)
		}
		var ipID int64
		err = tx.Raw(`INSERT INTO ips (name, family, ipnet_id, userspace, server_id, domain, status, status_info, note, reserved, permanent,
			sort_key, created_at, updated_at)
			VALUES (?, 4, ?, ?, ?, '', ?, '{}', ?, ?, ?, ?, ?, ?) RETURNING id`,
			addr.String(), nw.ID, nw.Userspace, h.ServerID, ipam.StatusOK, DiscoveryNote, false, false, ipam.Key(addr), now, now).
			Scan(&ipID).Error
		if err != nil {
			return translate(err, "address "+addr.String(), nil)
		}
		if err := tx.Exec(`UPDATE servers SET main_ipv4 = ?, updated_at = ? WHERE id = ? AND main_ipv4 IS NULL`, ipID, now, h.ServerID).Error; err != nil {
			return err
		}
		h.IPID, h.NetID, h.IP, h.Prefix, h.Gateway, h.Dynamic = ipID, nw.ID, addr, nw.p, nw.gw, true
		out = h
		return nil
	})
	if err != nil {
		return netboot.Host{}, fmt.Errorf("discover %s in %s: %w", mac, r, err)
	}
	return out, nil
}

// SaveLease writes the lease of an address (one row per address: a new
// holder replaces the old one, as IPAM decided who holds it).
func (s *DHCP) SaveLease(ctx context.Context, l netboot.Lease) error {
	defer s.writing()()
	return s.saveLease(s.g.WithContext(ctx), l)
}

func (s *DHCP) saveLease(tx *gorm.DB, l netboot.Lease) error {
	switch l.State {
	case netboot.LeaseOffered, netboot.LeaseBound, netboot.LeaseReleased, netboot.LeaseDeclined:
	default:
		return fault.Invalid("state", "unknown lease state %q", l.State)
	}
	if l.IPID == 0 || l.NetID == 0 || !l.IP.Is4() {
		return fault.Invalid("ip", "a lease needs a stored IPv4 address")
	}
	now := time.Now().UTC()
	relay := ""
	if l.Relay.IsValid() {
		relay = l.Relay.String()
	}
	err := tx.Exec(`INSERT INTO dhcp_leases (ip_id, ipnet_id, server_id, mac, ip, state, dynamic, expires_at, relay, circuit_id, remote_id,
		client_id, hostname, created_at, updated_at)
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

// DeclineLease records a DECLINE: another host answers on the address.
// The lease row becomes declined until l.ExpiresAt, which keeps an
// operator-assigned address out of offers for that long. An address from
// a discovery range (l.Dynamic) is taken from its discovered server and
// kept by IPAM as an admin reservation noted with the decline, so it is
// never handed out again until an operator frees it; the machine gets the
// next free address of the range on its next DISCOVER.
func (s *DHCP) DeclineLease(ctx context.Context, l netboot.Lease) error {
	l.State = netboot.LeaseDeclined
	defer s.writing()()
	return s.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if l.Dynamic {
			now := time.Now().UTC()
			if err := clearMain(tx, l.IPID); err != nil {
				return err
			}
			note := fmt.Sprintf("declined by %s over DHCP at %s: another host answers on it", l.MAC, now.Format(time.RFC3339))
			if err := tx.Exec(`UPDATE ips SET server_id = NULL, reserved = ?, note = ?, updated_at = ? WHERE id = ?`,
				true, note, now, l.IPID).Error; err != nil {
				return err
			}
			l.ServerID = nil
		}
		return s.saveLease(tx, l)
	})
}

type leaseRow struct {
	IPID      int64     `gorm:"column:ip_id"`
	IpnetID   int64     `gorm:"column:ipnet_id"`
	ServerID  *int64    `gorm:"column:server_id"`
	MAC       string    `gorm:"column:mac"`
	IP        string    `gorm:"column:ip"`
	State     string    `gorm:"column:state"`
	Dynamic   bool      `gorm:"column:dynamic"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
	Relay     string    `gorm:"column:relay"`
	CircuitID string    `gorm:"column:circuit_id"`
	RemoteID  string    `gorm:"column:remote_id"`
	ClientID  string    `gorm:"column:client_id"`
	Hostname  string    `gorm:"column:hostname"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

// Leases lists the lease records of one MAC, or all with a nil mac, by
// address id.
func (s *DHCP) Leases(ctx context.Context, mac net.HardwareAddr) ([]netboot.Lease, error) {
	q := s.db.gorm.WithContext(ctx).Table("dhcp_leases").Select(`ip_id, ipnet_id, server_id, mac, ip, state, dynamic, expires_at,
		relay, circuit_id, remote_id, client_id, hostname, updated_at`).Order("ip_id")
	if mac != nil {
		q = q.Where("mac = ?", mac.String())
	}
	var rows []leaseRow
	if err := q.Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	out := make([]netboot.Lease, len(rows))
	for i, r := range rows {
		l := netboot.Lease{IPID: r.IPID, NetID: r.IpnetID, ServerID: r.ServerID, State: netboot.LeaseState(r.State),
			Dynamic: r.Dynamic, ExpiresAt: r.ExpiresAt.UTC(), CircuitID: r.CircuitID, RemoteID: r.RemoteID,
			ClientID: r.ClientID, Hostname: r.Hostname, UpdatedAt: r.UpdatedAt.UTC()}
		l.MAC, _ = net.ParseMAC(r.MAC)
		l.IP, _ = netip.ParseAddr(r.IP)
		l.Relay, _ = netip.ParseAddr(r.Relay)
		out[i] = l
	}
	return out, nil
}
