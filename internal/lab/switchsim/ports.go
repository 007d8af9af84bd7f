package switchsim

import (
	"fmt"
	"hash/fnv"
	"net"
	"time"
)

// port is the state of one interface; the switch's mu guards it.
type port struct {
	cfg            Port // defaults filled in
	admin, plugged bool
	// in and out are the octets counted until since, the start of the
	// current up period; lastChange is sysUpTime at the last oper change.
	in, out    uint64
	since      time.Time
	lastChange time.Duration
}

func (p *port) oper() bool { return p.admin && p.plugged }

// octets are the counters at t.
func (p *port) octets(t time.Time) (in, out uint64) {
	if !p.oper() {
		return p.in, p.out
	}
	d := max(t.Sub(p.since), 0)
	return p.in + grow(p.cfg.InRate, d), p.out + grow(p.cfg.OutRate, d)
}

// grow is rate octets per second over d, without overflowing on the way.
func grow(rate uint64, d time.Duration) uint64 {
	sec, frac := uint64(d/time.Second), uint64(d%time.Second)
	return rate*sec + rate*frac/uint64(time.Second)
}

// DefaultRates are the octets per second of port n (from 1) unless its
// Port sets them: between 125 kB/s and 2 MB/s in, less out, different
// from one port to the next.
func DefaultRates(n int) (in, out uint64) {
	return 125_000 * uint64(1+(n*37)%16), 125_000 * uint64(1+(n*11)%8)
}

func newPorts(cfgs []Port, now time.Time) []port {
	ports := make([]port, len(cfgs))
	for i, c := range cfgs {
		n := i + 1
		if c.Name == "" {
			c.Name = fmt.Sprintf("Ethernet1/%d", n)
		}
		if c.Descr == "" {
			c.Descr = c.Name
		}
		if c.SpeedMbps <= 0 {
			c.SpeedMbps = DefaultSpeedMbps
		}
		in, out := DefaultRates(n)
		if c.InRate == 0 {
			c.InRate = in
		}
		if c.OutRate == 0 {
			c.OutRate = out
		}
		ports[i] = port{cfg: c, admin: !c.AdminDown, plugged: !c.Unplugged, since: now}
	}
	return ports
}

// GeneratePorts are n plugged ports, each with one learned MAC address
// and every third one with a second (a VM behind the host), derived from
// the switch name so that switches of one lab differ.
func GeneratePorts(name string, n int) []Port {
	h := hash(name)
	ports := make([]Port, n)
	for i := range ports {
		k := i + 1
		mac := func(j byte) net.HardwareAddr { return net.HardwareAddr{0x0a, h[0], h[1], byte(k >> 8), byte(k), j} }
		ports[i].MACs = []net.HardwareAddr{mac(1)}
		if k%3 == 0 {
			ports[i].MACs = append(ports[i].MACs, mac(2))
		}
	}
	return ports
}

func hash(name string) [4]byte {
	f := fnv.New32a()
	f.Write([]byte(name))
	s := f.Sum32()
	return [4]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
}

// baseMAC is the bridge address; port n's ifPhysAddress is base + n.
func baseMAC(name string) net.HardwareAddr {
	h := hash(name)
	return net.HardwareAddr{0x0e, h[0], h[1], h[2], 0, 0}
}

func (s *Switch) portMAC(n int) []byte {
	m := append([]byte(nil), s.base...)
	m[4], m[5] = byte(n>>8), byte(n)
	return m
}

// at returns the port with this ifIndex; the caller holds s.mu.
func (s *Switch) at(ifIndex int) (*port, error) {
	n := ifIndex - s.opts.IndexBase
	if n < 1 || n > len(s.ports) {
		return nil, fmt.Errorf("switchsim: %s has no ifIndex %d", s.opts.Name, ifIndex)
	}
	return &s.ports[n-1], nil
}

// change applies f to p at t, keeping the counters exact across an oper
// status change; the caller holds s.mu. It reports whether f changed the
// admin status.
func (s *Switch) change(p *port, t time.Time, f func()) bool {
	admin, oper := p.admin, p.oper()
	in, out := p.octets(t)
	f()
	if p.oper() != oper {
		p.in, p.out, p.since = in, out, t
		p.lastChange = max(t.Sub(s.start), 0)
	}
	return p.admin != admin
}

// setAdmin is what an ifAdminStatus SET does; the caller holds s.mu.
func (s *Switch) setAdmin(n int, up bool) {
	s.portSets.Add(1)
	p := &s.ports[n-1]
	if s.change(p, s.opts.Clock(), func() { p.admin = up }) {
		s.portChanges.Add(1)
	}
}

// SetAdmin sets the admin status of a port as an operator on the console
// would (not counted in Stats).
func (s *Switch) SetAdmin(ifIndex int, up bool) error {
	return s.modify(ifIndex, func(p *port) { p.admin = up })
}

// SetPlugged plugs or pulls the cable of a port.
func (s *Switch) SetPlugged(ifIndex int, plugged bool) error {
	return s.modify(ifIndex, func(p *port) { p.plugged = plugged })
}

func (s *Switch) modify(ifIndex int, f func(p *port)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.at(ifIndex)
	if err != nil {
		return err
	}
	s.change(p, s.opts.Clock(), func() { f(p) })
	return nil
}

// AdminUp reports whether a port is admin up; false for no such port.
func (s *Switch) AdminUp(ifIndex int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.at(ifIndex)
	return err == nil && p.admin
}

// OperUp reports whether a port is oper up; false for no such port.
func (s *Switch) OperUp(ifIndex int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.at(ifIndex)
	return err == nil && p.oper()
}

// Octets are a port's ifHCInOctets and ifHCOutOctets now.
func (s *Switch) Octets(ifIndex int) (in, out uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, err := s.at(ifIndex); err == nil {
		return p.octets(s.opts.Clock())
	}
	return 0, 0
}

// Restart is a reboot of the switch as its agent shows it: sysUpTime and
// the octet counters start again from zero; admin states and cables stay.
// The request counters (Stats) are the simulator's and keep counting.
func (s *Switch) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock()
	s.start = now
	for i := range s.ports {
		p := &s.ports[i]
		p.in, p.out, p.since, p.lastChange = 0, 0, now, 0
	}
}
