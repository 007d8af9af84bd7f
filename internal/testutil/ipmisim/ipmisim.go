// Package ipmisim runs OpenIPMI's ipmi_sim as a throwaway BMC for Go tests.
//
// A Sim is one ipmi_sim process serving IPMI v1.5 (lan) and v2.0 (lanplus,
// cipher suites 0–3 and 6; no suite 17) on 127.0.0.1 and a free UDP port,
// with one administrator user. Power state and boot device stick through a
// chassis_control script that keeps them as files in a state directory, so
// tests can pre-seed the power state and read the script's
// call log to count the commands the BMC really received.
//
// Start skips the test when ipmi_sim or ipmitool is missing, unless CI=true,
// where it fails instead. The process is stopped by PID in t.Cleanup.
package ipmisim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	// startAttempts covers the small window in which another process can
	// take the free port between probing it and ipmi_sim binding it.
	startAttempts = 3
)

// Options shape a simulator. The zero value is ready to use.
type Options struct {
	// User and Password of the administrator account; defaults "admin" and
	// a random 12-character password (IPMI v1.5 allows at most 16).
	User     string
	Password string
	// PoweredOn starts the simulated machine powered on.
	PoweredOn bool
	// Port is the UDP port on 127.0.0.1; 0 picks a free one.
	Port int
}

// Sim is a running ipmi_sim.
type Sim struct {
	// Port is the UDP port ipmi_sim listens on at 127.0.0.1.
	Port int
	// User and Password log in with administrator privilege.
	User     string
	Password string
	// StateDir holds the chassis script's files: power (0|1), boot,
	// resets (one line per reset) and chassis.log (one line per call).
	StateDir string

	t       testing.TB
	dir     string
	mu      sync.Mutex
	cmd     *exec.Cmd
	waitErr chan error
}

// Start starts ipmi_sim and waits until it answers ipmitool.
func Start(t testing.TB, opts Options) *Sim {
	t.Helper()
	requireBinaries(t)
	if opts.User == "" {
		opts.User = "admin"
	}
	if opts.Password == "" {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		opts.Password = hex.EncodeToString(b)
	}
	// Not t.TempDir: ipmi_sim runs the chassis script through sh -c
	// unquoted, and test names put parentheses and spaces into its paths.
	dir, err := os.MkdirTemp("", "ipmisim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &Sim{
		User:     opts.User,
		Password: opts.Password,
		StateDir: filepath.Join(dir, "chassis"),
		t:        t,
		dir:      dir,
	}
	for _, d := range []string{s.StateDir, filepath.Join(dir, "simstate")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if opts.PoweredOn {
		s.writeState("power", "1")
	}
	if err := os.WriteFile(filepath.Join(dir, "chassis.sh"), []byte(chassisScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bmc.emu"), []byte(emuFile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := opts.Port
		if port == 0 {
			port = freeUDPPort(t)
		}
		s.Port = port
		if lastErr = s.start(); lastErr == nil {
			return s
		}
		if opts.Port != 0 {
			break
		}
	}
	t.Fatalf("ipmisim: %v", lastErr)
	return nil
}

// requireBinaries skips (or fails under CI=true) without ipmi_sim and ipmitool.
func requireBinaries(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"ipmi_sim", "ipmitool"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("ipmisim: %s not found in PATH (install the Debian packages openipmi and ipmitool, see scripts/test-deps.sh)", bin)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// start writes the config for s.Port, starts ipmi_sim and waits for it.
func (s *Sim) start() error {
	conf := fmt.Sprintf(lanConfTemplate, s.Port, filepath.Join(s.dir, "chassis.sh"), s.User, s.Password)
	confPath := filepath.Join(s.dir, "lan.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(s.dir, "ipmi_sim.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	// -n: no console on stdio; -p: no persistence of the simulator's own state.
	cmd := exec.Command("ipmi_sim", "-n", "-p", "-c", confPath,
		"-f", filepath.Join(s.dir, "bmc.emu"), "-s", filepath.Join(s.dir, "simstate"))
	cmd.Env = append(os.Environ(), "IPMISIM_STATE="+s.StateDir)
	cmd.Stdout, cmd.Stderr = out, out
	// A test binary killed hard must not leave the simulator behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ipmi_sim: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	s.mu.Lock()
	s.cmd, s.waitErr = cmd, waitErr
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := s.IPMITool("-N", "1", "-R", "1", "chassis", "power", "status"); err == nil {
			return nil
		}
		select {
		case err := <-waitErr:
			waitErr <- err
			s.Stop()
			return fmt.Errorf("ipmi_sim on port %d exited (%v): %s", s.Port, err, s.tail())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("ipmi_sim on port %d did not answer within %s: %s", s.Port, startTimeout, s.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops ipmi_sim by PID (SIGTERM, then SIGKILL). It is idempotent.
func (s *Sim) Stop() {
	s.mu.Lock()
	cmd, waitErr := s.cmd, s.waitErr
	s.cmd, s.waitErr = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-waitErr:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-waitErr
	}
}

// Restart stops ipmi_sim and starts it again on the same port with the same
// chassis state; every session a client held is gone afterwards.
func (s *Sim) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for attempt := 0; attempt < startAttempts; attempt++ {
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("ipmisim: restart: %v", err)
}

// PID is the process id of the running ipmi_sim, or 0 when stopped.
func (s *Sim) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// IPMITool runs ipmitool against the simulator over lanplus with cipher
// suite 3 and returns its combined output.
func (s *Sim) IPMITool(args ...string) (string, error) {
	return s.IPMIToolVia("lanplus", args...)
}

// IPMIToolVia runs ipmitool over the given interface ("lan" or "lanplus").
// The password travels in the environment, not on the command line.
func (s *Sim) IPMIToolVia(intf string, args ...string) (string, error) {
	base := []string{"-I", intf}
	if intf == "lanplus" {
		base = append(base, "-C", "3")
	}
	base = append(base, "-H", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", s.User, "-E")
	cmd := exec.Command("ipmitool", append(base, args...)...)
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+s.Password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ipmitool %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// PowerOn reports the power state as the chassis script keeps it.
func (s *Sim) PowerOn() bool { return strings.TrimSpace(s.readState("power")) == "1" }

// SetPower changes the simulated power state behind the BMC's back.
func (s *Sim) SetPower(on bool) {
	v := "0"
	if on {
		v = "1"
	}
	s.writeState("power", v)
}

// BootDevice is the boot device as the chassis script keeps it ("pxe",
// "default" for disk, "" when never set).
func (s *Sim) BootDevice() string { return strings.TrimSpace(s.readState("boot")) }

// Resets counts the hard resets the BMC performed.
func (s *Sim) Resets() int { return countLines(s.readState("resets")) }

// ChassisLog returns the chassis script's call log, one call per line
// ("get power", "set power 1", "set boot pxe", ...) without timestamps.
func (s *Sim) ChassisLog() []string {
	var calls []string
	for _, line := range strings.Split(s.readState("chassis.log"), "\n") {
		if _, call, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			calls = append(calls, call)
		}
	}
	return calls
}

// CountCalls counts the chassis log lines starting with prefix, e.g.
// "set power" for power commands.
func (s *Sim) CountCalls(prefix string) int {
	n := 0
	for _, c := range s.ChassisLog() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (s *Sim) readState(name string) string {
	b, err := os.ReadFile(filepath.Join(s.StateDir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.t.Errorf("ipmisim: %v", err)
	}
	return string(b)
}

func (s *Sim) writeState(name, v string) {
	if err := os.WriteFile(filepath.Join(s.StateDir, name), []byte(v+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Sim) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "ipmi_sim.out"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func countLines(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// freeUDPPort asks the kernel for a free UDP port on 127.0.0.1.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
