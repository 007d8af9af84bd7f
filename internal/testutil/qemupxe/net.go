//go:build linux

package qemupxe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/testutil/netns"
)

// Net is a boot network of two namespaces: the VM's, where a bridge joins
// the VM's tap and one end of a veth, and the servers', which holds the
// other end of the veth with the address the DHCP, TFTP and HTTP servers
// listen on.
//
//	dcpv-<id>: br0 ─┬─ tap0 (qemu)            dcps-<id>: srv0 198.18.x.1/24
//	                └─ vm0 ─────── veth ──────────────── srv0
//
// Nothing of it is in the root namespace: a DHCP server on srv0 answers
// the VM only.
type Net struct {
	VMNS string // the VM's namespace
	Tap  string // the VM's tap in VMNS
	side Side
}

// Side is where the servers of a boot network run: a namespace, the
// interface facing the VM and its address.
type Side struct {
	NS     string       // the servers' namespace
	Iface  string       // the interface facing the VM ("srv0")
	Addr   netip.Addr   // the servers' address, 198.18.x.1
	Prefix netip.Prefix // the subnet, 198.18.x.0/24
}

// DHCPRange is the part of the subnet a test DHCP server may hand out
// (.100 to .250).
func (s Side) DHCPRange() (first, last netip.Addr) {
	b := s.Prefix.Addr().As4()
	b[3] = 100
	first = netip.AddrFrom4(b)
	b[3] = 250
	return first, netip.AddrFrom4(b)
}

// NewNet builds a boot network for the rest of the test; t.Cleanup deletes
// both namespaces (and with them every link in them). It skips the test
// (or fails it when CI=true) without root or iproute2.
func NewNet(t testing.TB) *Net {
	t.Helper()
	tl := requireTools(t, BIOS, false)
	n := &Net{Tap: "tap0"}
	t.Cleanup(func() { n.remove(tl.ip) })
	if err := n.build(tl.ip); err != nil {
		if strings.Contains(err.Error(), "Operation not permitted") && os.Getenv("CI") != "true" {
			t.Skipf("qemupxe: cannot build network namespaces here: %v", err)
		}
		t.Fatalf("qemupxe: %v", err)
	}
	return n
}

// Server is the servers' side of the network.
func (n *Net) Server() Side { return n.side }

func (n *Net) build(ip string) error {
	var err error
	for range 5 {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		vm, srv := "dcpv-"+id, "dcps-"+id
		if err = run(ip, "netns", "add", vm); err != nil {
			continue
		}
		n.VMNS = vm
		if err = run(ip, "netns", "add", srv); err != nil {
			_ = run(ip, "netns", "del", vm)
			n.VMNS = ""
			continue
		}
		n.side.NS = srv
		break
	}
	if err != nil {
		return fmt.Errorf("create network namespaces: %w", err)
	}
	x, err := rand.Int(rand.Reader, big.NewInt(254))
	if err != nil {
		return err
	}
	third := byte(x.Int64() + 1)
	n.side.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, third, 0}), 24)
	n.side.Addr = netip.AddrFrom4([4]byte{198, 18, third, 1})
	n.side.Iface = "srv0"
	// The VM's namespace carries frames only: no IPv6 chatter from the
	// bridge itself.
	if err := run(ip, "netns", "exec", n.VMNS, "sh", "-c",
		"for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null; true"); err != nil {
		return err
	}
	if err := batch(ip, n.VMNS, []string{
		"link set lo up",
		"link add br0 type bridge forward_delay 0 stp_state 0",
		"tuntap add dev " + n.Tap + " mode tap",
		"link set " + n.Tap + " master br0",
		"link add vm0 type veth peer name " + n.side.Iface + " netns " + n.side.NS,
		"link set vm0 master br0",
		"link set " + n.Tap + " up",
		"link set vm0 up",
		"link set br0 up",
	}); err != nil {
		return err
	}
	return batch(ip, n.side.NS, []string{
		"link set lo up",
		fmt.Sprintf("addr add %s/24 dev %s", n.side.Addr, n.side.Iface),
		"link set " + n.side.Iface + " up",
	})
}

func (n *Net) remove(ip string) {
	for _, ns := range []string{n.VMNS, n.side.NS} {
		if ns != "" {
			_ = run(ip, "netns", "del", ns)
		}
	}
}

// Do runs fn on an OS thread that has entered the servers' namespace:
// sockets fn opens belong to the namespace for their whole life, whichever
// goroutine uses them later. Goroutines fn starts run outside it.
func (s Side) Do(fn func() error) error { return netns.Do(s.NS, fn) }

// Listen opens a listener inside the servers' namespace
// (net.Listen("tcp", "198.18.x.1:0"), for example).
func (s Side) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := s.Do(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket opens a packet socket inside the servers' namespace.
func (s Side) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := s.Do(func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// ServeHTTP serves h on the servers' address (port 0 takes a free one)
// until the end of the test and returns the base URL, "http://198.18.x.1:port".
func (s Side) ServeHTTP(t testing.TB, h http.Handler, port int) string {
	t.Helper()
	l, err := s.Listen("tcp4", netip.AddrPortFrom(s.Addr, uint16(port)).String())
	if err != nil {
		t.Fatalf("qemupxe: listen for HTTP: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + l.Addr().String()
}

// Command runs a program inside the servers' namespace (through
// `ip netns exec`, which execs it: the process's PID is the program's).
func (s Side) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	ip := findIP()
	return exec.CommandContext(ctx, ip, append([]string{"netns", "exec", s.NS, name}, args...)...)
}

func run(ip string, args ...string) error {
	out, err := exec.Command(ip, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func batch(ip, ns string, cmds []string) error {
	c := exec.Command(ip, "-n", ns, "-batch", "-")
	c.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s -batch: %w: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func findIP() string {
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	return "ip"
}
