package ipmi

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Pool defaults.
const (
	DefaultMaxPerBMC   = 1
	DefaultIdleTimeout = 30 * time.Second
)

// PoolOptions tune a Pool; the zero value gives the defaults.
type PoolOptions struct {
	// MaxPerBMC caps the calls in flight per BMC (default 1): BMCs have few
	// session slots and small command queues. More callers wait their turn.
	MaxPerBMC int
	// IdleTimeout closes a session nobody used for this long (default 30s),
	// so idle replicas do not hold the BMC's scarce session slots.
	IdleTimeout time.Duration
	// Log receives session and call events; nil discards them.
	Log *slog.Logger
}

// Pool shares IPMI sessions between calls: one session per BMC (address,
// port, user and interface). It owns every goroutine it starts; Close
// waits for them.
type Pool struct {
	opts   PoolOptions
	log    *slog.Logger
	stop   chan struct{} // closed by Close
	closed atomic.Bool

	mu   sync.Mutex
	bmcs map[string]*bmcState

	// wg counts calls in progress, session closers and the reaper, so
	// Close returns only when none of them is left.
	wg sync.WaitGroup
}

// NewPool starts a pool and its idle-session reaper.
func NewPool(o PoolOptions) *Pool {
	if o.MaxPerBMC <= 0 {
		o.MaxPerBMC = DefaultMaxPerBMC
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{
		opts: o,
		log:  o.Log,
		stop: make(chan struct{}),
		bmcs: make(map[string]*bmcState),
	}
	p.wg.Add(1)
	go p.reap()
	return p
}

// BMC returns the handle for one BMC. Handles with the same address, port,
// user and interface share a session, a call cap and the remembered cipher
// suite; the rest of cfg (timeouts, suites, privilege) applies to calls made
// through this handle. An invalid cfg makes every call fail permanently.
func (p *Pool) BMC(cfg Config) *BMC {
	cfg = cfg.withDefaults()
	p.mu.Lock()
	st, ok := p.bmcs[cfg.key()]
	if !ok {
		st = &bmcState{
			endpoint: cfg.endpoint(),
			slots:    make(chan struct{}, p.opts.MaxPerBMC),
			connLock: make(chan struct{}, 1),
			suite:    -1,
		}
		p.bmcs[cfg.key()] = st
	}
	p.mu.Unlock()
	return &BMC{
		p:      p,
		st:     st,
		cfg:    cfg,
		cfgErr: cfg.Validate(),
		device: "bmc " + cfg.endpoint(),
		log:    p.log.With("bmc", cfg.endpoint()),
	}
}

// Close closes every session (sending Close Session to BMCs that still
// answer), waits for calls in progress and stops the pool's goroutines.
// Calls made afterwards fail with ErrPoolClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil
	}
	p.closed.Store(true)
	close(p.stop)
	states := make([]*bmcState, 0, len(p.bmcs))
	for _, st := range p.bmcs {
		states = append(states, st)
	}
	p.mu.Unlock()
	for _, st := range states {
		st.mu.Lock()
		s := st.sess
		st.mu.Unlock()
		if s != nil {
			p.drop(st, s, true, "pool closed")
		}
	}
	p.wg.Wait()
	return nil
}

// enter registers a call; false once the pool is closed. The check and the
// Add happen under mu so that no call starts after Close began waiting.
func (p *Pool) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *Pool) leave() { p.wg.Done() }

// reap closes sessions idle for longer than IdleTimeout.
func (p *Pool) reap() {
	defer p.wg.Done()
	every := min(max(p.opts.IdleTimeout/4, 10*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			states := make([]*bmcState, 0, len(p.bmcs))
			for _, st := range p.bmcs {
				states = append(states, st)
			}
			p.mu.Unlock()
			for _, st := range states {
				st.mu.Lock()
				s := st.sess
				idle := s != nil && s.refs == 0 && now.Sub(s.lastUsed) >= p.opts.IdleTimeout
				st.mu.Unlock()
				if idle {
					p.drop(st, s, true, "idle")
				}
			}
		}
	}
}

// bmcState is what handles of one BMC share.
type bmcState struct {
	endpoint string
	slots    chan struct{} // one token per call in flight, cap MaxPerBMC
	connLock chan struct{} // one session setup at a time

	mu    sync.Mutex
	sess  *session
	suite int // cipher suite that worked last; -1 unknown
	stats Stats
}

// Stats are counters for one BMC, for tests and metrics.
type Stats struct {
	SessionsOpened int64 // sessions established
	SessionsClosed int64 // sessions closed (idle, dead, pool closed)
	Reconnects     int64 // calls that found their session dead and opened a new one
	InFlight       int   // calls holding a slot now
	MaxInFlight    int   // most calls ever in flight at once
	CipherSuite    int   // lanplus suite in use or last used; -1 unknown or lan
	Open           bool  // a session is open
}

// acquire takes a call slot, waiting for one while ctx allows.
func (st *bmcState) acquire(ctx context.Context, stop <-chan struct{}) (release func(), err error) {
	select {
	case st.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-stop:
		return nil, ErrPoolClosed
	}
	st.mu.Lock()
	st.stats.InFlight++
	st.stats.MaxInFlight = max(st.stats.MaxInFlight, st.stats.InFlight)
	st.mu.Unlock()
	return func() {
		st.mu.Lock()
		st.stats.InFlight--
		st.mu.Unlock()
		<-st.slots
	}, nil
}

// session returns the BMC's open session or opens one; fresh reports the
// latter. The caller must release it.
func (p *Pool) session(ctx context.Context, st *bmcState, cfg Config, log *slog.Logger) (s *session, fresh bool, err error) {
	if s := st.take(); s != nil {
		return s, false, nil
	}
	select {
	case st.connLock <- struct{}{}:
	case <-ctx.Done():
		return nil, false, fail(ErrBusy, true, ctx.Err(), "gave up waiting for another call to open the session: %v", ctx.Err())
	}
	defer func() { <-st.connLock }()
	if s := st.take(); s != nil { // a concurrent call opened one meanwhile
		return s, false, nil
	}
	st.mu.Lock()
	remembered := st.suite
	st.mu.Unlock()

	start := time.Now()
	c, suite, err := p.connect(ctx, cfg, remembered, log)
	if err != nil {
		return nil, false, err
	}
	s = &session{c: c, suite: suite, lock: make(chan struct{}, 1), refs: 1, lastUsed: time.Now(),
		closeTimeout: min(cfg.perTry(), maxCloseWait)}
	st.mu.Lock()
	st.sess = s
	if suite >= 0 {
		st.suite = suite
	}
	st.stats.SessionsOpened++
	st.mu.Unlock()
	log.Info("ipmi session opened", "interface", cfg.Interface, "cipher_suite", suite,
		"privilege", cfg.Privilege, "elapsed", time.Since(start))
	return s, true, nil
}

// take returns the open session with a reference taken, or nil.
func (st *bmcState) take() *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess == nil {
		return nil
	}
	st.sess.refs++
	return st.sess
}

// release gives back a reference; the last one closes a dropped session.
func (p *Pool) release(st *bmcState, s *session) {
	st.mu.Lock()
	s.refs--
	s.lastUsed = time.Now()
	closing := p.closed.Load() && !s.dropped
	st.mu.Unlock()
	if closing { // the pool closed while this call was opening or using it
		p.drop(st, s, true, "pool closed")
		return
	}
	p.closeIfUnused(st, s)
}

// drop retires s so no call picks it up again; it is closed once unused.
// graceful sends Close Session first; a dead session is just forgotten.
func (p *Pool) drop(st *bmcState, s *session, graceful bool, reason string) {
	st.mu.Lock()
	if st.sess == s {
		st.sess = nil
	}
	if !s.dropped {
		s.dropped, s.graceful, s.reason = true, graceful, reason
	}
	st.mu.Unlock()
	p.closeIfUnused(st, s)
}

func (p *Pool) closeIfUnused(st *bmcState, s *session) {
	st.mu.Lock()
	ready := s.dropped && s.refs == 0 && !s.closing
	if ready {
		s.closing = true
	}
	graceful, reason, timeout := s.graceful, s.reason, s.closeTimeout
	st.mu.Unlock()
	if !ready {
		return
	}
	// Closing waits for go-ipmi's socket lock, which a timed-out exchange
	// may hold for one more try; do it on a pool-owned goroutine.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if !graceful {
			cancel() // a canceled context skips the Close Session packet
		}
		defer cancel()
		err := s.c.Close(ctx)
		st.mu.Lock()
		st.stats.SessionsClosed++
		st.mu.Unlock()
		p.log.Info("ipmi session closed", "bmc", st.endpoint, "cipher_suite", s.suite,
			"reason", reason, "close_error", errString(err, graceful))
	}()
}

func errString(err error, graceful bool) string {
	if err == nil || !graceful {
		return ""
	}
	return err.Error()
}

// stats snapshots the counters.
func (st *bmcState) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.stats
	s.CipherSuite = st.suite
	s.Open = st.sess != nil
	return s
}
