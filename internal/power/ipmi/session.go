package ipmi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
)

// maxCloseWait bounds the Close Session exchange of a retiring session.
const maxCloseWait = 2 * time.Second

// session is one established go-ipmi client. Fields after lock are guarded
// by the owning bmcState's mu.
type session struct {
	c            *client.Client
	suite        int // lanplus cipher suite; -1 for lan
	closeTimeout time.Duration
	// lock lets one request at a time through: go-ipmi picks a request's
	// expected sequence number and assigns the real one under two separate
	// lock acquisitions, so concurrent requests on one client can mismatch.
	// go-ipmi's own keep-alive (Get Session Info every 30s, on a goroutine
	// that Close stops) bypasses this lock; a rare collision costs one
	// unanswered request, which the dead-session retry absorbs.
	lock chan struct{}

	refs     int
	lastUsed time.Time
	dropped  bool
	graceful bool
	closing  bool
	reason   string
}

// connect opens a session. For lanplus it walks the cipher suites, the
// remembered one first, moving on at once when the BMC rejects a suite.
func (p *Pool) connect(ctx context.Context, cfg Config, remembered int, log *slog.Logger) (*client.Client, int, error) {
	if cfg.Interface == InterfaceLan {
		c, err := p.dial(ctx, cfg, -1)
		if err != nil {
			f, _ := classifyConnect(err, cfg, -1)
			return nil, -1, f
		}
		return c, -1, nil
	}

	order := cfg.CipherSuites
	if slices.Contains(order, remembered) {
		order = append([]int{remembered}, slices.DeleteFunc(slices.Clone(order), func(s int) bool { return s == remembered })...)
	}
	var (
		last             *failure
		rejected, silent []string
	)
	for _, suite := range order {
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		c, err := p.dial(ctx, cfg, suite)
		if err == nil {
			return c, suite, nil
		}
		f, next := classifyConnect(err, cfg, suite)
		if !next {
			return nil, -1, f
		}
		last = f
		if f.kind == ErrNoAnswer {
			silent = append(silent, fmt.Sprint(suite))
		} else {
			rejected = append(rejected, fmt.Sprint(suite))
		}
		log.Warn("ipmi cipher suite failed, trying the next one", "cipher_suite", suite,
			"elapsed", time.Since(start), "err", f.msg)
	}
	if len(silent) > 0 || last == nil || ctx.Err() != nil {
		return nil, -1, fail(ErrNoAnswer, true, last,
			"no RMCP+ session could be opened: cipher suites rejected [%s], unanswered [%s]",
			strings.Join(rejected, ", "), strings.Join(silent, ", "))
	}
	return nil, -1, fail(ErrCipherSuites, false, last,
		"the BMC rejected every cipher suite tried (%s)", strings.Join(rejected, ", "))
}

// dial makes a client and connects it; a client that failed is closed
// without talking to the BMC again.
func (p *Pool) dial(ctx context.Context, cfg Config, suite int) (*client.Client, error) {
	c, err := cfg.newClient(suite)
	if err != nil {
		return nil, fail(ErrConfig, false, err, "invalid BMC configuration: %v", err)
	}
	if err := c.Connect(ctx); err != nil {
		p.discard(c)
		return nil, err
	}
	return c, nil
}

// discard closes a client whose session never came up. The canceled
// context keeps Close from sending Close Session; it only frees the socket.
func (p *Pool) discard(c *client.Client) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.Close(ctx)
	}()
}

// request runs one IPMI request on the session, one at a time.
func (s *session) request(ctx context.Context, what string, fn func(context.Context, *client.Client) error) error {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return &requestError{what: what, err: ctx.Err()}
	}
	defer func() { <-s.lock }()
	if err := fn(ctx, s.c); err != nil {
		return &requestError{what: what, err: err}
	}
	return nil
}
