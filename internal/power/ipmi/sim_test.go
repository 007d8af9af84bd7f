package ipmi

// Tests against OpenIPMI's ipmi_sim, confirmed independently with ipmitool.

import (
	"context"
	"errors"
	"github.com/dcimd/dcimd/internal/testutil/udpproxy"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/testutil/ipmisim"
)

func secretOf(s string) secret.String { return secret.String(s) }

func simConfig(s *ipmisim.Sim, port int, intf string) Config {
	return Config{
		Address:   "127.0.0.1",
		Port:      port,
		Username:  s.User,
		Password:  secretOf(s.Password),
		Interface: intf,
	}
}

// timed runs fn and logs how long it took.
func timed(t testing.TB, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := fn()
	t.Logf("%-34s %8.2f ms  err=%v", what, float64(time.Since(start).Microseconds())/1000, err)
	return err
}

func mustTool(t *testing.T, s *ipmisim.Sim, want string, args ...string) {
	t.Helper()
	out, err := s.IPMITool(args...)
	if err != nil {
		t.Fatalf("ipmitool %v: %v", args, err)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("ipmitool %v = %q, want it to contain %q", args, out, want)
	}
}

var interfaces = []struct {
	name string
	intf string
	priv string
}{
	{"lan (IPMI v1.5)", InterfaceLan, ""},
	{"lanplus (IPMI v2.0)", InterfaceLanplus, ""},
	{"lanplus at operator privilege", InterfaceLanplus, "operator"},
}

func TestPowerAndBootOnIPMISim(t *testing.T) {
	t.Parallel()
	for _, tc := range interfaces {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := ipmisim.Start(t, ipmisim.Options{})
			pool, logs := newTestPool(t, PoolOptions{})
			cfg := simConfig(sim, sim.Port, tc.intf)
			cfg.Privilege = tc.priv
			b := pool.BMC(cfg)
			ctx := context.Background()

			state := func(want power.State) {
				t.Helper()
				var got power.State
				if err := timed(t, "State", func() (err error) { got, err = b.State(ctx); return err }); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("State = %q, want %q", got, want)
				}
			}
			step := func(name string, fn func(context.Context) error) {
				t.Helper()
				if err := timed(t, name, func() error { return fn(ctx) }); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}

			state(power.Off)

			step("On", b.On)
			mustTool(t, sim, "Chassis Power is on", "chassis", "power", "status")
			step("On (already on)", b.On)
			if n := sim.CountCalls("set power"); n != 1 {
				t.Fatalf("BMC got %d power commands after two On calls, want 1: %q", n, sim.ChassisLog())
			}
			state(power.On)

			step("Reset (running)", b.Reset)
			if sim.Resets() != 1 || !sim.PowerOn() {
				t.Fatalf("after Reset of a running server: resets=%d power=%v, want 1 and on", sim.Resets(), sim.PowerOn())
			}

			step("Off", b.Off)
			mustTool(t, sim, "Chassis Power is off", "chassis", "power", "status")
			step("Off (already off)", b.Off)
			if n := sim.CountCalls("set power 0"); n != 1 {
				t.Fatalf("BMC got %d power-off commands after two Off calls, want 1: %q", n, sim.ChassisLog())
			}
			state(power.Off)

			step("Reset (off)", b.Reset)
			mustTool(t, sim, "Chassis Power is on", "chassis", "power", "status")
			if sim.Resets() != 1 {
				t.Fatalf("Reset of an off server sent a hard reset; resets=%d", sim.Resets())
			}

			boots := []struct {
				o    power.BootOptions
				want string
			}{
				{power.BootOptions{Device: power.BootPXE}, "Force PXE"},
				{power.BootOptions{Device: power.BootDisk}, "Force Boot from default Hard-Drive"},
				{power.BootOptions{Device: power.BootPXE, Persistent: true}, "Force PXE"},
				{power.BootOptions{Device: power.BootDisk, Persistent: true, EFI: true}, "Force Boot from default Hard-Drive"},
				{power.BootOptions{Device: power.BootPXE, EFI: true}, "Force PXE"},
			}
			for _, bt := range boots {
				step("SetBoot "+string(bt.o.Device), func(ctx context.Context) error { return b.SetBoot(ctx, bt.o) })
				mustTool(t, sim, "Boot Device Selector : "+bt.want, "chassis", "bootparam", "get", "5")
			}

			st := b.Stats()
			if st.SessionsOpened != 1 {
				t.Fatalf("stats = %+v, want one session for the whole sequence", st)
			}
			// ipmi_sim rejects the default first choice, 17, so lanplus lands on 3.
			if want := map[string]int{InterfaceLan: -1, InterfaceLanplus: 3}[tc.intf]; st.CipherSuite != want {
				t.Fatalf("cipher suite = %d, want %d", st.CipherSuite, want)
			}
			if strings.Contains(logs.String(), sim.Password) {
				t.Fatal("the password appears in the log")
			}
		})
	}
}

func TestSessionReuse(t *testing.T) {
	t.Parallel()
	for _, tc := range interfaces[:2] {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := ipmisim.Start(t, ipmisim.Options{PoweredOn: true})
			proxy := udpproxy.Start(t, sim.Port, 0)
			pool, _ := newTestPool(t, PoolOptions{})
			b := pool.BMC(simConfig(sim, proxy.Port(), tc.intf))
			ctx := context.Background()

			if err := timed(t, "first call (opens the session)", func() error { _, err := b.State(ctx); return err }); err != nil {
				t.Fatal(err)
			}
			clients, requests := proxy.Clients(), proxy.Requests()
			start := time.Now()
			for i := 0; i < 20; i++ {
				if st, err := b.State(ctx); err != nil || st != power.On {
					t.Fatalf("call %d: %v %v", i, st, err)
				}
			}
			t.Logf("20 reused-session State calls: %.2f ms each", float64(time.Since(start).Microseconds())/20000)
			if proxy.Clients() != clients {
				t.Fatalf("the 20 calls opened %d new client sockets, want 0", proxy.Clients()-clients)
			}
			if n := proxy.Requests() - requests; n != 20 {
				t.Fatalf("the 20 calls sent %d datagrams, want 20 (one Get Chassis Status each)", n)
			}
			if st := b.Stats(); st.SessionsOpened != 1 {
				t.Fatalf("stats = %+v, want 1 session opened", st)
			}
			// A second handle for the same BMC shares the session.
			if _, err := pool.BMC(simConfig(sim, proxy.Port(), tc.intf)).State(ctx); err != nil {
				t.Fatal(err)
			}
			if st := b.Stats(); st.SessionsOpened != 1 {
				t.Fatalf("second handle opened its own session: %+v", st)
			}
		})
	}
}

func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.Options{})
	// The delay makes calls long enough to overlap if the cap let them.
	proxy := udpproxy.Start(t, sim.Port, 5*time.Millisecond)
	for _, max := range []int{1, 3} {
		t.Run("MaxPerBMC="+string(rune('0'+max)), func(t *testing.T) {
			pool, _ := newTestPool(t, PoolOptions{MaxPerBMC: max})
			b := pool.BMC(simConfig(sim, proxy.Port(), InterfaceLanplus))
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			start := time.Now()
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := b.State(context.Background()); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			st := b.Stats()
			t.Logf("10 concurrent calls in %v; stats %+v", time.Since(start), st)
			if st.MaxInFlight > max || st.MaxInFlight < 1 {
				t.Fatalf("MaxInFlight = %d, want 1..%d", st.MaxInFlight, max)
			}
			if st.SessionsOpened != 1 {
				t.Fatalf("SessionsOpened = %d, want 1", st.SessionsOpened)
			}
		})
	}
}

func TestReconnectAfterBMCRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range interfaces[:2] {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := ipmisim.Start(t, ipmisim.Options{})
			pool, _ := newTestPool(t, PoolOptions{})
			cfg := simConfig(sim, sim.Port, tc.intf)
			cfg.CallTimeout = 4 * time.Second
			b := pool.BMC(cfg)
			ctx := context.Background()
			if _, err := b.State(ctx); err != nil {
				t.Fatal(err)
			}
			sim.Restart()
			if err := timed(t, "On after ipmi_sim restart", func() error { return b.On(ctx) }); err != nil {
				t.Fatal(err)
			}
			mustTool(t, sim, "Chassis Power is on", "chassis", "power", "status")
			if st := b.Stats(); st.Reconnects != 1 || st.SessionsOpened != 2 {
				t.Fatalf("stats = %+v, want 1 reconnect and 2 sessions", st)
			}
			if err := timed(t, "State on the new session", func() error { _, err := b.State(ctx); return err }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSlowBMC(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.Options{})
	proxy := udpproxy.Start(t, sim.Port, 250*time.Millisecond)
	pool, _ := newTestPool(t, PoolOptions{})
	b := pool.BMC(simConfig(sim, proxy.Port(), InterfaceLanplus))
	ctx := context.Background()
	if err := timed(t, "State via 250ms proxy (new session)", func() error { _, err := b.State(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if err := timed(t, "On via 250ms proxy", func() error { return b.On(ctx) }); err != nil {
		t.Fatal(err)
	}
	mustTool(t, sim, "Chassis Power is on", "chassis", "power", "status")
}

func TestLoginFailuresOnIPMISim(t *testing.T) {
	t.Parallel()
	const badPass = "Wrong-Pass-123"
	for _, tc := range []struct {
		name, intf, user, pass string
	}{
		{"lan wrong password", InterfaceLan, "admin", badPass},
		{"lanplus wrong password", InterfaceLanplus, "admin", badPass},
		{"lan unknown user", InterfaceLan, "nobody", "right-pass"},
		{"lanplus unknown user", InterfaceLanplus, "nobody", "right-pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := ipmisim.Start(t, ipmisim.Options{User: "admin", Password: "right-pass"})
			proxy := udpproxy.Start(t, sim.Port, 0)
			pool, logs := newTestPool(t, PoolOptions{})
			cfg := simConfig(sim, proxy.Port(), tc.intf)
			cfg.Username, cfg.Password = tc.user, secretOf(tc.pass)
			b := pool.BMC(cfg)
			for i := 0; i < 2; i++ {
				var err error
				timed(t, "State", func() error { _, err = b.State(context.Background()); return err })
				var de *power.DeviceError
				if !errors.As(err, &de) || de.Transient || power.IsTransient(err) || !errors.Is(err, ErrAuth) {
					t.Fatalf("err = %#v, want a permanent DeviceError wrapping ErrAuth", err)
				}
				if !strings.Contains(err.Error(), `"`+tc.user+`"`) || strings.Contains(err.Error(), tc.pass) {
					t.Fatalf("message %q should name the user and not the password", err)
				}
			}
			n := proxy.Requests()
			t.Logf("two failed logins sent %d datagrams", n)
			if n > 2*8 {
				t.Fatalf("two failed logins sent %d datagrams; that is a retry storm", n)
			}
			if strings.Contains(logs.String(), tc.pass) {
				t.Fatal("the password appears in the log")
			}
		})
	}
}

func TestUserPrivilegeCannotSwitchPower(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.Options{})
	pool, _ := newTestPool(t, PoolOptions{})
	cfg := simConfig(sim, sim.Port, InterfaceLanplus)
	cfg.Privilege = "user"
	b := pool.BMC(cfg)
	if _, err := b.State(context.Background()); err != nil {
		t.Fatalf("State at user privilege: %v", err)
	}
	err := b.On(context.Background())
	if !errors.Is(err, ErrPrivilege) || power.IsTransient(err) {
		t.Fatalf("On at user privilege = %v, want permanent ErrPrivilege", err)
	}
	t.Logf("operator message: %v", err)
	if sim.PowerOn() {
		t.Fatal("the server was powered on at user privilege")
	}
}
