package ipmi

// Test peers: go-ipmi's own BMC server on 127.0.0.1 (the UDP proxy and
// the silent BMC come from internal/testutil/udpproxy).

import (
	"bytes"
	"context"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
	"log/slog"
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
	conn := udpproxy.Listen(t)
	g.Port = udpproxy.PortOf(conn)
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
