package dhcp6d

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

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// AllServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
var AllServers = netip.MustParseAddr("ff02::1:2")

// Server listens on the configured interfaces and answers with a Handler:
// one reader per socket, a fixed pool of workers.
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
	in   In
}

type job struct {
	s    *sock
	b    []byte
	peer netip.AddrPort
}

// New checks the options and builds a server; Start opens the sockets.
// Without Options.ServerDUID the server identifier is a DUID-LL of the
// first interface with a hardware address.
func New(o Options) (*Server, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dhcp6 options: %w", err)
	}
	if len(o.Interfaces) == 0 {
		return nil, errors.New("dhcp6 options: no interfaces to listen on")
	}
	if o.ListenPacket == nil {
		o.ListenPacket = ListenUDP
	}
	if len(o.ServerDUID) == 0 {
		for _, ifc := range o.Interfaces {
			if ifi, err := net.InterfaceByName(ifc.Name); err == nil && len(ifi.HardwareAddr) == 6 {
				o.ServerDUID = (&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: ifi.HardwareAddr}).ToBytes()
				break
			}
		}
	}
	h, err := NewHandler(o)
	if err != nil {
		return nil, err
	}
	return &Server{h: h, o: o}, nil
}

// ListenUDP opens a UDP socket bound to the device on addr and, with a
// device, joins ff02::1:2 there.
func ListenUDP(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
	c, err := server6.NewIPv6UDPConn(ifname, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	if ifname == "" {
		return c, nil
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		c.Close()
		return nil, err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		mreq := &unix.IPv6Mreq{Multiaddr: AllServers.As16(), Interface: uint32(ifi.Index)}
		serr = unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("join %s on %s: %w", AllServers, ifname, err)
	}
	return c, nil
}

// Handler is the packet handler (for tests).
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
		return errors.New("dhcp6: server already started")
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
		if !addr.IsValid() && ifc.Name != "" {
			addr = interfaceAddr(ifc.Name) // invalid: looked up again per packet until the device has one
		}
		c, err := s.o.ListenPacket(ifc.Name, ifc.Listen)
		if err != nil {
			return fail(fmt.Errorf("dhcp6: listen on %s %s: %w", ifc.Name, ifc.Listen, err))
		}
		socks = append(socks, &sock{conn: c, in: In{Iface: ifc.Name, Addr: addr}})
		s.o.Log.Info("dhcp6: listening", "iface", ifc.Name, "addr", c.LocalAddr().String(), "server_ip", addr.String())
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

// Serve runs the server until ctx ends.
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
// cancelled; Shutdown still waits for the workers and returns ctx's error.
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
				s.o.Log.Warn("dhcp6: read", "iface", k.in.Iface, "err", err)
				time.Sleep(50 * time.Millisecond)
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

// serve handles one packet; a panic is logged and the packet dropped.
func (s *Server) serve(ctx context.Context, j job) {
	defer func() {
		if p := recover(); p != nil {
			s.o.Log.Error("dhcp6: panic handling a packet", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	in := j.s.in
	in.Peer = j.peer
	if !in.Addr.IsValid() && in.Iface != "" {
		in.Addr = interfaceAddr(in.Iface)
	}
	out, to, r := s.h.Handle(ctx, j.b, in)
	if out == nil {
		s.o.Log.Debug("dhcp6: no reply", "iface", in.Iface, "peer", j.peer.String(), "reason", r.String())
		return
	}
	// to keeps the zone the peer arrived with: a link-local client is
	// answered on the link it is on.
	if _, err := j.s.conn.WriteTo(out, net.UDPAddrFromAddrPort(to)); err != nil {
		s.o.Log.Warn("dhcp6: send reply", "iface", in.Iface, "to", to.String(), "err", err)
	}
}

// interfaceAddr is the first global IPv6 address of a device, invalid when
// it has none (looked up per packet: addresses come and go, and a socket
// opened in another namespace would not see them at Start).
func interfaceAddr(name string) netip.Addr {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil {
			if ad, ok := netip.AddrFromSlice(n.IP); ok && !ad.IsLinkLocalUnicast() && !ad.IsLoopback() {
				return ad
			}
		}
	}
	return netip.Addr{}
}
