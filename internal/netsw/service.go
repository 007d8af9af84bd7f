package netsw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/server"
)

// PortRef is a switch port as the service reaches it, with the server
// connected to it (ServerID 0 when none).
type PortRef struct {
	PortID       int64
	SwitchID     int64
	Identity     string // the ifIndex, as text
	Name         string
	ConnID       int64
	ServerID     int64
	IsIPMI       bool
	DoNotCollect bool
}

// Index is the port's ifIndex; a port entered by hand with another
// identity has none until the switch is refreshed.
func (p PortRef) Index() (int, error) {
	n, err := strconv.Atoi(p.Identity)
	if err != nil || n <= 0 {
		return 0, fault.Invalid("identity", "port %s (identity %q) has no ifIndex; refresh the switch first", p.label(), p.Identity)
	}
	return n, nil
}

func (p PortRef) label() string {
	if p.Name != "" {
		return p.Name
	}
	return p.Identity
}

// SyncResult counts what a refresh changed.
type SyncResult struct {
	Added, Updated, Vanished, Returned int
}

// CounterState is the last raw counter reading kept for a port.
type CounterState struct {
	In, Out uint64
	Uptime  time.Duration
	At      time.Time // zero: never read
}

// TrafficSample is one reading turned into deltas.
type TrafficSample struct {
	PortID, ServerID int64
	At               time.Time
	InDelta          uint64
	OutDelta         uint64
	Raw              CounterState // the new last reading
}

// PortTraffic is the traffic of one port of a server over a period.
type PortTraffic struct {
	PortID    int64
	PortName  string
	SwitchID  int64
	InOctets  int64
	OutOctets int64
}

// Store keeps switch ports, server states and traffic.
type Store interface {
	// Switch reads one switch with its credentials.
	Switch(ctx context.Context, id int64) (server.Switch, error)
	// ServerPorts lists a server's connected ports.
	ServerPorts(ctx context.Context, serverID int64) ([]PortRef, error)
	// Port reads one port of a switch, with its connection if any.
	Port(ctx context.Context, switchID, portID int64) (PortRef, error)
	// ConnectedPorts lists every port connected to a server.
	ConnectedPorts(ctx context.Context) ([]PortRef, error)
	// SyncPorts makes a switch's port list match what it reported: new
	// ports added, known ones updated (matched by ifIndex, else by name),
	// missing ones marked vanished, never deleted.
	SyncPorts(ctx context.Context, switchID int64, ports []Port, now time.Time) (SyncResult, error)
	// SetPortStatus records the status of ports by port id.
	SetPortStatus(ctx context.Context, st map[int64]Status, now time.Time) error
	// Counters reads the last counter readings of ports.
	Counters(ctx context.Context, portIDs []int64) (map[int64]CounterState, error)
	// RecordTraffic adds the deltas to the hourly buckets and keeps the
	// raw readings, in one transaction.
	RecordTraffic(ctx context.Context, samples []TrafficSample) error
	// Traffic sums a server's traffic per port over [from, to).
	Traffic(ctx context.Context, serverID int64, from, to time.Time) ([]PortTraffic, error)
	// SetState sets a server's state and state_info.
	SetState(ctx context.Context, serverID int64, state, info string) error
}

// Opener gives the driver of a switch.
type Opener func(sw server.Switch) (Driver, error)

// Options tune the service.
type Options struct {
	// SwitchTimeout bounds the work on one switch (one poll, one step).
	SwitchTimeout time.Duration
	// PollConcurrency bounds the switches polled at once.
	PollConcurrency int
	Log             *slog.Logger
	Now             func() time.Time
}

// Service controls switch ports.
type Service struct {
	st   Store
	open Opener
	o    Options
}

// NewService builds the service.
func NewService(st Store, open Opener, o Options) *Service {
	if o.SwitchTimeout <= 0 {
		o.SwitchTimeout = time.Minute
	}
	if o.PollConcurrency <= 0 {
		o.PollConcurrency = 16
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{st: st, open: open, o: o}
}

func (s *Service) driver(ctx context.Context, switchID int64) (server.Switch, Driver, error) {
	sw, err := s.st.Switch(ctx, switchID)
	if err != nil {
		return sw, nil, err
	}
	d, err := s.open(sw)
	if err != nil {
		return sw, nil, &DeviceError{Device: "switch " + sw.Name, Op: "configure", Msg: err.Error(), Err: err}
	}
	return sw, d, nil
}

// Refresh walks a switch's interfaces and syncs its port list.
func (s *Service) Refresh(ctx context.Context, switchID int64) (SyncResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.SwitchTimeout)
	defer cancel()
	_, d, err := s.driver(ctx, switchID)
	if err != nil {
		return SyncResult{}, err
	}
	ports, err := d.Ports(ctx)
	if err != nil {
		return SyncResult{}, err
	}
	return s.st.SyncPorts(ctx, switchID, ports, s.o.Now().UTC())
}

// SwitchGroup is the ports of one switch that a suspend or resume sets.
type SwitchGroup struct {
	SwitchID   int64
	SwitchName string
	Ports      []PortRef
}

// Plan lists, per switch in id order, the ports of a server that suspend
// and resume set: every connected port except the IPMI ones. A server
// with none cannot be cut off, and none may be on a read-only switch.
func (s *Service) Plan(ctx context.Context, serverID int64) ([]SwitchGroup, error) {
	refs, err := s.st.ServerPorts(ctx, serverID)
	if err != nil {
		return nil, err
	}
	by := map[int64][]PortRef{}
	for _, r := range refs {
		if r.IsIPMI {
			continue
		}
		if _, err := r.Index(); err != nil {
			return nil, err
		}
		by[r.SwitchID] = append(by[r.SwitchID], r)
	}
	if len(by) == 0 {
		return nil, fault.Conflict("server %d has no switch port to set (only IPMI ports or none are connected)", serverID)
	}
	out := make([]SwitchGroup, 0, len(by))
	for id, ps := range by {
		slices.SortFunc(ps, func(a, b PortRef) int { return int(a.PortID - b.PortID) })
		// A read-only switch is refused before any port changes, so a
		// suspend never stops half-way on it.
		sw, err := s.st.Switch(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, SwitchGroup{SwitchID: id, SwitchName: sw.Name, Ports: ps})
		if sw.ReadOnly {
			return nil, fault.Conflict("switch %s is marked read-only in dcimd; server %d's port %s cannot be set", sw.Name, serverID, ps[0].label())
		}
	}
	slices.SortFunc(out, func(a, b SwitchGroup) int { return int(a.SwitchID - b.SwitchID) })
	return out, nil
}

// SetPorts sets the given ports of one switch up or down, each read back,
// and records their new status. The first failure stops it and names the
// port; ports already set stay set (a retry sets them again, harmlessly).
func (s *Service) SetPorts(ctx context.Context, g SwitchGroup, up bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.SwitchTimeout)
	defer cancel()
	sw, d, err := s.driver(ctx, g.SwitchID)
	if err != nil {
		return err
	}
	if sw.ReadOnly {
		return fault.Conflict("switch %s is marked read-only in dcimd; port %s was not changed", sw.Name, g.Ports[0].label())
	}
	want := Down
	if up {
		want = Up
	}
	done := map[int64]Status{}
	var failed error
	for _, p := range g.Ports {
		idx, err := p.Index()
		if err != nil {
			failed = err
			break
		}
		if err := d.SetAdmin(ctx, idx, up); err != nil {
			failed = portError(sw, p, err)
			break
		}
		done[p.PortID] = Status{Admin: want, Oper: ""}
	}
	if len(done) > 0 {
		// Read the oper status once for the record; a failure here only
		// leaves the old oper status until the next poll.
		idx := make([]int, 0, len(done))
		byIdx := map[int]int64{}
		for _, p := range g.Ports {
			if _, ok := done[p.PortID]; ok {
				i, _ := p.Index()
				idx = append(idx, i)
				byIdx[i] = p.PortID
			}
		}
		if st, err := d.Status(ctx, idx); err == nil {
			for i, v := range st {
				done[byIdx[i]] = v
			}
		}
		if err := s.st.SetPortStatus(context.WithoutCancel(ctx), done, s.o.Now().UTC()); err != nil && failed == nil {
			failed = err
		}
	}
	return failed
}

// portError names the port in a device error, keeping its class.
func portError(sw server.Switch, p PortRef, err error) error {
	var de *DeviceError
	if errors.As(err, &de) {
		c := *de
		c.Msg = fmt.Sprintf("port %s (ifIndex %s): %s", p.label(), p.Identity, de.Msg)
		if c.Device == "" {
			c.Device = "switch " + sw.Name
		}
		return &c
	}
	return fmt.Errorf("switch %s port %s: %w", sw.Name, p.label(), err)
}

// Port reads one port of a switch with the server connected to it.
func (s *Service) Port(ctx context.Context, switchID, portID int64) (PortRef, error) {
	return s.st.Port(ctx, switchID, portID)
}

// SetPort sets one port of a switch up or down by hand.
func (s *Service) SetPort(ctx context.Context, switchID, portID int64, up bool) error {
	p, err := s.st.Port(ctx, switchID, portID)
	if err != nil {
		return err
	}
	if _, err := p.Index(); err != nil {
		return err
	}
	return s.SetPorts(ctx, SwitchGroup{SwitchID: switchID, Ports: []PortRef{p}}, up)
}

// MAC is a learned address on a port, with the server whose MAC it is.
type MAC struct {
	MAC  string
	VLAN int
}

// PortMACs reads the forwarding table of a switch and returns the MACs
// learned on one port.
func (s *Service) PortMACs(ctx context.Context, switchID, portID int64) ([]MAC, error) {
	p, err := s.st.Port(ctx, switchID, portID)
	if err != nil {
		return nil, err
	}
	idx, err := p.Index()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.SwitchTimeout)
	defer cancel()
	_, d, err := s.driver(ctx, switchID)
	if err != nil {
		return nil, err
	}
	fdb, err := d.FDB(ctx)
	if err != nil {
		return nil, err
	}
	out := []MAC{}
	for _, e := range fdb {
		if e.Index == idx {
			out = append(out, MAC{MAC: e.MAC, VLAN: e.VLAN})
		}
	}
	slices.SortFunc(out, func(a, b MAC) int {
		if a.MAC != b.MAC {
			if a.MAC < b.MAC {
				return -1
			}
			return 1
		}
		return a.VLAN - b.VLAN
	})
	return out, nil
}

// PollStats count one poll cycle.
type PollStats struct {
	Switches, SwitchErrors, Ports, Samples int
}

// Poll reads the status of every connected port and the traffic counters
// of those that collect traffic, switch by switch with bounded
// concurrency; each switch has its own deadline, so a slow or dead one
// delays nobody else. A switch that fails keeps its ports' last status.
func (s *Service) Poll(ctx context.Context) (PollStats, error) {
	refs, err := s.st.ConnectedPorts(ctx)
	if err != nil {
		return PollStats{}, err
	}
	by := map[int64][]PortRef{}
	for _, r := range refs {
		if _, err := r.Index(); err == nil {
			by[r.SwitchID] = append(by[r.SwitchID], r)
		}
	}
	var (
		mu    sync.Mutex
		stats = PollStats{Switches: len(by)}
		wg    sync.WaitGroup
		sem   = make(chan struct{}, s.o.PollConcurrency)
	)
	for id, ps := range by {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			n, err := s.pollSwitch(ctx, id, ps)
			mu.Lock()
			defer mu.Unlock()
			stats.Ports += len(ps)
			stats.Samples += n
			if err != nil {
				stats.SwitchErrors++
				s.o.Log.Warn("switch poll failed", "switch_id", id, "err", err)
			}
		}()
	}
	wg.Wait()
	return stats, ctx.Err()
}

func (s *Service) pollSwitch(ctx context.Context, switchID int64, ps []PortRef) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.SwitchTimeout)
	defer cancel()
	_, d, err := s.driver(ctx, switchID)
	if err != nil {
		return 0, err
	}
	idx := make([]int, 0, len(ps))
	byIdx := map[int]PortRef{}
	var collect []int
	for _, p := range ps {
		i, _ := p.Index()
		idx = append(idx, i)
		byIdx[i] = p
		if !p.DoNotCollect {
			collect = append(collect, i)
		}
	}
	st, err := d.Status(ctx, idx)
	if err != nil {
		return 0, err
	}
	now := s.o.Now().UTC()
	rec := make(map[int64]Status, len(st))
	for i, v := range st {
		if p, ok := byIdx[i]; ok {
			rec[p.PortID] = v
		}
	}
	if err := s.st.SetPortStatus(ctx, rec, now); err != nil {
		return 0, err
	}
	if len(collect) == 0 {
		return 0, nil
	}
	c, err := d.Counters(ctx, collect)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, len(collect))
	for k, i := range collect {
		ids[k] = byIdx[i].PortID
	}
	prev, err := s.st.Counters(ctx, ids)
	if err != nil {
		return 0, err
	}
	var samples []TrafficSample
	for _, i := range collect {
		p := byIdx[i]
		in, okIn := c.In[i]
		out, okOut := c.Out[i]
		if !okIn || !okOut {
			continue
		}
		cur := CounterState{In: in, Out: out, Uptime: c.Uptime, At: now}
		last := prev[p.PortID]
		samples = append(samples, TrafficSample{PortID: p.PortID, ServerID: p.ServerID, At: now,
			InDelta: Delta(last, last.In, in, c.Uptime), OutDelta: Delta(last, last.Out, out, c.Uptime), Raw: cur})
	}
	return len(samples), s.st.RecordTraffic(ctx, samples)
}

// uptimeWrap is where sysUpTime (TimeTicks, 1/100 s in 32 bits) wraps:
// about 497 days.
const uptimeWrap = time.Duration(1<<32) * 10 * time.Millisecond

// Delta is the octets counted between the last reading (prev, of which
// last is the counter's value) and cur:
//   - no last reading: 0 (the first reading is only a baseline);
//   - the agent restarted (its uptime went back, and not because sysUpTime
//     wrapped after 497 days): everything counted since the restart, cur;
//   - the counter went up: the difference;
//   - it went down without a restart: a 64-bit wrap when the last value
//     was in the top half of the range, otherwise a reset of the counter
//     (an interface re-created): cur.
func Delta(prev CounterState, last, cur uint64, uptime time.Duration) uint64 {
	if prev.At.IsZero() {
		return 0
	}
	restarted := uptime < prev.Uptime && prev.Uptime < uptimeWrap-time.Hour
	switch {
	case restarted:
		return cur
	case cur >= last:
		return cur - last
	case last >= 1<<63:
		return cur - last // modulo 2^64: the wrap
	default:
		return cur
	}
}

// Traffic sums a server's traffic over [from, to).
func (s *Service) Traffic(ctx context.Context, serverID int64, from, to time.Time) ([]PortTraffic, error) {
	if !from.Before(to) {
		return nil, fault.Invalid("from", "must be before to")
	}
	return s.st.Traffic(ctx, serverID, from, to)
}
