package ipmi

// Tests against go-ipmi's own BMC (pkg/server): cipher suite 17, the
// 17 → 3 fallback, boot flags ipmi_sim drops, and a chassis that ignores
// power commands.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/dcimd/dcimd/internal/power"
)

func TestCipherSuiteFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		server    []int // suites the BMC accepts
		client    []int // Config.CipherSuites; nil = default [17, 3]
		wantSuite int
		wantErr   error
		fallbacks int // "trying the next one" log lines on the first connect
	}{
		{name: "BMC with 17 and 3 uses 17", server: []int{3, 17}, wantSuite: 17},
		{name: "BMC with only 17", server: []int{17}, wantSuite: 17},
		{name: "BMC with only 3 falls back to 3", server: []int{3}, wantSuite: 3, fallbacks: 1},
		{name: "client order 3, 17 uses 3", server: []int{3, 17}, client: []int{3, 17}, wantSuite: 3},
		{name: "BMC with only 3, client only 17", server: []int{3}, client: []int{17}, wantErr: ErrCipherSuites},
		{name: "BMC with only 17, client 3 then 1", server: []int{17}, client: []int{3, 1}, wantErr: ErrCipherSuites},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGoBMC(t, tc.server, false)
			pool, logs := newTestPool(t, PoolOptions{IdleTimeout: 50 * time.Millisecond})
			cfg := g.config()
			cfg.CipherSuites = tc.client
			b := pool.BMC(cfg)

			var err error
			timed(t, "first call (cipher negotiation)", func() error { _, err = b.State(context.Background()); return err })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || power.IsTransient(err) {
					t.Fatalf("err = %v, want permanent %v", err, tc.wantErr)
				}
				t.Logf("operator message: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Stats().CipherSuite; got != tc.wantSuite {
				t.Fatalf("cipher suite = %d, want %d", got, tc.wantSuite)
			}
			if n := strings.Count(logs.String(), "trying the next one"); n != tc.fallbacks {
				t.Fatalf("%d fallbacks logged, want %d", n, tc.fallbacks)
			}

			// After the idle session is closed, the next session goes
			// straight to the remembered suite.
			waitFor(t, "idle session closed", func() bool { return b.Stats().SessionsClosed == 1 })
			if err := timed(t, "call on a new session", func() error { _, err := b.State(context.Background()); return err }); err != nil {
				t.Fatal(err)
			}
			st := b.Stats()
			if st.SessionsOpened != 2 || st.CipherSuite != tc.wantSuite {
				t.Fatalf("stats = %+v, want a second session on suite %d", st, tc.wantSuite)
			}
			if n := strings.Count(logs.String(), "trying the next one"); n != tc.fallbacks {
				t.Fatalf("the second session tried other suites again (%d fallbacks logged)", n)
			}
		})
	}
}

func TestBootFlagsOnGoIPMIBMC(t *testing.T) {
	t.Parallel()
	g := startGoBMC(t, []int{17}, false)
	pool, _ := newTestPool(t, PoolOptions{})
	b := pool.BMC(g.config())
	for _, o := range []power.BootOptions{
		{Device: power.BootPXE},
		{Device: power.BootPXE, Persistent: true},
		{Device: power.BootDisk, EFI: true},
		{Device: power.BootDisk, Persistent: true, EFI: true},
	} {
		if err := timed(t, "SetBoot", func() error { return b.SetBoot(context.Background(), o) }); err != nil {
			t.Fatal(err)
		}
		got, err := g.Chassis.GetBootFlags(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := types.BootDeviceSelectorForcePXE
		if o.Device == power.BootDisk {
			want = types.BootDeviceSelectorForceHardDrive
		}
		if !got.BootFlagsValid || got.BootDeviceSelector != want || got.Persist != o.Persistent || bool(got.BIOSBootType) != o.EFI {
			t.Fatalf("SetBoot(%+v): BMC holds valid=%v device=%v persist=%v efi=%v", o,
				got.BootFlagsValid, got.BootDeviceSelector, got.Persist, bool(got.BIOSBootType))
		}
	}
	if err := b.SetBoot(context.Background(), power.BootOptions{Device: "cdrom"}); !errors.Is(err, ErrConfig) || power.IsTransient(err) {
		t.Fatalf("SetBoot(cdrom) = %v, want a permanent ErrConfig", err)
	}
}

func TestPowerAndResetOnGoIPMIBMC(t *testing.T) {
	t.Parallel()
	g := startGoBMC(t, []int{3, 17}, false)
	pool, _ := newTestPool(t, PoolOptions{})
	b := pool.BMC(g.config())
	ctx := context.Background()
	for _, step := range []struct {
		name   string
		fn     func(context.Context) error
		on     bool
		resets int32
	}{
		{"On", b.On, true, 0},
		{"Reset (running)", b.Reset, true, 1},
		{"Off", b.Off, false, 1},
		{"Reset (off)", b.Reset, true, 1},
	} {
		if err := timed(t, step.name, func() error { return step.fn(ctx) }); err != nil {
			t.Fatal(err)
		}
		on, _ := g.Chassis.PowerState(ctx)
		if on != step.on || g.Chassis.resets.Load() != step.resets {
			t.Fatalf("after %s: on=%v resets=%d, want %v %d", step.name, on, g.Chassis.resets.Load(), step.on, step.resets)
		}
	}
}

func TestPowerCommandWithoutEffect(t *testing.T) {
	t.Parallel()
	g := startGoBMC(t, []int{3, 17}, true)
	pool, _ := newTestPool(t, PoolOptions{})
	cfg := g.config()
	cfg.CallTimeout = time.Second
	b := pool.BMC(cfg)
	var err error
	timed(t, "On with a stuck chassis", func() error { err = b.On(context.Background()); return err })
	var de *power.DeviceError
	if !errors.As(err, &de) || !errors.Is(err, ErrStateUnchanged) || !de.Transient {
		t.Fatalf("err = %#v, want a transient DeviceError wrapping ErrStateUnchanged", err)
	}
	t.Logf("operator message: %v", err)
	if !strings.Contains(de.Msg, "still reports power off") {
		t.Fatalf("message %q does not say what happened", de.Msg)
	}
	// The BMC answered throughout, so the session survives.
	if st := b.Stats(); !st.Open || st.SessionsOpened != 1 {
		t.Fatalf("stats = %+v, want the session kept", st)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
