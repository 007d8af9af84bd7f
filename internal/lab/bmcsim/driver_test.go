package bmcsim_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/ipmi"
	"github.com/dcimd/dcimd/internal/secret"
)

func startBMC(t testing.TB, o bmcsim.Options) *bmcsim.BMC {
	t.Helper()
	b, err := bmcsim.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

func newPool(t testing.TB) *ipmi.Pool {
	t.Helper()
	p := ipmi.NewPool(ipmi.PoolOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { p.Close() })
	return p
}

func driverConfig(b *bmcsim.BMC, intf string) ipmi.Config {
	return ipmi.Config{Address: b.Host(), Port: b.Port(), Username: b.User(), Password: secret.String(b.Password()),
		Interface: intf, CallTimeout: 5 * time.Second}
}

// TestDriverPowerAndBoot drives a simulated BMC with our IPMI driver
// over lanplus (suite 17, the driver's first choice) and v1.5, and checks
// that the BMC saw exactly the commands the driver promises.
func TestDriverPowerAndBoot(t *testing.T) {
	t.Parallel()
	for _, intf := range []string{ipmi.InterfaceLanplus, ipmi.InterfaceLan} {
		t.Run(intf, func(t *testing.T) {
			t.Parallel()
			sim := startBMC(t, bmcsim.Options{Password: "pw-for-" + intf})
			d := newPool(t).BMC(driverConfig(sim, intf))
			ctx := context.Background()
			must := func(name string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			must("On", d.On(ctx))
			must("On again", d.On(ctx)) // idempotent: no second command
			must("Reset (on)", d.Reset(ctx))
			must("Off", d.Off(ctx))
			must("Reset (off) powers on", d.Reset(ctx))
			if !sim.Power() {
				t.Fatal("chassis is off after Reset of an off server")
			}
			must("SetBoot", d.SetBoot(ctx, power.BootOptions{Device: power.BootPXE, Persistent: true, EFI: true}))
			if dev, p, efi := sim.BootDevice(); dev != "pxe" || !p || !efi {
				t.Fatalf("BootDevice = %s %v %v, want pxe persistent EFI", dev, p, efi)
			}
			st, err := d.State(ctx)
			must("State", err)
			if st != power.On {
				t.Fatalf("State = %s, want on", st)
			}
			want := bmcsim.Counters{PowerOn: 2, PowerOff: 1, Reset: 1, SetBoot: 1, Sessions: 1}
			if got := sim.Counters(); got != want {
				t.Fatalf("counters = %+v, want %+v", got, want)
			}
			if intf == ipmi.InterfaceLanplus {
				if s := d.Stats().CipherSuite; s != 17 {
					t.Fatalf("driver negotiated suite %d, want 17", s)
				}
			}
		})
	}
}

func TestDriverCipherFallbackTo3(t *testing.T) {
	t.Parallel()
	sim := startBMC(t, bmcsim.Options{CipherSuites: []int{3}})
	d := newPool(t).BMC(driverConfig(sim, ipmi.InterfaceLanplus))
	if _, err := d.State(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats().CipherSuite; s != 3 {
		t.Fatalf("suite = %d, want 3", s)
	}
}

func TestPowerFailure(t *testing.T) {
	t.Parallel()
	sim := startBMC(t, bmcsim.Options{})
	sim.SetPowerFailure(true)
	cfg := driverConfig(sim, ipmi.InterfaceLanplus)
	cfg.CallTimeout = time.Second
	err := newPool(t).BMC(cfg).On(context.Background())
	if !errors.Is(err, ipmi.ErrStateUnchanged) {
		t.Fatalf("On with a failing power controller = %v, want ErrStateUnchanged", err)
	}
	if sim.Power() || sim.Counters().PowerOn != 1 {
		t.Fatalf("power=%v counters=%+v, want off and one acknowledged power on", sim.Power(), sim.Counters())
	}
	sim.SetPowerFailure(false)
	if err := newPool(t).BMC(cfg).On(context.Background()); err != nil || !sim.Power() {
		t.Fatalf("On after repair: %v, power=%v", err, sim.Power())
	}
}

func TestSlowBMC(t *testing.T) {
	t.Parallel()
	sim := startBMC(t, bmcsim.Options{Delay: 2 * time.Second})
	cfg := driverConfig(sim, ipmi.InterfaceLanplus)
	cfg.CallTimeout = 300 * time.Millisecond
	_, err := newPool(t).BMC(cfg).State(context.Background())
	if err == nil || !power.IsTransient(err) {
		t.Fatalf("State of a BMC slower than the call timeout = %v, want a transient error", err)
	}
	t.Logf("operator message: %v", err)
}

func TestACPowerLoss(t *testing.T) {
	t.Parallel()
	sim := startBMC(t, bmcsim.Options{PowerOn: true})
	cfg := driverConfig(sim, ipmi.InterfaceLanplus)
	cfg.CallTimeout = 500 * time.Millisecond
	pool := newPool(t)
	d := pool.BMC(cfg)
	ctx := context.Background()
	if st, err := d.State(ctx); err != nil || st != power.On {
		t.Fatalf("State = %s, %v", st, err)
	}
	sim.SetACPower(false)
	if sim.Power() || sim.ACPower() {
		t.Fatal("AC loss left the chassis on")
	}
	if _, err := d.State(ctx); !errors.Is(err, ipmi.ErrNoAnswer) {
		t.Fatalf("State without AC = %v, want ErrNoAnswer", err)
	}
	sim.SetACPower(true)
	cfg.CallTimeout = 5 * time.Second
	if st, err := pool.BMC(cfg).State(ctx); err != nil || st != power.On {
		t.Fatalf("State after AC restore = %s, %v; want on (restore policy always-on)", st, err)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []bmcsim.Options{
		{CipherSuites: []int{99}},
		{Password: "this password is far too long"},
		{User: "a-user-name-of-17"},
		{Addr: "not an address"},
	} {
		if b, err := bmcsim.Start(context.Background(), o); err == nil {
			b.Close()
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
}

func TestContextEndsBMC(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := bmcsim.Start(ctx, bmcsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	cfg := driverConfig(b, ipmi.InterfaceLanplus)
	cfg.CallTimeout = 300 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := newPool(t).BMC(cfg).State(context.Background()); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the BMC still answers after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Close(); err != nil { // a second close is harmless
		t.Fatal(err)
	}
}
