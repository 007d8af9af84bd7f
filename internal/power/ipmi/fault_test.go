package ipmi

import (
	"context"
	"errors"
	"fmt"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/testutil/ipmisim"
)

func TestSilentBMC(t *testing.T) {
	t.Parallel()
	for _, intf := range []string{InterfaceLan, InterfaceLanplus} {
		t.Run(intf, func(t *testing.T) {
			t.Parallel()
			peer := udpproxy.StartSilent(t)
			pool, _ := newTestPool(t, PoolOptions{})
			b := pool.BMC(Config{Address: "127.0.0.1", Port: peer.Port(), Username: "admin",
				Password: "secret", Interface: intf, CallTimeout: time.Second})
			var err error
			timed(t, "State against a silent BMC (CallTimeout 1s)", func() error { _, err = b.State(context.Background()); return err })
			var de *power.DeviceError
			if !errors.As(err, &de) || !de.Transient || !errors.Is(err, ErrNoAnswer) {
				t.Fatalf("err = %#v, want a transient DeviceError wrapping ErrNoAnswer", err)
			}
			t.Logf("operator message: %v; the peer got %d datagrams", err, peer.Received())
			if !strings.HasPrefix(err.Error(), "bmc 127.0.0.1:") || !strings.Contains(de.Msg, "no answer") {
				t.Fatalf("message %q is not clear", err)
			}
		})
	}
}

func TestNothingListening(t *testing.T) {
	t.Parallel()
	c := udpproxy.Listen(t)
	port := udpproxy.PortOf(c)
	c.Close() // the kernel now answers with ICMP port unreachable
	pool, _ := newTestPool(t, PoolOptions{})
	b := pool.BMC(Config{Address: "127.0.0.1", Port: port, Username: "admin", Password: "secret"})
	var err error
	timed(t, "State with nothing listening", func() error { _, err = b.State(context.Background()); return err })
	if !power.IsTransient(err) || !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("err = %v, want transient ErrNoAnswer", err)
	}
	t.Logf("operator message: %v", err)
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	peer := udpproxy.StartSilent(t)
	pool, _ := newTestPool(t, PoolOptions{})
	b := pool.BMC(Config{Address: "127.0.0.1", Port: peer.Port(), Username: "admin", Password: "secret"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var err error
	timed(t, "On canceled after 100ms (CallTimeout 5s)", func() error { err = b.On(ctx); return err })
	if !errors.Is(err, ErrCanceled) || !power.IsTransient(err) {
		t.Fatalf("err = %v, want transient ErrCanceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	timed(t, "State with a 200ms caller deadline", func() error { _, err = b.State(ctx); return err })
	if !power.IsTransient(err) || !errors.Is(err, ErrCanceled) || !strings.Contains(err.Error(), "caller's deadline") {
		t.Fatalf("err = %v, want transient ErrCanceled naming the caller's deadline", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	ok := Config{Address: "127.0.0.1", Username: "admin", Password: "secret"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no address", func(c *Config) { c.Address = "" }, "address is empty"},
		{"bad interface", func(c *Config) { c.Interface = "serial" }, "interface"},
		{"bad suite", func(c *Config) { c.CipherSuites = []int{17, 99} }, "cipher suite 99"},
		{"bad privilege", func(c *Config) { c.Privilege = "root" }, "privilege"},
		{"long user", func(c *Config) { c.Username = strings.Repeat("u", 17) }, "user name"},
		{"long v1.5 password", func(c *Config) { c.Interface = "lan"; c.Password = "0123456789abcdefg" }, "16 characters"},
		{"negative timeout", func(c *Config) { c.CallTimeout = -time.Second }, "call timeout"},
	}
	pool, _ := newTestPool(t, PoolOptions{})
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := pool.BMC(cfg).State(context.Background())
			if !errors.Is(err, ErrConfig) || power.IsTransient(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want permanent ErrConfig mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(cfg.Password)) {
				t.Fatalf("message %q shows the password", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Address: "10.0.0.5", Username: "admin", CipherSuites: []int{3, 17, 3}}.withDefaults()
	if c.Port != 623 || c.Interface != InterfaceLanplus || c.Privilege != "administrator" ||
		c.CallTimeout != 5*time.Second || c.Retries != 1 || fmt.Sprint(c.CipherSuites) != "[3 17]" {
		t.Fatalf("defaults = %+v", c)
	}
	if got := c.perTry(); got != 1250*time.Millisecond {
		t.Fatalf("perTry = %v, want 1.25s (half the call timeout over two tries)", got)
	}
	if d := (Config{}).withDefaults(); fmt.Sprint(d.CipherSuites) != "[17 3]" {
		t.Fatalf("default suites = %v", d.CipherSuites)
	}
	if c := (Config{Retries: -1}).withDefaults(); c.Retries != 0 || c.perTry() != 2500*time.Millisecond {
		t.Fatalf("Retries -1: %d tries of %v", c.Retries+1, c.perTry())
	}
}

func TestClassifyConnect(t *testing.T) {
	t.Parallel()
	cfg := Config{Username: "admin", Port: 623}.withDefaults()
	// Error texts as go-ipmi v0.9.1 produces them against ipmi_sim and pkg/server.
	tests := []struct {
		text      string
		kind      error
		transient bool
		next      bool
	}{
		{"connect20 failed after try all cipher suite ids ([17]), errs: \ncmd: RMCP+ Open Session failed with cipher suite id (17), err: client exchange failed, err: unpack session setup response failed, err: unpacked data is too short (2/8)", ErrCipherSuites, false, true},
		{"connect20 failed after try all cipher suite ids ([17]), errs: \ncmd: RMCP+ Open Session failed with cipher suite id (17), err: RMCP+ status 0x04: Invalid authentication algorithm", ErrCipherSuites, false, true},
		{"connect20 failed after try all cipher suite ids ([3]), errs: \ncmd: rakp1 failed with cipher suite id (3), err: validate rakp2 message failed, err: RAKP2 authentication code mismatch: RAKP authentication failed", ErrAuth, false, false},
		{"connect20 failed ..., errs: \ncmd: rakp1 failed with cipher suite id (3), err: validate rakp2 message failed, err: RMCP+ status 0x0d: Unauthorized name", ErrAuth, false, false},
		{"connect20 failed ..., errs: \ncmd: RMCP+ Open Session failed with cipher suite id (3), err: RMCP+ status 0x01: Insufficient resources to create a session", ErrBusy, true, false},
		{"ActivateSession failed, err: IPMI LAN: no matching IPMI response (expected rqSeq 0x03, command 0x3a) before UDP read deadline after 2 attempt(s): udp exchange: no datagram matched before deadline", ErrAuth, false, false},
		{"ActivateSession failed, err: cc: 0x85, description: ipmiRes CompletionCode (0x85) is not normal: Invalid Session ID in request", ErrAuth, false, false},
		{"ActivateSession failed, err: cc: 0x81, description: no session slot available", ErrBusy, true, false},
		{"GetSessionChallenge failed, err: cc: 0x81, description: invalid user name", ErrAuth, false, false},
		{"cmd: Get Channel Authentication Capabilities failed, err: IPMI LAN: UDP read timed out waiting for BMC response after 2 attempt(s): read from conn failed, err: read udp 127.0.0.1:1->127.0.0.1:2: i/o timeout", ErrNoAnswer, true, false},
		{"SetSessionPrivilegeLevel to (ADMINISTRATOR) failed, err: cc: 0x81, description: x", ErrPrivilege, false, false},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			f, next := classifyConnect(errors.New(tc.text), cfg, 3)
			if !errors.Is(f, tc.kind) || f.transient != tc.transient || next != tc.next {
				t.Fatalf("classifyConnect(%q) = %v (%v, transient=%v, next=%v), want %v transient=%v next=%v",
					tc.text, f.msg, f.kind, f.transient, next, tc.kind, tc.transient, tc.next)
			}
		})
	}
}

func TestPoolClosed(t *testing.T) {
	t.Parallel()
	p := NewPool(PoolOptions{})
	b := p.BMC(Config{Address: "127.0.0.1", Username: "admin", Password: "x"})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.On(context.Background()); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("On after Close = %v, want ErrPoolClosed", err)
	}
}

// TestNoGoroutineLeak drives the pool through success, silence, cancel,
// restart and idle expiry, closes it and checks every goroutine is gone.
// Not parallel: it counts the process's goroutines.
func TestNoGoroutineLeak(t *testing.T) {
	sim := ipmisim.Start(t, ipmisim.Options{})
	peer := udpproxy.StartSilent(t)
	before := runtime.NumGoroutine()

	p := NewPool(PoolOptions{IdleTimeout: 100 * time.Millisecond, MaxPerBMC: 2})
	ctx := context.Background()
	for _, intf := range []string{InterfaceLan, InterfaceLanplus} {
		b := p.BMC(simConfig(sim, sim.Port, intf))
		if err := b.On(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Off(ctx); err != nil {
			t.Fatal(err)
		}
	}
	silent := p.BMC(Config{Address: "127.0.0.1", Port: peer.Port(), Username: "admin", Password: "x", CallTimeout: 400 * time.Millisecond})
	if _, err := silent.State(ctx); err == nil {
		t.Fatal("silent BMC answered")
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _ = silent.State(cctx)
	cancel()
	b := p.BMC(simConfig(sim, sim.Port, InterfaceLanplus))
	waitFor(t, "idle sessions closed", func() bool { return !b.Stats().Open })
	if _, err := b.State(ctx); err != nil { // leave one session open for Close
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Open || st.SessionsClosed != st.SessionsOpened {
		t.Fatalf("after Close: %+v, want every session closed", st)
	}
	settleGoroutines(t, before)
}
