// Package udppool serves UDP sockets with one reader per socket feeding a
// fixed pool of workers through a bounded queue: a flood drops packets
// (counted by the caller) instead of starting a goroutine per packet. The
// DHCPv4 and DHCPv6 servers run on it.
package udppool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Socket is one listening socket with what its handler needs to know of
// it (the interface, its address, ...).
type Socket[T any] struct {
	Conn net.PacketConn
	Info T
}

// Handler handles one packet received on s from peer; b is its own copy.
type Handler[T any] func(ctx context.Context, s *Socket[T], b []byte, peer netip.AddrPort)

// Options tune a pool.
type Options struct {
	Name      string // log prefix: "dhcp4"
	Workers   int    // handlers running at once
	Queue     int    // received packets that may wait for a worker
	MaxPacket int    // read buffer; a longer datagram is cut (the handler sees MaxPacket+1 bytes)
	Log       *slog.Logger
	// QueueFull counts a packet dropped because the queue was full.
	QueueFull func()
}

type job[T any] struct {
	s    *Socket[T]
	b    []byte
	peer netip.AddrPort
}

// Pool reads its sockets and runs the handler on a pool of workers.
type Pool[T any] struct {
	o        Options
	h        Handler[T]
	socks    []*Socket[T]
	jobs     chan job[T]
	cancel   context.CancelFunc
	stopping atomic.Bool
	readers  sync.WaitGroup
	workers  sync.WaitGroup

	mu      sync.Mutex
	stopped bool
}

// Start serves socks until Shutdown.
func Start[T any](socks []*Socket[T], o Options, h Handler[T]) *Pool[T] {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool[T]{o: o, h: h, socks: socks, jobs: make(chan job[T], o.Queue), cancel: cancel}
	for range o.Workers {
		p.workers.Add(1)
		go p.work(ctx)
	}
	for _, s := range socks {
		p.readers.Add(1)
		go p.read(s)
	}
	return p
}

// Shutdown stops reading, lets the workers handle what was received, and
// closes the sockets. When ctx ends first, the handlers' context is
// cancelled; Shutdown still waits for them and returns ctx's error.
func (p *Pool[T]) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	p.stopped = true
	p.stopping.Store(true)
	for _, s := range p.socks {
		_ = s.Conn.SetReadDeadline(time.Now())
	}
	p.readers.Wait()
	close(p.jobs)
	done := make(chan struct{})
	go func() { p.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		p.cancel()
		<-done
	}
	p.cancel()
	for _, s := range p.socks {
		s.Conn.Close()
	}
	return err
}

// Addrs are the sockets' local addresses.
func (p *Pool[T]) Addrs() []net.Addr {
	out := make([]net.Addr, len(p.socks))
	for i, s := range p.socks {
		out[i] = s.Conn.LocalAddr()
	}
	return out
}

func (p *Pool[T]) read(s *Socket[T]) {
	defer p.readers.Done()
	buf := make([]byte, p.o.MaxPacket+1)
	for {
		n, peer, err := s.Conn.ReadFrom(buf)
		if err != nil {
			if p.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				p.o.Log.Warn(p.o.Name+": read", "addr", s.Conn.LocalAddr().String(), "err", err)
				time.Sleep(50 * time.Millisecond) // a failing socket must not spin
			}
			continue
		}
		var pa netip.AddrPort
		if ua, ok := peer.(*net.UDPAddr); ok {
			pa = ua.AddrPort()
		}
		select {
		case p.jobs <- job[T]{s: s, b: bytes.Clone(buf[:n]), peer: pa}:
		default:
			if p.o.QueueFull != nil {
				p.o.QueueFull()
			}
		}
	}
}

func (p *Pool[T]) work(ctx context.Context) {
	defer p.workers.Done()
	for j := range p.jobs {
		p.serve(ctx, j)
	}
}

// serve handles one packet. A panic is a bug, but one packet must not take
// the boot infrastructure down: it is logged with its stack and dropped.
func (p *Pool[T]) serve(ctx context.Context, j job[T]) {
	defer func() {
		if r := recover(); r != nil {
			p.o.Log.Error(p.o.Name+": panic handling a packet", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	p.h(ctx, j.s, j.b, j.peer)
}
