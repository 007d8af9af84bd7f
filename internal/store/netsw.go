package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/metrics"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/server"
)

// SwitchPorts implements netsw.Store.
type SwitchPorts struct{ db *DB }

// SwitchPorts returns the switch port store.
func (d *DB) SwitchPorts() *SwitchPorts { return &SwitchPorts{db: d} }

// Switch reads one switch with its credentials.
func (s *SwitchPorts) Switch(ctx context.Context, id int64) (server.Switch, error) {
	return newSwitches(s.db).Get(ctx, id)
}

type portRefRow struct {
	PortID       int64  `gorm:"column:port_id"`
	SwitchID     int64  `gorm:"column:switch_id"`
	Identity     string `gorm:"column:identity"`
	Name         string `gorm:"column:name"`
	ConnID       *int64 `gorm:"column:conn_id"`
	ServerID     *int64 `gorm:"column:server_id"`
	IsIPMI       *bool  `gorm:"column:is_ipmi_connection"`
	DoNotCollect *bool  `gorm:"column:do_not_collect_traffic"`
}

func (r portRefRow) ref() netsw.PortRef {
	p := netsw.PortRef{PortID: r.PortID, SwitchID: r.SwitchID, Identity: r.Identity, Name: r.Name}
	if r.ConnID != nil {
		p.ConnID = *r.ConnID
	}
	if r.ServerID != nil {
		p.ServerID = *r.ServerID
	}
	p.IsIPMI = r.IsIPMI != nil && *r.IsIPMI
	p.DoNotCollect = r.DoNotCollect != nil && *r.DoNotCollect
	return p
}

const portRefCols = `p.id AS port_id, p.switch_id, p.identity, p.name, c.id AS conn_id, c.server_id,
	c.is_ipmi_connection, c.do_not_collect_traffic`

func (s *SwitchPorts) refs(ctx context.Context, join, where string, args ...any) ([]netsw.PortRef, error) {
	var rows []portRefRow
	q := s.db.gorm.WithContext(ctx).Table("switch_ports AS p").Select(portRefCols).
		Joins(join + " server_switch_connections c ON c.switch_port_id = p.id")
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Order("p.switch_id, p.id").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]netsw.PortRef, len(rows))
	for i, r := range rows {
		out[i] = r.ref()
	}
	return out, nil
}

// ServerPorts lists a server's connected ports.
func (s *SwitchPorts) ServerPorts(ctx context.Context, serverID int64) ([]netsw.PortRef, error) {
	var n int64
	if err := s.db.gorm.WithContext(ctx).Table("servers").Where("id = ?", serverID).Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fault.NotFound("server", serverID)
	}
	return s.refs(ctx, "JOIN", "c.server_id = ?", serverID)
}

// Port reads one port of a switch.
func (s *SwitchPorts) Port(ctx context.Context, switchID, portID int64) (netsw.PortRef, error) {
	rs, err := s.refs(ctx, "LEFT JOIN", "p.id = ? AND p.switch_id = ?", portID, switchID)
	if err != nil {
		return netsw.PortRef{}, err
	}
	if len(rs) == 0 {
		return netsw.PortRef{}, fault.NotFound("switch port", portID)
	}
	return rs[0], nil
}

// ConnectedPorts lists every port connected to a server.
func (s *SwitchPorts) ConnectedPorts(ctx context.Context) ([]netsw.PortRef, error) {
	return s.refs(ctx, "JOIN", "")
}

// SyncPorts makes a switch's stored ports match a discovery. A port is
// matched by its ifName first, since switches may renumber ifIndex on a
// reboot and a server must stay on the physical port it is plugged into;
// then by ifIndex, but only a port without a name or one entered by hand
// and never discovered. New ports are added; the ones missing from the
// discovery are marked vanished, never deleted, as a server may be
// connected to them. Identities are the ifIndex as text.
func (s *SwitchPorts) SyncPorts(ctx context.Context, switchID int64, ports []netsw.Port, now time.Time) (netsw.SyncResult, error) {
	var res netsw.SyncResult
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Table("switches").Where("id = ?", switchID)
		if s.db.IsPostgres() {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var ids []int64
		if err := q.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return fault.NotFound("switch", switchID)
		}
		var stored []struct {
			ID       int64
			Identity string
			Name     string
			Vanished bool
			PolledAt *time.Time `gorm:"column:polled_at"`
		}
		if err := tx.Table("switch_ports").Select("id, identity, name, vanished, polled_at").Where("switch_id = ?", switchID).
			Order("id").Scan(&stored).Error; err != nil {
			return err
		}
		byName, byIdent := map[string]int{}, map[string]int{}
		for i, r := range stored {
			if r.Name != "" {
				if _, dup := byName[r.Name]; !dup {
					byName[r.Name] = i
				}
			}
			byIdent[r.Identity] = i
		}
		match := make([]int, len(ports)) // index into stored, or -1
		used := map[int]bool{}
		for k, p := range ports {
			match[k] = -1
			if i, ok := byName[p.Name]; ok && p.Name != "" && !used[i] {
				match[k], used[i] = i, true
			}
		}
		for k, p := range ports {
			if match[k] >= 0 {
				continue
			}
			if i, ok := byIdent[strconv.Itoa(p.Index)]; ok && !used[i] && (stored[i].Name == "" || stored[i].PolledAt == nil) {
				match[k], used[i] = i, true
			}
		}
		// Move aside every identity that changes hands, so the unique
		// (switch, identity) index holds at each statement.
		want := map[int]string{}
		for k, p := range ports {
			if i := match[k]; i >= 0 {
				want[i] = strconv.Itoa(p.Index)
			}
		}
		taken := map[string]bool{}
		for _, p := range ports {
			taken[strconv.Itoa(p.Index)] = true
		}
		for i, r := range stored {
			w, matched := want[i]
			if (matched && w != r.Identity) || (!matched && taken[r.Identity]) {
				aside := "moved-" + strconv.FormatInt(r.ID, 10)
				if !matched {
					aside = "vanished-" + strconv.FormatInt(r.ID, 10) + "-" + r.Identity
				}
				if err := tx.Exec(`UPDATE switch_ports SET identity = ? WHERE id = ?`, aside, r.ID).Error; err != nil {
					return err
				}
			}
		}
		for k, p := range ports {
			set := map[string]any{"identity": strconv.Itoa(p.Index), "name": p.Name, "description": p.Descr, "alias": p.Alias,
				"if_type": p.Type, "speed": p.SpeedMbps, "admin_status": p.Admin, "oper_status": p.Oper,
				"vanished": false, "polled_at": now, "updated_at": now}
			i := match[k]
			if i < 0 {
				set["switch_id"], set["created_at"] = switchID, now
				if err := tx.Table("switch_ports").Create(set).Error; err != nil {
					return translate(err, "switch port", nil)
				}
				res.Added++
				continue
			}
			if stored[i].Vanished {
				res.Returned++
			} else {
				res.Updated++
			}
			if err := tx.Table("switch_ports").Where("id = ?", stored[i].ID).Updates(set).Error; err != nil {
				return translate(err, "switch port", stored[i].ID)
			}
		}
		for i, r := range stored {
			if used[i] || r.Vanished {
				continue
			}
			if err := tx.Exec(`UPDATE switch_ports SET vanished = ?, oper_status = 'unknown', updated_at = ? WHERE id = ?`,
				true, now, r.ID).Error; err != nil {
				return err
			}
			res.Vanished++
		}
		return tx.Exec(`UPDATE switches SET refreshed_at = ? WHERE id = ?`, now, switchID).Error
	})
	return res, err
}

// SetPortStatus records port statuses; an empty Oper keeps the old one.
func (s *SwitchPorts) SetPortStatus(ctx context.Context, st map[int64]netsw.Status, now time.Time) error {
	if len(st) == 0 {
		return nil
	}
	// One UPDATE per distinct status pair (a handful per switch), not one
	// per port.
	groups := map[netsw.Status][]int64{}
	for id, v := range st {
		groups[v] = append(groups[v], id)
	}
	keys := make([]netsw.Status, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b netsw.Status) int { return strings.Compare(a.Admin+"/"+a.Oper, b.Admin+"/"+b.Oper) })
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, k := range keys {
			ids := groups[k]
			slices.Sort(ids)
			set := map[string]any{"admin_status": k.Admin, "polled_at": now}
			if k.Oper != "" {
				set["oper_status"] = k.Oper
			}
			for start := 0; start < len(ids); start += inChunk {
				if err := tx.Table("switch_ports").Where("id IN ?", ids[start:min(start+inChunk, len(ids))]).Updates(set).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Counters reads the last raw counter readings.
func (s *SwitchPorts) Counters(ctx context.Context, portIDs []int64) (map[int64]netsw.CounterState, error) {
	out := make(map[int64]netsw.CounterState, len(portIDs))
	for start := 0; start < len(portIDs); start += inChunk {
		var rows []struct {
			ID           int64
			LastIn       int64      `gorm:"column:last_in"`
			LastOut      int64      `gorm:"column:last_out"`
			LastUptimeMs int64      `gorm:"column:last_uptime_ms"`
			CountersAt   *time.Time `gorm:"column:counters_at"`
		}
		chunk := portIDs[start:min(start+inChunk, len(portIDs))]
		if err := s.db.gorm.WithContext(ctx).Table("switch_ports").Select("id, last_in, last_out, last_uptime_ms, counters_at").
			Where("id IN ?", chunk).Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			c := netsw.CounterState{In: uint64(r.LastIn), Out: uint64(r.LastOut), Uptime: time.Duration(r.LastUptimeMs) * time.Millisecond}
			if r.CountersAt != nil {
				c.At = *r.CountersAt
			}
			out[r.ID] = c
		}
	}
	return out, nil
}

// trafficBucket is the width of a stored traffic interval.
const trafficBucket = time.Hour

// RecordTraffic adds deltas to the hourly buckets and keeps the raw
// readings, in one transaction: a reading is never counted twice.
func (s *SwitchPorts) RecordTraffic(ctx context.Context, samples []netsw.TrafficSample) error {
	if len(samples) == 0 {
		return nil
	}
	return s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for start := 0; start < len(samples); start += trafficChunk {
			if err := recordTraffic(tx, samples[start:min(start+trafficChunk, len(samples))]); err != nil {
				return err
			}
		}
		return nil
	})
}

// trafficChunk bounds the samples written by one statement (5 parameters
// each, well under SQLite's and PostgreSQL's limits).
const trafficChunk = 200

// recordTraffic writes a chunk of samples in two statements: the raw
// readings (one UPDATE with CASE, per reading time and uptime, which are
// the same for all the samples of one poll) and the deltas (one
// multi-row upsert).
func recordTraffic(tx *gorm.DB, samples []netsw.TrafficSample) error {
	type when struct {
		at     time.Time
		uptime int64
	}
	byWhen := map[when][]netsw.TrafficSample{}
	var order []when
	for _, x := range samples {
		w := when{x.At, x.Raw.Uptime.Milliseconds()}
		if _, ok := byWhen[w]; !ok {
			order = append(order, w)
		}
		byWhen[w] = append(byWhen[w], x)
	}
	for _, w := range order {
		xs := byWhen[w]
		var in, out strings.Builder
		args := make([]any, 0, 4*len(xs)+2+len(xs))
		ids := make([]int64, 0, len(xs))
		in.WriteString("CASE id")
		for _, x := range xs {
			in.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
			args = append(args, x.PortID, int64(x.Raw.In))
		}
		in.WriteString(" END")
		out.WriteString("CASE id")
		for _, x := range xs {
			out.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
			args = append(args, x.PortID, int64(x.Raw.Out))
			ids = append(ids, x.PortID)
		}
		out.WriteString(" END")
		args = append(args, w.uptime, w.at, ids)
		if err := tx.Exec(`UPDATE switch_ports SET last_in = `+in.String()+`, last_out = `+out.String()+
			`, last_uptime_ms = ?, counters_at = ? WHERE id IN ?`, args...).Error; err != nil {
			return err
		}
	}
	type key struct {
		port, server int64
		bucket       time.Time
	}
	sums := map[key][2]int64{}
	var keys []key
	for _, x := range samples {
		if x.InDelta == 0 && x.OutDelta == 0 || x.ServerID == 0 {
			continue
		}
		k := key{x.PortID, x.ServerID, x.At.UTC().Truncate(trafficBucket)}
		v, ok := sums[k]
		if !ok {
			keys = append(keys, k)
		}
		sums[k] = [2]int64{satAdd(v[0], clampInt64(x.InDelta)), satAdd(v[1], clampInt64(x.OutDelta))}
	}
	if len(keys) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO port_traffic (port_id, server_id, bucket, in_octets, out_octets) VALUES `)
	args := make([]any, 0, 5*len(keys))
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?)")
		v := sums[k]
		args = append(args, k.port, k.server, k.bucket, v[0], v[1])
	}
	q.WriteString(` ON CONFLICT (port_id, server_id, bucket) DO UPDATE SET in_octets = port_traffic.in_octets + excluded.in_octets,
		out_octets = port_traffic.out_octets + excluded.out_octets`)
	return tx.Exec(q.String(), args...).Error
}

func satAdd(a, b int64) int64 {
	if a > 1<<63-1-b {
		return 1<<63 - 1
	}
	return a + b
}

func clampInt64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// Traffic sums a server's traffic per port over the hourly buckets that
// start in [from, to).
func (s *SwitchPorts) Traffic(ctx context.Context, serverID int64, from, to time.Time) ([]netsw.PortTraffic, error) {
	var n int64
	if err := s.db.gorm.WithContext(ctx).Table("servers").Where("id = ?", serverID).Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fault.NotFound("server", serverID)
	}
	var rows []struct {
		PortID    int64  `gorm:"column:port_id"`
		Name      string `gorm:"column:name"`
		SwitchID  int64  `gorm:"column:switch_id"`
		InOctets  int64  `gorm:"column:in_octets"`
		OutOctets int64  `gorm:"column:out_octets"`
	}
	err := s.db.gorm.WithContext(ctx).Raw(`SELECT t.port_id, p.name, p.switch_id, SUM(t.in_octets) AS in_octets, SUM(t.out_octets) AS out_octets
		FROM port_traffic t JOIN switch_ports p ON p.id = t.port_id
		WHERE t.server_id = ? AND t.bucket >= ? AND t.bucket < ?
		GROUP BY t.port_id, p.name, p.switch_id ORDER BY t.port_id`, serverID, from.UTC(), to.UTC()).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]netsw.PortTraffic, len(rows))
	for i, r := range rows {
		out[i] = netsw.PortTraffic{PortID: r.PortID, PortName: r.Name, SwitchID: r.SwitchID, InOctets: r.InOctets, OutOctets: r.OutOctets}
	}
	return out, nil
}

// SetState sets a server's state and state_info.
func (s *SwitchPorts) SetState(ctx context.Context, serverID int64, state, info string) error {
	res := s.db.gorm.WithContext(ctx).Exec(`UPDATE servers SET state = ?, state_info = ?, updated_at = ? WHERE id = ?`,
		state, info, time.Now().UTC(), serverID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fault.NotFound("server", serverID)
	}
	return nil
}

// CompareAndSetState sets a server's state to `to` only while it is
// `from`; no match is not an error (someone moved it on first).
func (s *SwitchPorts) CompareAndSetState(ctx context.Context, serverID int64, from, to string) error {
	return s.db.gorm.WithContext(ctx).Exec(`UPDATE servers SET state = ?, state_info = '', updated_at = ? WHERE id = ? AND state = ?`,
		to, time.Now().UTC(), serverID, from).Error
}

// ServersByMAC maps MACs to the servers whose NIC has them.
func (s *SwitchPorts) ServersByMAC(ctx context.Context, macs []string) (map[string]server.MACOwner, error) {
	out := map[string]server.MACOwner{}
	if len(macs) == 0 {
		return out, nil
	}
	for start := 0; start < len(macs); start += inChunk {
		var rows []struct {
			ID   int64
			Name string
			MAC  string `gorm:"column:mac"`
		}
		chunk := macs[start:min(start+inChunk, len(macs))]
		if err := s.db.gorm.WithContext(ctx).Table("servers").Select("id, name, mac").Where("LOWER(mac) IN ?", chunk).
			Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[strings.ToLower(r.MAC)] = server.MACOwner{ServerID: r.ID, ServerName: r.Name}
		}
	}
	return out, nil
}

// PortSamples lists every switch port for the metrics.
func (s *SwitchPorts) PortSamples(ctx context.Context) ([]metrics.PortSample, error) {
	var rows []struct {
		Switch     string     `gorm:"column:switch_name"`
		Port       string     `gorm:"column:port_name"`
		Identity   string     `gorm:"column:identity"`
		Server     *string    `gorm:"column:server_name"`
		Admin      string     `gorm:"column:admin_status"`
		Oper       string     `gorm:"column:oper_status"`
		LastIn     int64      `gorm:"column:last_in"`
		LastOut    int64      `gorm:"column:last_out"`
		CountersAt *time.Time `gorm:"column:counters_at"`
	}
	err := s.db.gorm.WithContext(ctx).Raw(`SELECT sw.name AS switch_name, p.name AS port_name, p.identity, s.name AS server_name,
		p.admin_status, p.oper_status, p.last_in, p.last_out, p.counters_at
		FROM switch_ports p JOIN switches sw ON sw.id = p.switch_id
		LEFT JOIN server_switch_connections c ON c.switch_port_id = p.id LEFT JOIN servers s ON s.id = c.server_id
		WHERE p.vanished = ? ORDER BY p.id`, false).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]metrics.PortSample, len(rows))
	for i, r := range rows {
		name := r.Port
		if name == "" {
			name = r.Identity
		}
		out[i] = metrics.PortSample{Switch: r.Switch, Port: name, Server: deref(r.Server), AdminUp: r.Admin == netsw.Up,
			OperUp: r.Oper == netsw.Up, HasCounters: r.CountersAt != nil, InOctets: uint64(r.LastIn), OutOctets: uint64(r.LastOut)}
	}
	return out, nil
}

// ServerStates counts servers by state.
func (s *SwitchPorts) ServerStates(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		State string
		N     int
	}
	if err := s.db.gorm.WithContext(ctx).Raw(`SELECT state, COUNT(*) AS n FROM servers GROUP BY state`).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

// TaskCounts counts the kept tasks by kind and status.
func (s *SwitchPorts) TaskCounts(ctx context.Context) (map[[2]string]int, error) {
	var rows []struct {
		Name, Status string
		N            int
	}
	if err := s.db.gorm.WithContext(ctx).Raw(`SELECT name, status, COUNT(*) AS n FROM tasks GROUP BY name, status`).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[[2]string]int{}
	for _, r := range rows {
		out[[2]string{r.Name, r.Status}] = r.N
	}
	return out, nil
}
