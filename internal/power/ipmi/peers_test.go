package ipmi

// Test peers: a UDP proxy (counting, optionally slow), a silent BMC and
// go-ipmi's own BMC server, all on 127.0.0.1.

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/clock"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
	"github.com/bougou/go-ipmi/pkg/types"
)

func listenUDP(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func portOf(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// udpProxy relays datagrams to a BMC, one upstream socket per client
// socket, so the number of client sockets it saw is the number of go-ipmi
// clients (sessions and session attempts) that talked to the BMC.
type udpProxy struct {
	conn     *net.UDPConn
	upstream *net.UDPAddr
	delay    time.Duration

	requests atomic.Int64
	mu       sync.Mutex
	flows    map[string]*net.UDPConn
	wg       sync.WaitGroup
}

// startProxy relays to 127.0.0.1:upstreamPort; delay holds back every answer.
func startProxy(t testing.TB, upstreamPort int, delay time.Duration) *udpProxy {
	t.Helper()
	p := &udpProxy{
		conn:     listenUDP(t),
		upstream: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: upstreamPort},
		delay:    delay,
		flows:    make(map[string]*net.UDPConn),
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.stop)
	return p
}

func (p *udpProxy) Port() int { return portOf(p.conn) }

// Clients counts the distinct client sockets seen.
func (p *udpProxy) Clients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flows)
}

// Requests counts datagrams from clients to the BMC.
func (p *udpProxy) Requests() int64 { return p.requests.Load() }

func (p *udpProxy) serve() {
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

func (p *udpProxy) answer(up *net.UDPConn, client *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := up.Read(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && !ne.Timeout() && !isClosed(err) {
				continue // ICMP refusals while the BMC restarts
			}
			return
		}
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		_, _ = p.conn.WriteToUDP(buf[:n], client)
	}
}

func isClosed(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("use of closed"))
}

func (p *udpProxy) stop() {
	p.conn.Close()
	p.mu.Lock()
	for _, up := range p.flows {
		up.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// silentBMC reads datagrams and never answers; it counts what it got.
type silentBMC struct {
	conn     *net.UDPConn
	received atomic.Int64
	done     chan struct{}
}

func startSilentBMC(t testing.TB) *silentBMC {
	t.Helper()
	s := &silentBMC{conn: listenUDP(t), done: make(chan struct{})}
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

// testChassis wraps go-ipmi's mock chassis: resets are counted race-free
// and a stuck chassis accepts power commands without changing state.
type testChassis struct {
	*mock.Chassis
	stuck  bool // set before the server starts
	resets atomic.Int32
}

func (c *testChassis) SetPower(ctx context.Context, on bool) error {
	if c.stuck {
		return nil
	}
	return c.Chassis.SetPower(ctx, on)
}

func (c *testChassis) ColdReset(context.Context) error {
	c.resets.Add(1)
	return nil
}

type testHAL struct {
	*mock.HAL
	ch *testChassis
}

func (h *testHAL) Chassis() hal.ChassisHAL { return h.ch }

// goBMC is go-ipmi's reference BMC server (pkg/server), which, unlike
// ipmi_sim, implements cipher suite 17 and keeps every boot flag.
type goBMC struct {
	Port     int
	User     string
	Password string
	Chassis  *testChassis
}

func startGoBMC(t testing.TB, suites []int, stuck bool) *goBMC {
	t.Helper()
	g := &goBMC{User: "admin", Password: "go-ipmi-secret", Chassis: &testChassis{Chassis: &mock.Chassis{}, stuck: stuck}}
	b := bmc.New(bmc.DeviceInfo{IPMIVersion: 0x20}, [16]byte{}, &testHAL{HAL: mock.New(), ch: g.Chassis}, bmc.WithClock(clock.Real))
	u, err := b.Users.Add(2, g.User)
	if err != nil {
		t.Fatal(err)
	}
	u.SetPassword([]byte(g.Password))
	u.Enabled = true
	u.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: bmc.PrivilegeLevelAdministrator, Enabled: true}

	ids := make([]types.CipherSuiteID, len(suites))
	for i, s := range suites {
		ids[i] = types.CipherSuiteID(s)
	}
	conn := listenUDP(t)
	g.Port = portOf(conn)
	srv := server.NewServer(b, udp.Wrap(conn, udp.WithReadTimeout(100*time.Millisecond)), server.WithCipherSuites(ids))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); _ = srv.Close(); <-done })
	return g
}

func (g *goBMC) config() Config {
	return Config{Address: "127.0.0.1", Port: g.Port, Username: g.User, Password: secretOf(g.Password), Interface: InterfaceLanplus}
}

// logBuffer collects the pool's log for assertions and echoes it to the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestPool makes a pool logging at debug level and closes it in Cleanup.
func newTestPool(t testing.TB, o PoolOptions) (*Pool, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	o.Log = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := NewPool(o)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("pool close: %v", err)
		}
		if t.Failed() {
			t.Logf("pool log:\n%s", lb.String())
		}
	})
	return p, lb
}

// settleGoroutines waits until the goroutine count is back to before.
func settleGoroutines(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			t.Logf("goroutines: %d before, %d after", before, n)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d before, %d after\n%s", before, n, buf)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
