// Package snmpagent is the SNMP v1/v2c agent shared by the lab's
// simulated devices (pdusim, switchsim): a UDP loop on a loopback port
// that decodes requests with gosnmp, answers GET, GETNEXT, GETBULK and SET
// from a MIB of objects the device defines, and counts what it was asked.
//
// Behaviour follows RFC 3416 and, for SNMPv1, RFC 3584: noSuchObject,
// noSuchInstance and endOfMibView in v2c, noSuchName and badValue in v1;
// Counter64 objects do not exist for v1 requests; GETBULK is v2c only.
// Requests with an unknown community are dropped without an answer, as
// real agents do; SNMPv3 is not served.
package snmpagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// DefaultAddr is where an agent listens unless told otherwise: a free
// loopback port.
const DefaultAddr = "127.0.0.1:0"

// Access is what a community may do.
type Access int

// Access levels.
const (
	ReadOnly Access = iota + 1
	ReadWrite
)

// Config configures an agent.
type Config struct {
	// Addr is the UDP address; default 127.0.0.1:0.
	Addr string
	// MIB is what the agent serves.
	MIB *MIB
	// Communities the agent answers, with their access; requests with
	// any other community are dropped.
	Communities map[string]Access
	// Locker is held while one request is answered, so that its varbinds
	// see one state and a SET applies all its varbinds at once. Object
	// functions run with it held. Default: a mutex of the agent's own.
	Locker sync.Locker
	// Denied is the v2c error status of a SET from a read-only community
	// (default noAccess, as net-snmp answers; authorizationError is the
	// other common one). SNMPv1 always gets noSuchName (RFC 3584).
	Denied gosnmp.SNMPError
}

// Stats count the requests an agent received.
type Stats struct {
	// Requests is every request from a known community, answered or not.
	Requests int64
	// By PDU type.
	Get, GetNext, GetBulk, Set int64
	// Refused counts SET requests answered with an error status.
	Refused int64
	// Dropped counts datagrams that got no answer: unknown community,
	// SNMPv3, undecodable, or the agent was silent.
	Dropped int64
}

// Add sums two snapshots.
func (s Stats) Add(o Stats) Stats {
	return Stats{Requests: s.Requests + o.Requests, Get: s.Get + o.Get, GetNext: s.GetNext + o.GetNext,
		GetBulk: s.GetBulk + o.GetBulk, Set: s.Set + o.Set, Refused: s.Refused + o.Refused, Dropped: s.Dropped + o.Dropped}
}

// Agent is a running SNMP agent.
type Agent struct {
	cfg  Config
	conn *net.UDPConn

	latency atomic.Int64 // time.Duration
	silent  atomic.Bool

	requests, get, getNext, getBulk, set, refused, dropped atomic.Int64

	delayed   sync.WaitGroup // answers held back by the latency
	closing   chan struct{}
	stopCtx   func() bool
	closeOnce sync.Once
	done      chan struct{}
}

// Start listens on cfg.Addr and serves until ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.MIB == nil || len(cfg.Communities) == 0 {
		return nil, errors.New("snmpagent: a MIB and at least one community are required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Locker == nil {
		cfg.Locker = &sync.Mutex{}
	}
	if cfg.Denied == gosnmp.NoError {
		cfg.Denied = gosnmp.NoAccess
	}
	communities := make(map[string]Access, len(cfg.Communities))
	for c, a := range cfg.Communities {
		communities[c] = a
	}
	cfg.Communities = communities
	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("snmpagent: resolve %q: %w", cfg.Addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("snmpagent: listen on %s: %w", cfg.Addr, err)
	}
	a := &Agent{cfg: cfg, conn: c, closing: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.serve()
	}()
	a.stopCtx = context.AfterFunc(ctx, func() { _ = a.Close() })
	return a, nil
}

// Addr is the agent's UDP address, host:port.
func (a *Agent) Addr() string { return a.conn.LocalAddr().String() }

// Host is the agent's IP address as text.
func (a *Agent) Host() string { return a.conn.LocalAddr().(*net.UDPAddr).IP.String() }

// Port is the agent's UDP port.
func (a *Agent) Port() int { return a.conn.LocalAddr().(*net.UDPAddr).Port }

// SetLatency holds every answer back by d from now on (for fault tests
// and benchmarks). A held answer does not hold back the agent: requests
// are still processed as they arrive.
func (a *Agent) SetLatency(d time.Duration) { a.latency.Store(int64(d)) }

// SetSilent makes the agent drop every request (an unreachable device)
// or answer again.
func (a *Agent) SetSilent(silent bool) { a.silent.Store(silent) }

// Stats returns a snapshot of the counters.
func (a *Agent) Stats() Stats {
	return Stats{Requests: a.requests.Load(), Get: a.get.Load(), GetNext: a.getNext.Load(), GetBulk: a.getBulk.Load(),
		Set: a.set.Load(), Refused: a.refused.Load(), Dropped: a.dropped.Load()}
}

// Close stops the agent and waits for its goroutines; answers still held
// back by the latency are not sent.
func (a *Agent) Close() error {
	var err error
	a.closeOnce.Do(func() {
		a.stopCtx()
		close(a.closing)
		err = a.conn.Close()
		<-a.done
		a.delayed.Wait()
	})
	return err
}

func (a *Agent) serve() {
	buf := make([]byte, 65535)
	dec := &gosnmp.GoSNMP{}
	for {
		n, addr, err := a.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		req, err := dec.SnmpDecodePacket(buf[:n])
		if err != nil || req.Version == gosnmp.Version3 {
			a.dropped.Add(1)
			continue
		}
		access, ok := a.cfg.Communities[req.Community]
		if !ok || a.silent.Load() {
			a.dropped.Add(1)
			continue
		}
		a.requests.Add(1)
		resp := a.answer(req, access)
		if resp == nil {
			a.dropped.Add(1)
			continue
		}
		out, err := resp.MarshalMsg()
		if err != nil {
			a.dropped.Add(1)
			continue
		}
		a.send(out, addr)
	}
}

// send writes an answer now, or after the latency from a goroutine that
// Close waits for.
func (a *Agent) send(out []byte, addr *net.UDPAddr) {
	d := time.Duration(a.latency.Load())
	if d <= 0 {
		_, _ = a.conn.WriteToUDP(out, addr)
		return
	}
	a.delayed.Add(1)
	go func() {
		defer a.delayed.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			_, _ = a.conn.WriteToUDP(out, addr)
		case <-a.closing:
		}
	}()
}
