package dhcp4d

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcimd/dcimd/internal/netboot/udppool"
)

// Server listens on the configured interfaces and answers with a Handler.
// Each socket has one reader; a fixed pool of workers handles the packets
// (server4.Server starts a goroutine per packet, which a flood would turn
// into unbounded goroutines, so only its socket setup is used).
type Server struct {
	h *Handler
	o Options

	mu    sync.Mutex
	state int // 0 new, 1 running, 2 stopped
	pool  *udppool.Pool[In]
}

type sock = udppool.Socket[In]

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
			k.Conn.Close()
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
			socks = append(socks, &sock{Conn: c, Info: In{Iface: ifc.Name, Addr: addr, Port: port}})
			s.o.Log.Info("dhcp4: listening", "iface", ifc.Name, "addr", c.LocalAddr().String(), "server_ip", addr.String())
		}
	}
	s.pool = udppool.Start(socks, udppool.Options{Name: "dhcp4", Workers: s.o.Workers, Queue: s.o.Queue, MaxPacket: MaxPacket,
		Log: s.o.Log, QueueFull: func() { s.h.stats.add(DropQueueFull) }}, s.serve)
	s.state = 1
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
	running := s.state == 1
	s.state = 2
	if !running {
		return nil
	}
	return s.pool.Shutdown(ctx)
}

// Addrs are the sockets' local addresses (after Start).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		return nil
	}
	return s.pool.Addrs()
}

// the boot infrastructure down: it is logged with its stack and dropped.
func (s *Server) serve(ctx context.Context, k *sock, b []byte, peer netip.AddrPort) {
	in := k.Info
	in.Peer = peer
	out, to, _ := s.h.HandlePacket(ctx, b, in)
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
	if _, err := k.Conn.WriteTo(out, net.UDPAddrFromAddrPort(to)); err != nil {
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
