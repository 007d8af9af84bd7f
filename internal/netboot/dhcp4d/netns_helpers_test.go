package dhcp4d_test

import (
	"github.com/dcimd/dcimd/internal/testutil/netns"

	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// tools are the peers these tests start, by absolute path.
type tools struct{ ip, busybox, dhclient, dhcrelay string }

// needTools finds the peers: a missing one fails the test in CI and skips
// it elsewhere, with the reason.
func needTools(t *testing.T) tools {
	t.Helper()
	missing := func(why string) {
		msg := "dhcp4d netns tests: " + why + " (needs root, iproute2, busybox, isc-dhcp-client and isc-dhcp-relay: scripts/test-deps.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testing.Short() {
		t.Skip("network namespace tests skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		missing("not root: network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN")
	}
	find := func(name string) string {
		for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		missing(name + " not found")
		return ""
	}
	return tools{ip: find("ip"), busybox: find("busybox"), dhclient: find("dhclient"), dhcrelay: find("dhcrelay")}
}

// lab is a set of network namespaces of one test, named dcd-<id>-<role>,
// deleted at cleanup with everything in them. Nothing is created in the
// root namespace.
type lab struct {
	t   *testing.T
	id  string
	dir string
	tl  tools
}

func newLab(t *testing.T) *lab {
	tl := needTools(t)
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return &lab{t: t, id: hex.EncodeToString(b), dir: t.TempDir(), tl: tl}
}

// ns makes a namespace with its loopback up.
func (l *lab) ns(role string) string {
	l.t.Helper()
	name := "dcd-" + l.id + "-" + role
	l.ip("", "netns", "add", name)
	l.t.Cleanup(func() { _ = exec.Command(l.tl.ip, "netns", "del", name).Run() })
	l.ip(name, "link", "set", "lo", "up")
	return name
}

// ip runs ip(8), inside ns when it is not "".
func (l *lab) ip(ns string, args ...string) {
	l.t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if out, err := exec.Command(l.tl.ip, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// veth links devA in nsA with devB in nsB, both up.
func (l *lab) veth(nsA, devA, nsB, devB string) {
	l.t.Helper()
	l.ip(nsA, "link", "add", devA, "type", "veth", "peer", "name", devB, "netns", nsB)
	l.ip(nsA, "link", "set", devA, "up")
	l.ip(nsB, "link", "set", devB, "up")
}

// randMAC is a locally administered unicast MAC.
func randMAC(t *testing.T) net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	if _, err := rand.Read(m); err != nil {
		t.Fatal(err)
	}
	m[0] = 0x52
	return m
}

// listenIn opens the server's sockets inside ns.
func listenIn(ns string) func(string, netip.AddrPort) (net.PacketConn, error) {
	return func(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
		var c net.PacketConn
		err := netns.Do(ns, func() error {
			u, err := server4.NewIPv4UDPConn(ifname, net.UDPAddrFromAddrPort(addr))
			c = u
			return err
		})
		return c, err
	}
}

// run runs a command inside ns and waits at most timeout for it; output
// goes to a file, so a client that forks into the background (dhclient)
// does not hold the wait open.
func (l *lab) run(ns string, timeout time.Duration, args ...string) (string, error) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := os.CreateTemp(l.dir, "out-")
	if err != nil {
		l.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, l.tl.ip, append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	// ip netns exec execs the program: the PID is the client's own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s", args[0], timeout)
	}
	return string(b), err
}

// proc is a long-running peer started by a test.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  string
}

// start starts a command inside ns; cleanup stops it by its PID.
func (l *lab) start(ns string, args ...string) *proc {
	l.t.Helper()
	out := filepath.Join(l.dir, filepath.Base(args[0])+".log")
	f, err := os.Create(out)
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command(l.tl.ip, append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		l.t.Fatalf("start %s: %v", args[0], err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	l.t.Cleanup(p.stop)
	return p
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// env reads the KEY=value words of a client script's output line that
// starts with prefix.
func env(out, prefix string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, w := range strings.Fields(strings.TrimPrefix(line, prefix)) {
			if k, v, ok := strings.Cut(w, "="); ok {
				m[k] = v
			}
		}
	}
	return m
}

// testLog sends the server's log to the test's.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&tWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// quietLog drops the server's log (load runs).
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
