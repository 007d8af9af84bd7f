package dhcp4d

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/prometheus/client_golang/prometheus"
)

// Server listens on the configured interfaces and answers with a Handler.
// Each socket has one reader; a fixed pool of workers handles the packets
// (server4.Server starts a goroutine per packet, which a flood would turn
// into unbounded goroutines, so only its socket setup is used).
type Server struct {
	h *Handler
	o Options

	mu       sync.Mutex
	state    int // 0 new, 1 running, 2 stopped
	socks    []*sock
	jobs     chan job
	cancel   context.CancelFunc
	stopping atomic.Bool
	readers  sync.WaitGroup
	workers  sync.WaitGroup
}

type sock struct {
	conn net.PacketConn
	in   In // Iface, Addr, Port; Peer per packet
}

type job struct {
	s    *sock
	b    []byte
	peer netip.AddrPort
}

// New checks the options and builds a server; Start opens the sockets.
func New(o Options) (*Server, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dhcp4 options: %w", err)
	}
	if len(o.Interfaces) == 0 {
		return nil, errors.New("dhcp4 options: no interfaces to listen on")
	}
	h, err := NewHandler(o)
	if err != nil {
		return nil, err
	}
	if o.ListenPacket == nil {
		o.ListenPacket = listenUDP
	}
	return &Server{h: h, o: o}, nil
}

// listenUDP opens a broadcast-capable UDP socket bound to the device.
func listenUDP(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
	return server4.NewIPv4UDPConn(ifname, net.UDPAddrFromAddrPort(addr))
}

// Handler is the packet handler (for tests and benchmarks).
func (s *Server) Handler() *Handler { return s.h }

// Stats reads the counters.
func (s *Server) Stats() Stats { return s.h.Stats() }

// Collector returns the Prometheus collector of the counters.
func (s *Server) Collector() prometheus.Collector { return s.h.Collector() }

// Start opens every socket (all or none) and starts answering. ctx bounds
// the start only; the server runs until Shutdown.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 0 {
		return errors.New("dhcp4: server already started")
	}
	var socks []*sock
	fail := func(err error) error {
		for _, k := range socks {
			k.conn.Close()
		}
		return err
	}
	for _, ifc := range s.o.Interfaces {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		addr := ifc.Addr
		if !addr.IsValid() {
			a, err := interfaceAddr(ifc.Name)
			if err != nil {
				return fail(fmt.Errorf("dhcp4: interface %s: %w", ifc.Name, err))
			}
			addr = a
		}
		ports := []netip.AddrPort{ifc.Listen}
		if ifc.PXEPort != 0 {
			ports = append(ports, netip.AddrPortFrom(ifc.Listen.Addr(), ifc.PXEPort))
		}
		for _, p := range ports {
			c, err := s.o.ListenPacket(ifc.Name, p)
			if err != nil {
				return fail(fmt.Errorf("dhcp4: listen on %s %s: %w", ifc.Name, p, err))
			}
			port := p.Port()
			if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
				port = uint16(ua.Port)
			}
			if p.Port() == ifc.PXEPort && ifc.PXEPort != 0 {
				port = PXEPort // a test may map the PXE socket elsewhere; the handler only needs to know which it is
			}
			socks = append(socks, &sock{conn: c, in: In{Iface: ifc.Name, Addr: addr, Port: port}})
			s.o.Log.Info("dhcp4: listening", "iface", ifc.Name, "addr", c.LocalAddr().String(), "server_ip", addr.String())
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.socks, s.cancel, s.jobs, s.state = socks, cancel, make(chan job, s.o.Queue), 1
	for range s.o.Workers {
		s.workers.Add(1)
		go s.work(runCtx)
	}
	for _, k := range socks {
		s.readers.Add(1)
		go s.read(k)
	}
	return nil
}

// Serve runs the server until ctx ends (the house's Serve(ctx) shape).
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown stops reading, lets the workers answer what was received, and
// closes the sockets. When ctx ends first, store calls in flight are
// cancelled; Shutdown still waits for the workers (each is bounded by
// HandleTimeout) and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 1 {
		s.state = 2
		return nil
	}
	s.state = 2
	s.stopping.Store(true)
	for _, k := range s.socks {
		_ = k.conn.SetReadDeadline(time.Now())
	}
	s.readers.Wait()
	close(s.jobs)
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
		<-done
	}
	s.cancel()
	for _, k := range s.socks {
		k.conn.Close()
	}
	return err
}

// Addrs are the sockets' local addresses (after Start).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.socks))
	for i, k := range s.socks {
		out[i] = k.conn.LocalAddr()
	}
	return out
}

func (s *Server) read(k *sock) {
	defer s.readers.Done()
	buf := make([]byte, MaxPacket+1)
	for {
		n, peer, err := k.conn.ReadFrom(buf)
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				s.o.Log.Warn("dhcp4: read", "iface", k.in.Iface, "err", err)
				time.Sleep(50 * time.Millisecond) // a failing socket must not spin
			}
			continue
		}
		var pa netip.AddrPort
		if ua, ok := peer.(*net.UDPAddr); ok {
			pa = ua.AddrPort()
		}
		select {
		case s.jobs <- job{s: k, b: bytes.Clone(buf[:n]), peer: pa}:
		default:
			s.h.stats.add(DropQueueFull)
		}
	}
}

func (s *Server) work(ctx context.Context) {
	defer s.workers.Done()
	for j := range s.jobs {
		s.serve(ctx, j)
	}
}

// serve handles one packet. A panic is a bug, but one packet must not take
// the boot infrastructure down: it is logged with its stack and dropped.
func (s *Server) serve(ctx context.Context, j job) {
	defer func() {
		if p := recover(); p != nil {
			s.o.Log.Error("dhcp4: panic handling a packet", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	in := j.s.in
	in.Peer = j.peer
	out, to, _ := s.h.HandlePacket(ctx, j.b, in)
	if out == nil {
		return
	}
	if in.Iface == "" && to.Addr() == limitedBroadcast {
		// A socket bound to no device would broadcast out of whatever
		// interface the routing table picks: never on a network nobody
		// configured.
		s.o.Log.Debug("dhcp4: no broadcast from a socket without a device", "to", to.String())
		return
	}
	if _, err := j.s.conn.WriteTo(out, net.UDPAddrFromAddrPort(to)); err != nil {
		s.o.Log.Warn("dhcp4: send reply", "iface", in.Iface, "to", to.String(), "err", err)
	}
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// interfaceAddr is the first IPv4 address of a device.
func interfaceAddr(name string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if v4 := n.IP.To4(); v4 != nil {
				return netip.AddrFrom4([4]byte(v4)), nil
			}
		}
	}
	return netip.Addr{}, errors.New("no IPv4 address; set the interface's address in the config")
}
