package store

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/ipam"
)

// IPAM keeps networks, pools and addresses. Allocation reads only allocated
// rows (ordered by ips.sort_key) and runs under a lock on the networks
// involved: SELECT ... FOR UPDATE on PostgreSQL, the write transaction
// (BEGIN IMMEDIATE) on SQLite.
type IPAM struct{ db *DB }

// IPAM returns the address manager.
func (d *DB) IPAM() *IPAM { return &IPAM{db: d} }

type netRow struct {
	ID        int64
	Name      string
	Family    int
	PrefixLen int
	Gateway   string
	VLAN      string `gorm:"column:vlan"`
	Note      string
	Userspace int64
	Type      string
	FreeHint  string
}

// parsed is a network row with its prefix and gateway read.
type parsed struct {
	netRow
	p    netip.Prefix
	gw   netip.Addr
	hint netip.Addr // all allocatable addresses below it are stored
}

func parseNet(r netRow) (parsed, error) {
	p, err := netip.ParsePrefix(r.Name)
	if err != nil {
		return parsed{}, fmt.Errorf("stored network %d: bad prefix %q", r.ID, r.Name)
	}
	out := parsed{netRow: r, p: p.Masked()}
	if r.Gateway != "" {
		out.gw, _ = netip.ParseAddr(r.Gateway)
	}
	if r.FreeHint != "" {
		out.hint, _ = ipam.FromKey(r.FreeHint, r.Family)
	}
	return out, nil
}

// allocatable are the spans of n handed out: the usable range without the
// gateway, clipped to within (when valid).
func (n parsed) allocatable(within ipam.Range) []ipam.Range {
	u, ok := ipam.Usable(n.p)
	if !ok {
		return nil
	}
	if within.Valid() {
		if u, ok = u.Intersect(within); !ok {
			return nil
		}
	}
	if !n.gw.IsValid() || !u.Contains(n.gw) {
		return []ipam.Range{u}
	}
	var out []ipam.Range
	if u.First != n.gw {
		out = append(out, ipam.Range{First: u.First, Last: n.gw.Prev()})
	}
	if u.Last != n.gw {
		out = append(out, ipam.Range{First: n.gw.Next(), Last: u.Last})
	}
	return out
}

func sizeOf(rs []ipam.Range) *big.Int {
	n := new(big.Int)
	for _, r := range rs {
		n.Add(n, r.Size())
	}
	return n
}

const netCols = "id, name, family, prefix_len, gateway, vlan, note, userspace, type, free_hint"

func (m *IPAM) loadNets(tx *gorm.DB, where string, args ...any) ([]parsed, error) {
	var rows []netRow
	q := tx.Table("ipnets").Select(netCols).Order("id")
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]parsed, 0, len(rows))
	for _, r := range rows {
		p, err := parseNet(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// lockNets serialises allocations in the networks (ascending ids, so two
// transactions never wait on each other crosswise). SQLite's write
// transaction already holds the database lock.
func (m *IPAM) lockNets(tx *gorm.DB, ids []int64) error {
	if !m.db.IsPostgres() || len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var got []int64
	return tx.Raw(`SELECT id FROM ipnets WHERE id IN ? ORDER BY id FOR UPDATE`, ids).Scan(&got).Error
}

// lockLoadNets locks the networks (PostgreSQL: FOR UPDATE) and reads them
// in one statement.
func (m *IPAM) lockLoadNets(tx *gorm.DB, ids []int64) ([]parsed, error) {
	if !m.db.IsPostgres() {
		return m.loadNets(tx, "id IN ?", ids)
	}
	var rows []netRow
	if err := tx.Raw(`SELECT `+netCols+` FROM ipnets WHERE id IN ? ORDER BY id FOR UPDATE`, ids).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]parsed, 0, len(rows))
	for _, r := range rows {
		p, err := parseNet(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// lockSpace serialises changes to the set of networks or pools of one
// userspace (overlap checks) on PostgreSQL.
func (m *IPAM) lockSpace(tx *gorm.DB, kind int64, userspace int64) error {
	if !m.db.IsPostgres() {
		return nil
	}
	return tx.Exec(`SELECT pg_advisory_xact_lock(?, ?)`, int32(0x1A0A0000+kind), int32(userspace)).Error
}

// backfill fills sort keys of rows written without one (older rows, rows
// inserted by hand), for the networks given or all.
func (m *IPAM) backfill(tx *gorm.DB, netIDs []int64) error {
	type r struct {
		ID     int64
		Name   string
		Family int
	}
	var rows []r
	q := tx.Table("ips").Select("id, name, family").Where("sort_key = ''")
	if netIDs != nil {
		q = q.Where("ipnet_id IN ?", netIDs)
	}
	if err := q.Find(&rows).Error; err != nil {
		return err
	}
	for _, x := range rows {
		a, err := netip.ParseAddr(x.Name)
		if err != nil {
			continue
		}
		if err := tx.Table("ips").Where("id = ?", x.ID).Update("sort_key", ipam.Key(a.Unmap())).Error; err != nil {
			return err
		}
	}
	return nil
}

func (m *IPAM) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return m.db.gorm.WithContext(ctx).Transaction(fn)
}

// ---- networks ----

func validType(t string) (string, error) {
	switch t {
	case "", ipam.TypeActive:
		return ipam.TypeActive, nil
	case ipam.TypeContainer:
		return t, nil
	}
	return "", fault.Invalid("type", "must be %q or %q, not %q", ipam.TypeActive, ipam.TypeContainer, t)
}

func checkGateway(p netip.Prefix, gw string) (string, error) {
	if gw == "" {
		return "", nil
	}
	a, err := ipam.ParseAddr(gw)
	if err != nil {
		return "", fault.Invalid("gateway", "%v", err)
	}
	u, _ := ipam.Usable(p)
	if !u.Contains(a) {
		return "", fault.Invalid("gateway", "%s is not a usable address of %s", a, p)
	}
	return a.String(), nil
}

// CreateNet validates and stores a network; it fills in n's id, family and
// counts. Overlapping active networks in one userspace are refused, and
// networks must nest (no partial overlap).
func (m *IPAM) CreateNet(ctx context.Context, n *ipam.Net) error {
	p, err := ipam.ParsePrefix(n.Name)
	if err != nil {
		return fault.Invalid("name", "%v", err)
	}
	typ, err := validType(n.Type)
	if err != nil {
		return err
	}
	gw, err := checkGateway(p, n.Gateway)
	if err != nil {
		return err
	}
	if n.Userspace == 0 {
		n.Userspace = 1
	}
	n.Name, n.Family, n.PrefixLen, n.Type, n.Gateway = p.String(), ipam.Family(p.Addr()), p.Bits(), typ, gw
	err = m.tx(ctx, func(tx *gorm.DB) error {
		if err := m.lockSpace(tx, 1, n.Userspace); err != nil {
			return err
		}
		nets, err := m.loadNets(tx, "userspace = ? AND family = ?", n.Userspace, n.Family)
		if err != nil {
			return err
		}
		if err := checkOverlap(nets, p, typ, 0); err != nil {
			return err
		}
		now := time.Now().UTC()
		var id int64
		err = tx.Raw(`INSERT INTO ipnets (name, family, prefix_len, gateway, vlan, note, userspace, type, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			n.Name, n.Family, n.PrefixLen, n.Gateway, n.VLAN, n.Note, n.Userspace, n.Type, now, now).Scan(&id).Error
		if err != nil {
			return translate(err, "network", nil)
		}
		n.ID = id
		return nil
	})
	if err != nil {
		return err
	}
	got, err := m.GetNet(ctx, n.ID)
	if err == nil {
		*n = got
	}
	return err
}

func checkOverlap(nets []parsed, p netip.Prefix, typ string, self int64) error {
	for _, o := range nets {
		if o.ID == self || !o.p.Overlaps(p) {
			continue
		}
		if o.p == p && o.Type == typ {
			return fault.Conflict("network %s already exists", p)
		}
		nested := o.p.Bits() != p.Bits() && (o.p.Contains(p.Addr()) || p.Contains(o.p.Addr()))
		if !nested && o.p != p {
			return fault.Invalid("name", "%s overlaps network %s", p, o.p)
		}
		if typ == ipam.TypeActive && o.Type == ipam.TypeActive {
			return fault.Invalid("name", "%s overlaps active network %s", p, o.p)
		}
		if o.p == p {
			return fault.Invalid("name", "network %s already exists as %s", p, o.Type)
		}
		// An active network only nests inside containers.
		if o.Type == ipam.TypeActive && o.p.Bits() < p.Bits() || typ == ipam.TypeActive && p.Bits() < o.p.Bits() {
			return fault.Invalid("name", "%s overlaps active network %s", p, o.p)
		}
	}
	return nil
}

// NetPatch changes a network; nil fields stay.
type NetPatch struct {
	Gateway, VLAN, Note *string
}

// UpdateNet edits gateway, vlan and note.
func (m *IPAM) UpdateNet(ctx context.Context, id int64, patch NetPatch) (ipam.Net, error) {
	err := m.tx(ctx, func(tx *gorm.DB) error {
		if err := m.lockNets(tx, []int64{id}); err != nil {
			return err
		}
		nets, err := m.loadNets(tx, "id = ?", id)
		if err != nil {
			return err
		}
		if len(nets) == 0 {
			return fault.NotFound("network", id)
		}
		n := nets[0]
		set := map[string]any{"updated_at": time.Now().UTC()}
		if patch.Gateway != nil {
			gw, err := checkGateway(n.p, *patch.Gateway)
			if err != nil {
				return err
			}
			if gw != "" && gw != n.Gateway {
				var used int64
				if err := tx.Table("ips").Where("ipnet_id = ? AND name = ?", id, gw).Count(&used).Error; err != nil {
					return err
				}
				if used > 0 {
					return fault.Conflict("gateway %s is an allocated address of network %s", gw, n.Name)
				}
			}
			set["gateway"] = gw
		}
		if patch.VLAN != nil {
			set["vlan"] = *patch.VLAN
		}
		if patch.Note != nil {
			set["note"] = *patch.Note
		}
		return tx.Table("ipnets").Where("id = ?", id).Updates(set).Error
	})
	if err != nil {
		return ipam.Net{}, err
	}
	return m.GetNet(ctx, id)
}

// DeleteNet removes a network without addresses or pool ranges.
func (m *IPAM) DeleteNet(ctx context.Context, id int64) error {
	return m.tx(ctx, func(tx *gorm.DB) error {
		if err := m.lockNets(tx, []int64{id}); err != nil {
			return err
		}
		nets, err := m.loadNets(tx, "id = ?", id)
		if err != nil {
			return err
		}
		if len(nets) == 0 {
			return fault.NotFound("network", id)
		}
		var n int64
		if err := tx.Table("ips").Where("ipnet_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fault.Conflict("network %s has %d allocated or reserved addresses", nets[0].Name, n)
		}
		if err := tx.Table("ippool_ranges").Where("ipnet_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fault.Conflict("network %s has %d pool ranges", nets[0].Name, n)
		}
		return translate(tx.Exec(`DELETE FROM ipnets WHERE id = ?`, id).Error, "network", id)
	})
}

// GetNet reads one network with its counts.
func (m *IPAM) GetNet(ctx context.Context, id int64) (ipam.Net, error) {
	all, err := m.ListNets(ctx, 0)
	if err != nil {
		return ipam.Net{}, err
	}
	for _, n := range all {
		if n.ID == id {
			return n, nil
		}
	}
	return ipam.Net{}, fault.NotFound("network", id)
}

// ListNets reads the networks (of one userspace, or all with 0), each with
// its parent and exact counts; a container counts its active descendants.
func (m *IPAM) ListNets(ctx context.Context, userspace int64) ([]ipam.Net, error) {
	tx := m.db.gorm.WithContext(ctx)
	var nets []parsed
	var err error
	if userspace != 0 {
		nets, err = m.loadNets(tx, "userspace = ?", userspace)
	} else {
		nets, err = m.loadNets(tx, "")
	}
	if err != nil {
		return nil, err
	}
	type cnt struct {
		IPNetID int64 `gorm:"column:ipnet_id"`
		N       int64
	}
	var counts []cnt
	if err := tx.Table("ips").Select("ipnet_id, COUNT(*) AS n").Group("ipnet_id").Find(&counts).Error; err != nil {
		return nil, err
	}
	using := map[int64]int64{}
	for _, c := range counts {
		using[c.IPNetID] = c.N
	}
	out := make([]ipam.Net, len(nets))
	for i, n := range nets {
		v := ipam.Net{ID: n.ID, Name: n.Name, Family: n.Family, PrefixLen: n.PrefixLen, Gateway: n.Gateway, VLAN: n.VLAN,
			Note: n.Note, Userspace: n.Userspace, Type: n.Type, Size: ipam.PrefixSize(n.p)}
		var parent *parsed
		for j := range nets {
			o := &nets[j]
			if o.ID != n.ID && o.Userspace == n.Userspace && o.p.Bits() < n.p.Bits() && o.p.Contains(n.p.Addr()) &&
				(parent == nil || o.p.Bits() > parent.p.Bits()) {
				parent = o
			}
		}
		if parent != nil {
			v.Parent = &parent.ID
		}
		u, t := big.NewInt(0), big.NewInt(0)
		for _, o := range nets {
			if o.Type == ipam.TypeActive && o.Userspace == n.Userspace && n.p.Bits() <= o.p.Bits() && n.p.Contains(o.p.Addr()) &&
				(o.ID == n.ID || n.Type == ipam.TypeContainer) {
				u.Add(u, big.NewInt(using[o.ID]))
				t.Add(t, sizeOf(o.allocatable(ipam.Range{})))
			}
		}
		v.Using, v.Total = u.String(), t.String()
		out[i] = v
	}
	return out, nil
}

// ---- pools ----

// CreatePool stores a pool with its ranges ("first-last", a CIDR or one
// address, each inside one active network of the pool's userspace).
func (m *IPAM) CreatePool(ctx context.Context, p *ipam.Pool, ranges []string) error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return fault.Invalid("name", "is required")
	}
	if p.Userspace == 0 {
		p.Userspace = 1
	}
	parsedRanges := make([]ipam.Range, 0, len(ranges))
	for _, s := range ranges {
		r, err := ipam.ParseRange(s)
		if err != nil {
			return fault.Invalid("ranges", "%v", err)
		}
		parsedRanges = append(parsedRanges, r)
	}
	err := m.tx(ctx, func(tx *gorm.DB) error {
		if err := m.lockSpace(tx, 2, p.Userspace); err != nil {
			return err
		}
		now := time.Now().UTC()
		var id int64
		err := tx.Raw(`INSERT INTO ippools (name, note, is_public, userspace, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, p.Name, p.Note, p.IsPublic, p.Userspace, now, now).Scan(&id).Error
		if err != nil {
			return translate(err, "pool", nil)
		}
		p.ID = id
		for _, r := range parsedRanges {
			if _, err := m.addRange(tx, id, p.Userspace, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	got, err := m.GetPool(ctx, p.ID)
	if err == nil {
		*p = got
	}
	return err
}

// AddRange adds a range to a pool.
func (m *IPAM) AddRange(ctx context.Context, poolID int64, s string) (ipam.PoolRange, error) {
	r, err := ipam.ParseRange(s)
	if err != nil {
		return ipam.PoolRange{}, fault.Invalid("name", "%v", err)
	}
	var out ipam.PoolRange
	err = m.tx(ctx, func(tx *gorm.DB) error {
		var us []int64
		if err := tx.Table("ippools").Where("id = ?", poolID).Pluck("userspace", &us).Error; err != nil {
			return err
		}
		if len(us) == 0 {
			return fault.NotFound("pool", poolID)
		}
		if err := m.lockSpace(tx, 2, us[0]); err != nil {
			return err
		}
		out, err = m.addRange(tx, poolID, us[0], r)
		return err
	})
	return out, err
}

func (m *IPAM) addRange(tx *gorm.DB, poolID, userspace int64, r ipam.Range) (ipam.PoolRange, error) {
	fam := ipam.Family(r.First)
	nets, err := m.loadNets(tx, "userspace = ? AND family = ? AND type = ?", userspace, fam, ipam.TypeActive)
	if err != nil {
		return ipam.PoolRange{}, err
	}
	var net *parsed
	for i := range nets {
		if r.Within(ipam.PrefixRange(nets[i].p)) {
			net = &nets[i]
		}
	}
	if net == nil {
		return ipam.PoolRange{}, fault.Invalid("ranges", "%s is not inside one active network", r)
	}
	type rr struct {
		ID        int64
		FirstAddr string
		LastAddr  string
	}
	var others []rr
	if err := tx.Table("ippool_ranges").Select("id, first_addr, last_addr").Where("ipnet_id = ?", net.ID).Find(&others).Error; err != nil {
		return ipam.PoolRange{}, err
	}
	for _, o := range others {
		f, _ := netip.ParseAddr(o.FirstAddr)
		l, _ := netip.ParseAddr(o.LastAddr)
		if (ipam.Range{First: f, Last: l}).Overlaps(r) {
			return ipam.PoolRange{}, fault.Invalid("ranges", "%s overlaps pool range %s-%s", r, o.FirstAddr, o.LastAddr)
		}
	}
	var id int64
	err = tx.Raw(`INSERT INTO ippool_ranges (ippool_id, ipnet_id, family, first_addr, last_addr, first_key, last_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, poolID, net.ID, fam, r.First.String(), r.Last.String(),
		ipam.Key(r.First), ipam.Key(r.Last), time.Now().UTC()).Scan(&id).Error
	if err != nil {
		return ipam.PoolRange{}, translate(err, "pool range", nil)
	}
	return ipam.PoolRange{ID: id, PoolID: poolID, NetID: net.ID, Family: fam, Name: r.String()}, nil
}

// DeleteRange removes one range of a pool.
func (m *IPAM) DeleteRange(ctx context.Context, poolID, rangeID int64) error {
	res := m.db.gorm.WithContext(ctx).Exec(`DELETE FROM ippool_ranges WHERE id = ? AND ippool_id = ?`, rangeID, poolID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fault.NotFound("pool range", rangeID)
	}
	return nil
}

// UpdatePool edits name, note and is_public (nil stays).
func (m *IPAM) UpdatePool(ctx context.Context, id int64, name, note *string, isPublic *bool) (ipam.Pool, error) {
	set := map[string]any{"updated_at": time.Now().UTC()}
	if name != nil {
		if strings.TrimSpace(*name) == "" {
			return ipam.Pool{}, fault.Invalid("name", "is required")
		}
		set["name"] = strings.TrimSpace(*name)
	}
	if note != nil {
		set["note"] = *note
	}
	if isPublic != nil {
		set["is_public"] = *isPublic
	}
	res := m.db.gorm.WithContext(ctx).Table("ippools").Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return ipam.Pool{}, translate(res.Error, "pool", id)
	}
	if res.RowsAffected == 0 {
		return ipam.Pool{}, fault.NotFound("pool", id)
	}
	return m.GetPool(ctx, id)
}

// DeletePool removes a pool and its ranges (addresses stay).
func (m *IPAM) DeletePool(ctx context.Context, id int64) error {
	res := m.db.gorm.WithContext(ctx).Exec(`DELETE FROM ippools WHERE id = ?`, id)
	if res.Error != nil {
		return translate(res.Error, "pool", id)
	}
	if res.RowsAffected == 0 {
		return fault.NotFound("pool", id)
	}
	return nil
}

// AttachPool makes a location's (locationID set) or a rack's pool.
func (m *IPAM) AttachPool(ctx context.Context, poolID int64, locationID, rackID *int64) (ipam.PoolPlace, error) {
	if (locationID == nil) == (rackID == nil) {
		return ipam.PoolPlace{}, fault.Invalid("location", "give exactly one of a location and a rack")
	}
	var id int64
	err := m.tx(ctx, func(tx *gorm.DB) error {
		for _, c := range []struct {
			table, field, what string
			id                 *int64
		}{{"ippools", "id", "pool", &poolID}, {"locations", "location", "location", locationID}, {"racks", "rack", "rack", rackID}} {
			if c.id == nil {
				continue
			}
			var n int64
			if err := tx.Table(c.table).Where("id = ?", *c.id).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 && c.what == "pool" {
				return fault.NotFound("pool", poolID)
			}
			if n == 0 {
				return fault.Invalid(c.field, "%s %d does not exist", c.what, *c.id)
			}
		}
		err := tx.Raw(`INSERT INTO ippool_places (ippool_id, location_id, rack_id, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			poolID, locationID, rackID, time.Now().UTC()).Scan(&id).Error
		if e := translate(err, "pool attachment", nil); errors.Is(e, fault.ErrConflict) {
			return fault.Conflict("pool %d is already attached there", poolID)
		}
		return err
	})
	return ipam.PoolPlace{ID: id, LocationID: locationID, RackID: rackID}, err
}

// PlacePools lists the pools of a rack and of a location (by id), for the
// default allocation order rack, location, public.
func (m *IPAM) PlacePools(ctx context.Context, rackID, locationID *int64) (rack, location, public []int64, err error) {
	g := m.db.gorm.WithContext(ctx)
	if rackID != nil {
		if err = g.Table("ippool_places").Where("rack_id = ?", *rackID).Order("ippool_id").Pluck("ippool_id", &rack).Error; err != nil {
			return
		}
	}
	if locationID != nil {
		if err = g.Table("ippool_places").Where("location_id = ?", *locationID).Order("ippool_id").Pluck("ippool_id", &location).Error; err != nil {
			return
		}
	}
	err = g.Table("ippools").Where("is_public = ?", true).Order("id").Pluck("id", &public).Error
	return
}

type poolRow struct {
	ID        int64
	Name      string
	Note      string
	IsPublic  bool
	Userspace int64
}

type rangeRow struct {
	ID        int64
	IppoolID  int64 `gorm:"column:ippool_id"`
	IpnetID   int64 `gorm:"column:ipnet_id"`
	Family    int
	FirstAddr string
	LastAddr  string
	FirstKey  string
	LastKey   string
	FreeHint  string
}

func (r rangeRow) rng() ipam.Range {
	f, _ := netip.ParseAddr(r.FirstAddr)
	l, _ := netip.ParseAddr(r.LastAddr)
	return ipam.Range{First: f, Last: l}
}

// GetPool reads one pool with ranges and counts.
func (m *IPAM) GetPool(ctx context.Context, id int64) (ipam.Pool, error) {
	ps, err := m.listPools(ctx, "id = ?", id)
	if err != nil {
		return ipam.Pool{}, err
	}
	if len(ps) == 0 {
		return ipam.Pool{}, fault.NotFound("pool", id)
	}
	return ps[0], nil
}

// ListPools reads every pool with ranges and exact counts.
func (m *IPAM) ListPools(ctx context.Context) ([]ipam.Pool, error) { return m.listPools(ctx, "") }

func (m *IPAM) listPools(ctx context.Context, where string, args ...any) ([]ipam.Pool, error) {
	var out []ipam.Pool
	err := m.tx(ctx, func(tx *gorm.DB) error {
		if err := m.backfill(tx, nil); err != nil {
			return err
		}
		var pools []poolRow
		q := tx.Table("ippools").Select("id, name, note, is_public, userspace").Order("id")
		if where != "" {
			q = q.Where(where, args...)
		}
		if err := q.Find(&pools).Error; err != nil {
			return err
		}
		var ranges []rangeRow
		if err := tx.Table("ippool_ranges").Order("id").Find(&ranges).Error; err != nil {
			return err
		}
		var places []struct {
			ID         int64
			IppoolID   int64  `gorm:"column:ippool_id"`
			LocationID *int64 `gorm:"column:location_id"`
			RackID     *int64 `gorm:"column:rack_id"`
		}
		if err := tx.Table("ippool_places").Order("id").Find(&places).Error; err != nil {
			return err
		}
		nets, err := m.loadNets(tx, "")
		if err != nil {
			return err
		}
		byID := map[int64]parsed{}
		for _, n := range nets {
			byID[n.ID] = n
		}
		for _, p := range pools {
			v := ipam.Pool{ID: p.ID, Name: p.Name, Note: p.Note, IsPublic: p.IsPublic, Userspace: p.Userspace, Ranges: []ipam.PoolRange{},
				Places: []ipam.PoolPlace{}}
			for _, pl := range places {
				if pl.IppoolID == p.ID {
					v.Places = append(v.Places, ipam.PoolPlace{ID: pl.ID, LocationID: pl.LocationID, RackID: pl.RackID})
				}
			}
			var u [7]int64
			t := [7]*big.Int{4: new(big.Int), 6: new(big.Int)}
			for _, r := range ranges {
				if r.IppoolID != p.ID {
					continue
				}
				v.Ranges = append(v.Ranges, ipam.PoolRange{ID: r.ID, PoolID: p.ID, NetID: r.IpnetID, Family: r.Family, Name: r.rng().String()})
				var n int64
				if err := tx.Table("ips").Where("ipnet_id = ? AND sort_key BETWEEN ? AND ?", r.IpnetID, r.FirstKey, r.LastKey).
					Count(&n).Error; err != nil {
					return err
				}
				if r.Family == 4 || r.Family == 6 {
					u[r.Family] += n
					t[r.Family].Add(t[r.Family], sizeOf(byID[r.IpnetID].allocatable(r.rng())))
				}
			}
			v.Using4, v.Using6, v.Using = strconv.FormatInt(u[4], 10), strconv.FormatInt(u[6], 10), strconv.FormatInt(u[4]+u[6], 10)
			v.Total4, v.Total6, v.Total = t[4].String(), t[6].String(), new(big.Int).Add(t[4], t[6]).String()
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// ---- addresses ----

const pageSize = 512

// findFree returns the lowest address of r not stored in network netID,
// reading stored keys in pages from the first gap candidate on.
func (m *IPAM) findFree(tx *gorm.DB, netID int64, family int, r ipam.Range) (netip.Addr, bool, error) {
	c := ipam.NewCursor(r)
	last := ipam.Key(r.Last)
	for {
		var keys []string
		if err := tx.Table("ips").Where("ipnet_id = ? AND sort_key >= ? AND sort_key <= ?", netID, ipam.Key(c.Position()), last).
			Order("sort_key").Limit(pageSize).Pluck("sort_key", &keys).Error; err != nil {
			return netip.Addr{}, false, err
		}
		more := true
		for _, k := range keys {
			a, err := ipam.FromKey(k, family)
			if err != nil {
				return netip.Addr{}, false, err
			}
			if more = c.Skip(a); !more {
				break
			}
		}
		if !more || len(keys) < pageSize {
			a, ok := c.Free()
			return a, ok, nil
		}
	}
}

// allocIn finds the lowest free address of n (within a pool range when
// within is valid), starting at the network's hint, and moves the hint on
// when everything below the answer is known to be stored: the cost of an
// allocation then stays flat as the network fills.
func (m *IPAM) allocIn(tx *gorm.DB, n parsed, within ipam.Range) (netip.Addr, bool, error) {
	spans := n.allocatable(within)
	whole, ok := ipam.Usable(n.p)
	if !ok {
		return netip.Addr{}, false, nil
	}
	h := whole.First
	if n.hint.IsValid() && whole.First.Less(n.hint) {
		h = n.hint
	}
	if h == n.gw {
		h = h.Next()
	}
	newHint := h
	var found netip.Addr
	for _, span := range spans {
		st := span.First
		if st.Less(h) {
			st = h
		}
		if span.Last.Less(st) {
			continue
		}
		atHint := st == h
		x, ok, err := m.findFree(tx, n.ID, n.Family, ipam.Range{First: st, Last: span.Last})
		if err != nil {
			return netip.Addr{}, false, err
		}
		if ok {
			found = x
			if atHint {
				newHint = x.Next()
			}
			break
		}
		if atHint {
			h = span.Last.Next()
			if h.IsValid() && h == n.gw {
				h = h.Next()
			}
			if !h.IsValid() {
				break
			}
			newHint = h
		}
	}
	if newHint.IsValid() && newHint != n.hint && (!n.hint.IsValid() || n.hint.Less(newHint)) {
		if err := tx.Exec(`UPDATE ipnets SET free_hint = ? WHERE id = ?`, ipam.Key(newHint), n.ID).Error; err != nil {
			return netip.Addr{}, false, err
		}
	}
	return found, found.IsValid(), nil
}

// Allocate stores one address: the exact one asked for, or the lowest free
// one of a network or a pool. Exhaustion and a taken address are conflicts;
// nothing is stored then.
func (m *IPAM) Allocate(ctx context.Context, a ipam.Alloc) (ipam.IP, error) {
	set := 0
	for _, b := range []bool{a.Name != "", a.NetID != 0, a.PoolID != 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		return ipam.IP{}, fault.Invalid("ip", "give exactly one of an address, a network or a pool")
	}
	if a.Family != 0 && a.Family != 4 && a.Family != 6 {
		return ipam.IP{}, fault.Invalid("family", "must be ipv4 or ipv6")
	}
	if a.Userspace == 0 {
		a.Userspace = 1
	}
	if a.Status == "" {
		a.Status = ipam.StatusOK
	}
	var exact netip.Addr
	if a.Name != "" {
		var err error
		if exact, err = ipam.ParseAddr(a.Name); err != nil {
			return ipam.IP{}, fault.Invalid("ip_name", "%v", err)
		}
		if a.Family != 0 && ipam.Family(exact) != a.Family {
			return ipam.IP{}, fault.Invalid("ip_name", "%s is not an IPv%d address", exact, a.Family)
		}
	}
	var out ipam.IP
	err := m.tx(ctx, func(tx *gorm.DB) error {
		var (
			addr netip.Addr
			net  parsed
		)
		switch {
		case exact.IsValid():
			nets, err := m.loadNets(tx, "userspace = ? AND family = ? AND type = ?", a.Userspace, ipam.Family(exact), ipam.TypeActive)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(nets, func(n parsed) bool { return n.p.Contains(exact) })
			if i < 0 {
				return fault.Invalid("ip_name", "%s is in no active network", exact)
			}
			net = nets[i]
			if err := m.lockNets(tx, []int64{net.ID}); err != nil {
				return err
			}
			ok := false
			for _, r := range net.allocatable(ipam.Range{}) {
				ok = ok || r.Contains(exact)
			}
			if !ok {
				return fault.Invalid("ip_name", "%s is the network, broadcast or gateway address of %s", exact, net.Name)
			}
			addr = exact
		case a.NetID != 0:
			nets, err := m.lockLoadNets(tx, []int64{a.NetID})
			if err != nil {
				return err
			}
			if len(nets) == 0 {
				return fault.NotFound("network", a.NetID)
			}
			net = nets[0]
			if net.Type != ipam.TypeActive {
				return fault.Invalid("ip_net", "network %s is a container", net.Name)
			}
			if a.Family != 0 && net.Family != a.Family {
				return fault.Invalid("ip_net", "network %s is not IPv%d", net.Name, a.Family)
			}
			if err := m.backfill(tx, []int64{net.ID}); err != nil {
				return err
			}
			x, ok, err := m.allocIn(tx, net, ipam.Range{})
			if err != nil {
				return err
			}
			if ok {
				addr = x
			}
			if !addr.IsValid() {
				return fault.Conflict("network %s has no free address", net.Name)
			}
		default:
			var ranges []rangeRow
			q := tx.Table("ippool_ranges").Where("ippool_id = ?", a.PoolID).Order("first_key, id")
			if a.Family != 0 {
				q = q.Where("family = ?", a.Family)
			}
			if err := q.Find(&ranges).Error; err != nil {
				return err
			}
			pools := []poolRow{{Name: fmt.Sprint(a.PoolID)}}
			if len(ranges) == 0 {
				if err := tx.Table("ippools").Select("id, name, note, is_public, userspace").Where("id = ?", a.PoolID).Find(&pools).Error; err != nil {
					return err
				}
				if len(pools) == 0 {
					return fault.NotFound("pool", a.PoolID)
				}
			}
			ids := make([]int64, len(ranges))
			for i, r := range ranges {
				ids[i] = r.IpnetID
			}
			nets, err := m.lockLoadNets(tx, append(ids, 0))
			if err != nil {
				return err
			}
			if err := m.backfill(tx, ids); err != nil {
				return err
			}
		search:
			for _, r := range ranges {
				i := slices.IndexFunc(nets, func(n parsed) bool { return n.ID == r.IpnetID })
				if i < 0 || nets[i].Type != ipam.TypeActive {
					continue
				}
				within := r.rng()
				if r.FreeHint > r.LastKey {
					continue // the range is full
				}
				if r.FreeHint != "" {
					if h, err := ipam.FromKey(r.FreeHint, r.Family); err == nil && within.First.Less(h) {
						if within.Last.Less(h) {
							continue // the range is full
						}
						within.First = h
					}
				}
				x, ok, err := m.allocIn(tx, nets[i], within)
				if err != nil {
					return err
				}
				// Everything of the range below x (or all of it) is stored.
				next := ipam.Key(within.Last) + "~" // above every key: full
				if ok {
					next = ipam.Key(x.Next())
				}
				if err := tx.Exec(`UPDATE ippool_ranges SET free_hint = ? WHERE id = ?`, next, r.ID).Error; err != nil {
					return err
				}
				if ok {
					addr, net = x, nets[i]
					break search
				}
			}
			if !addr.IsValid() {
				if len(ranges) > 0 { // the name, for the message only
					if err := tx.Table("ippools").Select("id, name, note, is_public, userspace").Where("id = ?", a.PoolID).Find(&pools).Error; err != nil {
						return err
					}
				}
				return fault.Conflict("pool %s has no free address", pools[0].Name)
			}
		}
		now := time.Now().UTC()
		var id int64
		err := tx.Raw(`INSERT INTO ips (name, family, ipnet_id, userspace, server_id, domain, status, status_info, note, reserved, permanent,
			sort_key, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?) RETURNING id`,
			addr.String(), net.Family, net.ID, net.Userspace, a.ServerID, a.Domain, a.Status, a.Note, a.Reserved, a.Permanent,
			ipam.Key(addr), now, now).Scan(&id).Error
		if err != nil {
			if e := translate(err, "address", nil); errors.Is(e, fault.ErrConflict) {
				return fault.Conflict("address %s is already in use", addr)
			}
			return err
		}
		if a.SetMain && a.ServerID != nil {
			col := "main_ipv4"
			if net.Family == 6 {
				col = "main_ipv6"
			}
			if err := tx.Exec(`UPDATE servers SET `+col+` = ? WHERE id = ?`, id, *a.ServerID).Error; err != nil {
				return err
			}
		}
		out = ipam.IP{ID: id, Name: addr.String(), Family: net.Family, NetID: net.ID, Userspace: net.Userspace, ServerID: a.ServerID,
			Domain: a.Domain, Status: a.Status, Note: a.Note, Reserved: a.Reserved, Permanent: a.Permanent}
		return nil
	})
	return out, err
}

// GetIP reads one address.
func (m *IPAM) GetIP(ctx context.Context, id int64) (ipam.IP, error) {
	var rows []struct {
		ID        int64
		Name      string
		Family    int
		IpnetID   int64 `gorm:"column:ipnet_id"`
		Userspace int64
		ServerID  *int64
		Domain    string
		Status    string
		Note      string
		Reserved  bool
		Permanent bool
	}
	if err := m.db.gorm.WithContext(ctx).Table("ips").Where("id = ?", id).Find(&rows).Error; err != nil {
		return ipam.IP{}, err
	}
	if len(rows) == 0 {
		return ipam.IP{}, fault.NotFound("ip", id)
	}
	r := rows[0]
	return ipam.IP{ID: r.ID, Name: r.Name, Family: r.Family, NetID: r.IpnetID, Userspace: r.Userspace, ServerID: r.ServerID,
		Domain: r.Domain, Status: r.Status, Note: r.Note, Reserved: r.Reserved, Permanent: r.Permanent}, nil
}

// SetStatus changes an address's status (and status_info, when not empty).
func (m *IPAM) SetStatus(ctx context.Context, id int64, status, info string) error {
	set := map[string]any{"status": status, "updated_at": time.Now().UTC()}
	if info != "" {
		set["status_info"] = info
	}
	res := m.db.gorm.WithContext(ctx).Table("ips").Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fault.NotFound("ip", id)
	}
	return nil
}

// Release removes an address; it is free for the next allocation at once.
// A server's main_ipv4/main_ipv6 pointing at it are cleared.
func (m *IPAM) Release(ctx context.Context, id int64) error {
	return m.tx(ctx, func(tx *gorm.DB) error {
		if err := clearMain(tx, id); err != nil {
			return err
		}
		var rows []struct {
			IpnetID int64 `gorm:"column:ipnet_id"`
			Name    string
		}
		if err := tx.Table("ips").Select("ipnet_id, name").Where("id = ?", id).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fault.NotFound("ip", id)
		}
		res := tx.Exec(`DELETE FROM ips WHERE id = ?`, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.NotFound("ip", id)
		}
		if a, err := netip.ParseAddr(rows[0].Name); err == nil {
			k := ipam.Key(a.Unmap())
			if err := tx.Exec(`UPDATE ipnets SET free_hint = ? WHERE id = ? AND free_hint > ?`, k, rows[0].IpnetID, k).Error; err != nil {
				return err
			}
			return lowerRangeHints(tx, rows[0].IpnetID, k)
		}
		return nil
	})
}

// UpdateNetFields is UpdateNet with the fields as arguments.
func (m *IPAM) UpdateNetFields(ctx context.Context, id int64, gateway, vlan, note *string) (ipam.Net, error) {
	return m.UpdateNet(ctx, id, NetPatch{Gateway: gateway, VLAN: vlan, Note: note})
}

// maxFree bounds one free-address listing.
const maxFree = 1000

// FreeAddrs lists up to limit free addresses of an active network, lowest
// first, as allocation would hand them out. It reads only stored rows, so
// it costs the same on a /24 and on a /48.
func (m *IPAM) FreeAddrs(ctx context.Context, netID int64, limit int) ([]string, error) {
	if limit < 1 || limit > maxFree {
		return nil, fault.Invalid("limit", "must be between 1 and %d", maxFree)
	}
	out := []string{}
	err := m.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		nets, err := m.loadNets(tx, "id = ?", netID)
		if err != nil {
			return err
		}
		if len(nets) == 0 {
			return fault.NotFound("network", netID)
		}
		n := nets[0]
		if n.Type != ipam.TypeActive {
			return fault.Invalid("ipnet", "network %s is a container; list the free addresses of an active network", n.Name)
		}
		for _, span := range n.allocatable(ipam.Range{}) {
			st := span.First
			for len(out) < limit {
				x, ok, err := m.findFree(tx, n.ID, n.Family, ipam.Range{First: st, Last: span.Last})
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				out = append(out, x.String())
				if st = x.Next(); !st.IsValid() || span.Last.Less(st) {
					break
				}
			}
		}
		return nil
	})
	return out, err
}

// UpdateIP edits an address's domain, note and permanent flag.
func (m *IPAM) UpdateIP(ctx context.Context, id int64, p ipam.IPPatch) (ipam.IP, error) {
	set := map[string]any{"updated_at": time.Now().UTC()}
	if p.Domain != nil {
		set["domain"] = *p.Domain
	}
	if p.Note != nil {
		set["note"] = *p.Note
	}
	if p.Permanent != nil {
		set["permanent"] = *p.Permanent
	}
	res := m.db.gorm.WithContext(ctx).Table("ips").Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return ipam.IP{}, res.Error
	}
	if res.RowsAffected == 0 {
		return ipam.IP{}, fault.NotFound("ip", id)
	}
	return m.GetIP(ctx, id)
}

// MoveIP gives an address to another server (serverID set) or takes it
// from its server, making it a reservation (nil). The old server's main
// address pointing at it is cleared; setMain makes it the new server's
// main address of its family. Only a settled address (status ok) moves.
func (m *IPAM) MoveIP(ctx context.Context, id int64, serverID *int64, setMain bool) (ipam.IP, error) {
	err := m.tx(ctx, func(tx *gorm.DB) error {
		var rows []struct {
			Family   int
			Status   string
			ServerID *int64 `gorm:"column:server_id"`
		}
		if err := tx.Table("ips").Select("family, status, server_id").Where("id = ?", id).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fault.NotFound("ip", id)
		}
		if rows[0].Status != ipam.StatusOK {
			return fault.Conflict("address %d is %s; only an address with status ok can move", id, rows[0].Status)
		}
		if serverID != nil {
			var n int64
			if err := tx.Table("servers").Where("id = ?", *serverID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return fault.Invalid("server", "server %d does not exist", *serverID)
			}
		}
		if err := clearMain(tx, id); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE ips SET server_id = ?, reserved = ?, updated_at = ? WHERE id = ?`,
			serverID, serverID == nil, time.Now().UTC(), id).Error; err != nil {
			return err
		}
		if setMain && serverID != nil {
			col := "main_ipv4"
			if rows[0].Family == 6 {
				col = "main_ipv6"
			}
			return tx.Exec(`UPDATE servers SET `+col+` = ? WHERE id = ?`, id, *serverID).Error
		}
		return nil
	})
	if err != nil {
		return ipam.IP{}, err
	}
	return m.GetIP(ctx, id)
}

func clearMain(tx *gorm.DB, ipID int64) error {
	if err := tx.Exec(`UPDATE servers SET main_ipv4 = NULL WHERE main_ipv4 = ?`, ipID).Error; err != nil {
		return err
	}
	return tx.Exec(`UPDATE servers SET main_ipv6 = NULL WHERE main_ipv6 = ?`, ipID).Error
}

// releaseServerIPs returns the non-permanent addresses of the given servers
// to their networks and pools, inside the caller's transaction (a release
// of the server or the deletion of its owner). It moves each network's
// free hint down to the lowest freed address.
func releaseServerIPs(tx *gorm.DB, where string, args ...any) error {
	var rows []struct {
		ID      int64
		IpnetID int64 `gorm:"column:ipnet_id"`
		SortKey string
	}
	if err := tx.Table("ips").Select("id, ipnet_id, sort_key").
		Where("permanent = ? AND server_id IN (SELECT id FROM servers WHERE "+where+")", append([]any{false}, args...)...).
		Order("id").Find(&rows).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	low := map[int64]string{}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		if k, ok := low[r.IpnetID]; !ok || r.SortKey < k {
			low[r.IpnetID] = r.SortKey
		}
	}
	for start := 0; start < len(ids); start += inChunk {
		chunk := ids[start:min(start+inChunk, len(ids))]
		if err := tx.Exec(`UPDATE servers SET main_ipv4 = NULL WHERE main_ipv4 IN ?`, chunk).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE servers SET main_ipv6 = NULL WHERE main_ipv6 IN ?`, chunk).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM ips WHERE id IN ?`, chunk).Error; err != nil {
			return err
		}
	}
	for netID, k := range low {
		if err := tx.Exec(`UPDATE ipnets SET free_hint = ? WHERE id = ? AND free_hint > ?`, k, netID, k).Error; err != nil {
			return err
		}
	}
	for _, r := range rows { // after the networks' rows: see lowerRangeHints
		if err := lowerRangeHints(tx, r.IpnetID, r.SortKey); err != nil {
			return err
		}
	}
	return nil
}

// DetachPool removes one attachment of a pool to a location or a rack.
func (m *IPAM) DetachPool(ctx context.Context, poolID, placeID int64) error {
	res := m.db.gorm.WithContext(ctx).Exec(`DELETE FROM ippool_places WHERE id = ? AND ippool_id = ?`, placeID, poolID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fault.NotFound("pool attachment", placeID)
	}
	return nil
}

// lowerRangeHints moves the free hint of the pool ranges holding a freed
// address (by its key) down to it. Callers update the network's row first:
// on PostgreSQL that waits for an allocation holding the network's lock,
// so the allocation's own hint write cannot land after this one.
func lowerRangeHints(tx *gorm.DB, netID int64, key string) error {
	return tx.Exec(`UPDATE ippool_ranges SET free_hint = ? WHERE ipnet_id = ? AND first_key <= ? AND last_key >= ? AND free_hint > ?`,
		key, netID, key, key, key).Error
}
