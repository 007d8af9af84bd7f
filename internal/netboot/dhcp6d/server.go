package dhcp6d

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcimd/dcimd/internal/netboot/udppool"
	"golang.org/x/sys/unix"
)

// AllServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
var AllServers = netip.MustParseAddr("ff02::1:2")

// Server listens on the configured interfaces and answers with a Handler:
// one reader per socket, a fixed pool of workers.
type Server struct {
	h *Handler
	o Options

	mu    sync.Mutex
	state int // 0 new, 1 running, 2 stopped
	pool  *udppool.Pool[In]
}

type sock = udppool.Socket[In]

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
			k.Conn.Close()
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
		socks = append(socks, &sock{Conn: c, Info: In{Iface: ifc.Name, Addr: addr}})
		s.o.Log.Info("dhcp6: listening", "iface", ifc.Name, "addr", c.LocalAddr().String(), "server_ip", addr.String())
	}
	s.pool = udppool.Start(socks, udppool.Options{Name: "dhcp6", Workers: s.o.Workers, Queue: s.o.Queue, MaxPacket: MaxPacket,
		Log: s.o.Log, QueueFull: func() { s.h.stats.add(DropQueueFull) }}, s.serve)
	s.state = 1
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

// serve handles one packet; a panic is logged and the packet dropped.
func (s *Server) serve(ctx context.Context, k *sock, b []byte, peer netip.AddrPort) {
	in := k.Info
	in.Peer = peer
	if !in.Addr.IsValid() && in.Iface != "" {
		in.Addr = interfaceAddr(in.Iface)
	}
	out, to, r := s.h.Handle(ctx, b, in)
	if out == nil {
		s.o.Log.Debug("dhcp6: no reply", "iface", in.Iface, "peer", peer.String(), "reason", r.String())
		return
	}
	// to keeps the zone the peer arrived with: a link-local client is
	// answered on the link it is on.
	if _, err := k.Conn.WriteTo(out, net.UDPAddrFromAddrPort(to)); err != nil {
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
