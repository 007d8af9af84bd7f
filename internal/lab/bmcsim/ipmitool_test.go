package bmcsim_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
)

// needIPMITool skips without ipmitool, except in CI, where the tool is
// part of the test dependencies and its absence is a failure.
func needIPMITool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ipmitool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ipmitool is required in CI (Debian package ipmitool): %v", err)
		}
		t.Skip("ipmitool not installed")
	}
	return p
}

// ipmitool runs one ipmitool command against b over lanplus.
func ipmitool(t *testing.T, tool string, b *bmcsim.BMC, suite int, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := []string{"-I", "lanplus", "-C", strconv.Itoa(suite), "-H", b.Host(), "-p", strconv.Itoa(b.Port()),
		"-U", b.User(), "-P", b.Password(), "-N", "1", "-R", "2"}
	out, err := exec.CommandContext(ctx, tool, append(base, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestIPMIToolPowerAndBoot(t *testing.T) {
	t.Parallel()
	tool := needIPMITool(t)
	for _, suite := range []int{3, 17} {
		t.Run("cipher suite "+strconv.Itoa(suite), func(t *testing.T) {
			t.Parallel()
			b, err := bmcsim.Start(context.Background(), bmcsim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })

			run := func(want string, args ...string) {
				t.Helper()
				out, err := ipmitool(t, tool, b, suite, args...)
				if err != nil {
					t.Fatalf("ipmitool %v: %v\n%s", args, err, out)
				}
				if !strings.Contains(out, want) {
					t.Fatalf("ipmitool %v = %q, want it to contain %q", args, out, want)
				}
			}
			run("Chassis Power is off", "chassis", "power", "status")

			// Reset and cycle of a machine that is off are refused (D5h).
			for _, op := range []string{"reset", "cycle"} {
				out, err := ipmitool(t, tool, b, suite, "chassis", "power", op)
				if err == nil {
					t.Fatalf("power %s of an off chassis succeeded: %q", op, out)
				}
				t.Logf("power %s while off: %s", op, out)
			}
			if b.Power() {
				t.Fatal("a refused reset powered the chassis on")
			}

			run("Up/On", "chassis", "power", "on")
			run("Chassis Power is on", "chassis", "power", "status")
			run("Reset", "chassis", "power", "reset")
			run("Cycle", "chassis", "power", "cycle")
			if !b.Power() {
				t.Fatal("reset or cycle left the chassis off")
			}
			run("Down/Off", "chassis", "power", "off")
			run("Chassis Power is off", "chassis", "power", "status")
			run("Up/On", "chassis", "power", "on")
			run("Soft", "chassis", "power", "soft")
			if b.Power() {
				t.Fatal("soft shutdown left the chassis on")
			}

			run("Set Boot Device to pxe", "chassis", "bootdev", "pxe")
			if dev, persistent, efi := b.BootDevice(); dev != "pxe" || persistent || efi {
				t.Fatalf("BootDevice = %s persistent=%v efi=%v, want pxe once legacy", dev, persistent, efi)
			}
			run("Set Boot Device to disk", "chassis", "bootdev", "disk", "options=persistent,efiboot")
			if dev, persistent, efi := b.BootDevice(); dev != "disk" || !persistent || !efi {
				t.Fatalf("BootDevice = %s persistent=%v efi=%v, want disk persistent EFI", dev, persistent, efi)
			}
			run("Boot Device Selector : Force Boot from default Hard-Drive", "chassis", "bootparam", "get", "5")

			got := b.Counters()
			want := bmcsim.Counters{PowerOn: 2, PowerOff: 2, Reset: 1, Cycle: 1, SetBoot: 2}
			got.Sessions = 0 // checked below
			if got != want {
				t.Fatalf("counters = %+v, want %+v", got, want)
			}
			// 14 ipmitool runs, each with its own session.
			if s := b.Counters().Sessions; s != 14 {
				t.Fatalf("sessions = %d, want one per ipmitool run (14)", s)
			}
		})
	}
}

func TestIPMIToolWrongPasswordAndSuite(t *testing.T) {
	t.Parallel()
	tool := needIPMITool(t)
	b, err := bmcsim.Start(context.Background(), bmcsim.Options{CipherSuites: []int{17}, Password: "right-password"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if out, err := ipmitool(t, tool, b, 3, "chassis", "power", "status"); err == nil {
		t.Fatalf("suite 3 accepted by a BMC that offers only 17: %q", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "-I", "lanplus", "-C", "17", "-H", b.Host(), "-p", strconv.Itoa(b.Port()),
		"-U", b.User(), "-P", "wrong-password", "-N", "1", "-R", "1", "chassis", "power", "status").CombinedOutput()
	if err == nil {
		t.Fatalf("wrong password accepted: %s", out)
	}
	if _, err := ipmitool(t, tool, b, 17, "chassis", "power", "status"); err != nil {
		t.Fatal(err)
	}
	if s := b.Counters().Sessions; s != 1 {
		t.Fatalf("sessions = %d, want 1 (only the good login)", s)
	}
}
