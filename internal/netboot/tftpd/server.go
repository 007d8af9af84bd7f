// Package tftpd is dcimd's read-only TFTP server for network boot. It
// serves boot loaders from configured directories (and, after them, an
// optional embedded file system such as the netboot/ assets) on top of
// github.com/pin/tftp/v3, which does the protocol: RFC 1350, option
// negotiation (RFC 2347), blksize (RFC 2348) and tsize (RFC 2349).
//
// What this package adds around the library: path checks (no absolute
// names, no "..", no symlink out of a root, regular files only), a cap on
// concurrent transfers, a bounded Shutdown, statistics and Prometheus
// metrics, and guards for the library's panics on hostile packets.
package tftpd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pin/tftp/v3"
)

// Defaults for zero Options fields.
const (
	DefaultMaxTransfers = 64
	DefaultTimeout      = time.Second
	DefaultRetries      = 5
	DefaultBlockSizeMax = 65464
)

// windowBudget bounds the bytes a window may put in flight: the library's
// window is server-wide and counted in blocks, and a window larger than
// the client's socket buffer loses datagrams it cannot recover (see
// Options.Window).
const windowBudget = 64 << 10

// Options configure a Server. Zero fields take the defaults above.
type Options struct {
	// Addr is the UDP address to listen on: "127.0.0.1:69", ":69", or
	// port 0 for any free port (see Server.Addr).
	Addr string
	// Roots are directories searched in order; a file is served from the
	// first root that has it as a regular file.
	Roots []string
	// Files, when set, is searched after Roots (the embedded netboot/
	// boot loaders).
	Files fs.FS
	// MaxTransfers caps concurrent transfers; a request over the cap gets
	// a TFTP error "server busy" at once.
	MaxTransfers int
	// Timeout is how long the server waits for each acknowledgement
	// before it sends the block again; Retries is how many times it does.
	// The client's RFC 2349 "timeout" option is not honoured (pin/tftp
	// drops it from the OACK, so the client keeps its own default).
	Timeout time.Duration
	Retries int
	// BlockSizeMax caps the blksize option, 513 to 65464. pin/tftp also
	// caps it at the receiving interface's MTU minus IP and UDP headers,
	// so a 1500-byte Ethernet link never gets more than 1472.
	BlockSizeMax int
	// Window, above 1, turns on pin/tftp's experimental "anticipate"
	// mode: the server sends Window blocks before it waits for their
	// acknowledgements. It is NOT RFC 7440: windowsize is not negotiated
	// (clients that ask for it get no answer and acknowledge every
	// block, which this mode needs), and after a lost datagram the
	// library waits for acknowledgements that atftp and tftp-hpa never
	// repeat, so one loss can stall a transfer until Retries run out.
	// New lowers it so a window holds at most 64 KiB of blocks of
	// BlockSizeMax. Zero or 1 (the default) is lock-step.
	Window int
	// Log receives transfer and refusal records; nil discards them.
	Log *slog.Logger
}

// Server is a read-only TFTP server. Create it with New, run it with Start
// or Serve, stop it with Shutdown.
type Server struct {
	opts   Options
	log    *slog.Logger
	window int
	st     counters

	mu        sync.Mutex
	state     int // stateNew, stateRunning, stateClosing
	lib       *tftp.Server
	conn      net.PacketConn
	roots     []*os.Root
	inflight  int
	transfers sync.WaitGroup // our read handlers; Shutdown waits for them
	served    chan struct{}  // closed when the library's Serve returns
	serveErr  error          // what it returned, read after served is closed
	drained   chan struct{}  // closed when Shutdown's work is done
	stop      context.Context
	cancel    context.CancelFunc
}

const (
	stateNew = iota
	stateRunning
	stateClosing
)

// New returns a server for opts; nothing is opened until Start.
func New(opts Options) *Server {
	if opts.MaxTransfers <= 0 {
		opts.MaxTransfers = DefaultMaxTransfers
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Retries <= 0 {
		opts.Retries = DefaultRetries
	}
	if opts.BlockSizeMax == 0 {
		opts.BlockSizeMax = DefaultBlockSizeMax
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := opts.Window
	if w > 1 {
		w = min(w, windowBudget/(opts.BlockSizeMax+4), 60) // 60: the library's own ceiling
	}
	return &Server{opts: opts, log: log, window: max(w, 1)}
}

// Window is the send window in effect (1: lock-step), after Start's cap.
func (s *Server) Window() int { return s.window }

// Start opens the roots, binds the socket and serves in the background
// until Shutdown. It returns once the socket is bound.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("tftp: server already started")
	}
	if s.opts.BlockSizeMax < 513 || s.opts.BlockSizeMax > 65464 {
		// pin/tftp ignores SetBlockSize outside 513..65464 and would then
		// allow blocks up to the MTU.
		return fmt.Errorf("tftp: block size cap %d outside 513..65464", s.opts.BlockSizeMax)
	}
	if len(s.opts.Roots) == 0 && s.opts.Files == nil {
		return errors.New("tftp: no root directory and no embedded files")
	}
	roots := make([]*os.Root, 0, len(s.opts.Roots))
	for _, dir := range s.opts.Roots {
		r, err := os.OpenRoot(dir)
		if err != nil {
			closeRoots(roots)
			return fmt.Errorf("tftp: open root %q: %w", dir, err)
		}
		roots = append(roots, r)
	}
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp", s.opts.Addr)
	if err != nil {
		closeRoots(roots)
		return fmt.Errorf("tftp: listen on %q: %w", s.opts.Addr, err)
	}

	lib := tftp.NewServer(s.handleRead, s.handleWrite)
	lib.SetTimeout(s.opts.Timeout)
	lib.SetRetries(s.opts.Retries)
	lib.SetBlockSize(s.opts.BlockSizeMax)
	// The library's default backoff sleeps up to a second at random before
	// each retransmission, on top of the timeout already waited.
	lib.SetBackoff(func(int) time.Duration { return 0 })
	lib.SetHook(hook{s})
	if s.window > 1 {
		lib.SetAnticipate(uint(s.window))
	}

	s.lib, s.conn, s.roots = lib, conn, roots
	s.stop, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.served, s.drained = make(chan struct{}), make(chan struct{})
	s.state = stateRunning
	go func() {
		defer close(s.served)
		if err := lib.Serve(conn); err != nil {
			s.serveErr = fmt.Errorf("tftp: serve: %w", err)
			s.log.Error("tftp: serve", "err", err)
		}
	}()
	s.log.Info("tftp: listening", "addr", conn.LocalAddr().String(), "roots", s.opts.Roots,
		"embedded", s.opts.Files != nil, "max_transfers", s.opts.MaxTransfers,
		"block_size_max", s.opts.BlockSizeMax, "window", s.window)
	return nil
}

// Serve starts the server if it is not running, serves until ctx is done,
// then shuts down within the time a stalled transfer can take (Timeout ×
// (Retries+1) and a second). It returns an error if the server could not
// start, stopped on its own, or did not drain in that time.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	fresh := s.state == stateNew
	s.mu.Unlock()
	if fresh {
		if err := s.Start(ctx); err != nil {
			return err
		}
	}
	var served error
	select {
	case <-ctx.Done():
	case <-s.served:
		served = s.serveErr
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.DrainTimeout())
	defer cancel()
	return errors.Join(served, s.Shutdown(sctx))
}

// DrainTimeout bounds how long Shutdown can wait for a transfer whose
// client stopped answering.
func (s *Server) DrainTimeout() time.Duration {
	return s.opts.Timeout*time.Duration(s.opts.Retries+1) + time.Second
}

// Addr is the bound address (the real port when Options.Addr had port
// 0), or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	return s.conn.LocalAddr()
}

// Shutdown stops taking requests, ends running transfers at their next
// block (the client gets "server shutting down") and waits for them until
// ctx is done. A transfer waiting on a silent client ends after at most
// DrainTimeout; if ctx ends first Shutdown returns its error and the rest
// finishes in the background. Calling it again waits again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateNew:
		s.mu.Unlock()
		return nil
	case stateRunning:
		s.state = stateClosing
		s.cancel()
		go s.drain()
	}
	drained := s.drained
	s.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tftp: shutdown with %d transfers running: %w", s.Stats().InFlight, ctx.Err())
	}
}

// drain owns the library shutdown: it closes the socket and waits for the
// library's transfers and for our handlers.
func (s *Server) drain() {
	s.lib.Shutdown()
	s.conn.Close() // the library only closes it if its Serve got that far
	<-s.served
	s.transfers.Wait()
	closeRoots(s.roots)
	s.log.Info("tftp: stopped", "addr", s.conn.LocalAddr().String())
	close(s.drained)
}

func closeRoots(roots []*os.Root) {
	for _, r := range roots {
		r.Close()
	}
}

// enter admits a transfer under the cap; leave releases it.
func (s *Server) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		s.st.refused[reasonShutdown].Add(1)
		return errShutdown
	}
	if s.inflight >= s.opts.MaxTransfers {
		s.st.refused[reasonBusy].Add(1)
		return errBusy
	}
	s.inflight++
	s.st.inflight.Store(int64(s.inflight))
	s.transfers.Add(1)
	return nil
}

func (s *Server) leave() {
	s.mu.Lock()
	s.inflight--
	s.st.inflight.Store(int64(s.inflight))
	s.mu.Unlock()
	s.transfers.Done()
}

// counters are the live statistics behind Stats and the collector.
type counters struct {
	started, completed, failed, bytes, badPackets, panics atomic.Uint64
	refused                                               [numReasons]atomic.Uint64
	inflight                                              atomic.Int64
}
