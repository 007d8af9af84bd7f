package dhcp6d_test

import (
	"github.com/dcimd/dcimd/internal/testutil/netns"

	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
)

// TestDhclient6GetsReservedAddress: a real dhclient -6 in its own network
// namespace, linked by a veth to the server's namespace, gets exactly the
// address IPAM reserves for its MAC (read from its lease file).
func TestDhclient6GetsReservedAddress(t *testing.T) {
	ipBin, dhclient := needTools(t)
	id := randHex(t, 4)
	srvNS, cliNS := "dcd6-"+id+"-srv", "dcd6-"+id+"-cli"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{srvNS, cliNS} {
		run("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", ns).Run() })
		run("-n", ns, "link", "set", "lo", "up")
		// No DAD: the link-local and fd00:: addresses are usable at once.
		for _, k := range []string{"default", "all"} {
			run("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf."+k+".accept_dad=0")
		}
	}
	cliMAC := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0}
	copy(cliMAC[2:], randBytes(t, 4))
	run("-n", srvNS, "link", "add", "v6srv", "type", "veth", "peer", "name", "v6cli", "netns", cliNS)
	run("-n", cliNS, "link", "set", "v6cli", "address", cliMAC.String())
	prefix := netip.MustParsePrefix(fmt.Sprintf("fd00:%s:%s::/64", id[:4], id[4:]))
	srvAddr := prefix.Addr().Next()
	run("-n", srvNS, "addr", "add", srvAddr.String()+"/64", "dev", "v6srv", "nodad")
	run("-n", srvNS, "link", "set", "v6srv", "up")
	run("-n", cliNS, "link", "set", "v6cli", "up")

	want := netip.MustParseAddr(strings.TrimSuffix(prefix.Addr().String(), "::") + "::42")
	hosts := newFakeHosts()
	hosts.add(cliMAC, "fd00:dead::1", want.String())
	leases := dhcp6d.NewMemLeases()
	s, err := dhcp6d.New(dhcp6d.Options{
		Interfaces: []dhcp6d.Interface{{Name: "v6srv", Addr: srvAddr}},
		Subnets:    []dhcp6d.Subnet{{Prefix: prefix, DNS: []netip.Addr{srvAddr}}},
		ServerDUID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 1},
		Hosts:      hosts, Leases: leases, Log: testLog(t),
		ListenPacket: func(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
			var c net.PacketConn
			err := netns.Do(srvNS, func() error {
				u, err := dhcp6d.ListenUDP(ifname, addr)
				c = u
				return err
			})
			return c, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	// dhclient needs the client's link-local address, which the kernel
	// adds once the veth has carrier.
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _ := exec.Command(ipBin, "-n", cliNS, "-6", "addr", "show", "dev", "v6cli", "scope", "link").CombinedOutput()
		if strings.Contains(string(out), "inet6 fe80") && !strings.Contains(string(out), "tentative") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link-local address on the client: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := t.TempDir()
	lf, pf := filepath.Join(dir, "lease6"), filepath.Join(dir, "pid6")
	t.Cleanup(func() { netns.KillPIDFile(pf) })
	start := time.Now()
	out, err := runIn(dir, ipBin, cliNS, 40*time.Second, dhclient, "-6", "-1", "-v", "-sf", "/bin/true", "-lf", lf, "-pf", pf, "v6cli")
	if err != nil {
		t.Fatalf("dhclient -6: %v\n%s\nstats %+v", err, out, s.Stats())
	}
	b, _ := os.ReadFile(lf)
	m := regexp.MustCompile(`iaaddr ([0-9a-fA-F:]+) \{`).FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		t.Fatalf("no iaaddr in lease file:\n%s\ndhclient:\n%s", b, out)
	}
	for _, x := range m {
		if got := netip.MustParseAddr(x[1]); got != want {
			t.Fatalf("dhclient got %s, want %s:\n%s", got, want, b)
		}
	}
	t.Logf("dhclient -6 bound %s in %s; stats %+v", want, time.Since(start).Round(time.Millisecond), s.Stats())
	st := s.Stats()
	if st.Advertises < 1 || st.Replies < 1 {
		t.Errorf("stats %+v: want an ADVERTISE and a REPLY", st)
	}
	ls := leases.Leases()
	if len(ls) != 1 || ls[0].IP != want || ls[0].State != "bound" || ls[0].MAC.String() != cliMAC.String() {
		t.Errorf("leases %+v", ls)
	}
}

func needTools(t *testing.T) (ipBin, dhclient string) {
	t.Helper()
	missing := func(why string) {
		msg := "dhcp6d netns test: " + why + " (needs root, iproute2 and isc-dhcp-client)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testing.Short() {
		t.Skip("network namespace tests skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		missing("not root")
	}
	find := func(name string) string {
		for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		missing(name + " not found")
		return ""
	}
	return find("ip"), find("dhclient")
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randHex(t *testing.T, n int) string { return hex.EncodeToString(randBytes(t, n)) }

// runIn runs a command inside ns, waiting at most timeout; output goes to
// a file so a client that forks (dhclient) does not hold the wait open.
func runIn(dir, ipBin, ns string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := os.CreateTemp(dir, "out-")
	if err != nil {
		return "", err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, ipBin, append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s", args[0], timeout)
	}
	return string(b), err
}

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
