// Package udpproxy gives tests UDP peers on 127.0.0.1 that stand between a
// client and a device (IPMI, SNMP): a relay that counts and can hold
// answers back (a slow device), and a socket that never answers (a dead
// one).
package udpproxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Listen opens a UDP socket on a free loopback port.
func Listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// PortOf is a socket's local port.
func PortOf(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// Proxy relays datagrams to an upstream port, one upstream socket per
// client socket, so Clients is the number of client sockets (for IPMI:
// sessions and session attempts) that talked through it.
type Proxy struct {
	conn     *net.UDPConn
	upstream *net.UDPAddr
	delay    time.Duration

	requests atomic.Int64
	mu       sync.Mutex
	flows    map[string]*net.UDPConn
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Start relays to 127.0.0.1:upstreamPort; delay holds back every answer.
// The proxy stops at the end of the test.
func Start(t testing.TB, upstreamPort int, delay time.Duration) *Proxy {
	t.Helper()
	p := &Proxy{conn: Listen(t), upstream: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: upstreamPort}, delay: delay,
		flows: make(map[string]*net.UDPConn)}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Stop)
	return p
}

// Port is where clients send.
func (p *Proxy) Port() int { return PortOf(p.conn) }

// Clients counts the distinct client sockets seen.
func (p *Proxy) Clients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flows)
}

// Requests counts datagrams from clients to the device.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

func (p *Proxy) serve() {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, addr, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p.requests.Add(1)
		p.mu.Lock()
		up, ok := p.flows[addr.String()]
		if !ok {
			up, err = net.DialUDP("udp", nil, p.upstream)
			if err != nil {
				p.mu.Unlock()
				continue
			}
			p.flows[addr.String()] = up
			p.wg.Add(1)
			go p.answer(up, addr)
		}
		p.mu.Unlock()
		_, _ = up.Write(buf[:n])
	}
}

func (p *Proxy) answer(up *net.UDPConn, client *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !ne.Timeout() && !errors.Is(err, net.ErrClosed) {
				continue // ICMP refusals while the device restarts
			}
			return
		}
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		_, _ = p.conn.WriteToUDP(buf[:n], client)
	}
}

// Stop closes the proxy and waits for its goroutines; safe to call twice.
func (p *Proxy) Stop() {
	p.stopOnce.Do(func() {
		p.conn.Close()
		p.mu.Lock()
		for _, up := range p.flows {
			up.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// Silent reads datagrams and never answers; it counts what it got.
type Silent struct {
	conn     *net.UDPConn
	received atomic.Int64
	done     chan struct{}
}

// StartSilent opens a silent peer, closed at the end of the test.
func StartSilent(t testing.TB) *Silent {
	t.Helper()
	s := &Silent{conn: Listen(t), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			if _, _, err := s.conn.ReadFromUDP(buf); err != nil {
				return
			}
			s.received.Add(1)
		}
	}()
	t.Cleanup(func() { s.conn.Close(); <-s.done })
	return s
}

// Port is where clients send.
func (s *Silent) Port() int { return PortOf(s.conn) }

// Received counts datagrams that arrived.
func (s *Silent) Received() int64 { return s.received.Load() }
