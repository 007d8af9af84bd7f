package dhcp6d_test

import (
	"github.com/dcimd/dcimd/internal/testutil/netns"

	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/netboot/dhcp6d"
)

// TestDhclient6ThroughRelay: dhclient -6 on the client link, ISC
// dhcrelay -6 between it and the server link: the server sees only
// RELAY-FORWs, picks the subnet from the relay's link address, answers
// with RELAY-REPLs, and the client gets its reserved address.
func TestDhclient6ThroughRelay(t *testing.T) {
	ipBin, dhclient := needTools(t)
	dhcrelay := ""
	for _, p := range []string{"/usr/sbin/dhcrelay", "/sbin/dhcrelay"} {
		if _, err := os.Stat(p); err == nil {
			dhcrelay = p
		}
	}
	if dhcrelay == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("dhcrelay not found (isc-dhcp-relay)")
		}
		t.Skip("dhcrelay not found (isc-dhcp-relay)")
	}
	id := randHex(t, 4)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ns := map[string]string{}
	for _, role := range []string{"srv", "rly", "cli"} {
		n := "dcd6-" + id + "-" + role
		ns[role] = n
		run("netns", "add", n)
		t.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", n).Run() })
		run("-n", n, "link", "set", "lo", "up")
		for _, k := range []string{"default", "all"} {
			run("netns", "exec", n, "sysctl", "-q", "-w", "net.ipv6.conf."+k+".accept_dad=0")
		}
	}
	cliMAC := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0}
	copy(cliMAC[2:], randBytes(t, 4))
	run("-n", ns["cli"], "link", "add", "v6cli", "type", "veth", "peer", "name", "v6rl", "netns", ns["rly"])
	run("-n", ns["cli"], "link", "set", "v6cli", "address", cliMAC.String())
	run("-n", ns["rly"], "link", "add", "v6ru", "type", "veth", "peer", "name", "v6srv", "netns", ns["srv"])
	cliNet := netip.MustParsePrefix(fmt.Sprintf("fd00:%s:%s:1::/64", id[:4], id[4:]))
	srvNet := netip.MustParsePrefix(fmt.Sprintf("fd00:%s:%s:2::/64", id[:4], id[4:]))
	at := func(p netip.Prefix, host string) netip.Addr {
		return netip.MustParseAddr(strings.TrimSuffix(p.Addr().String(), "::") + "::" + host)
	}
	run("-n", ns["rly"], "addr", "add", at(cliNet, "1").String()+"/64", "dev", "v6rl", "nodad")
	run("-n", ns["rly"], "addr", "add", at(srvNet, "2").String()+"/64", "dev", "v6ru", "nodad")
	run("-n", ns["srv"], "addr", "add", at(srvNet, "1").String()+"/64", "dev", "v6srv", "nodad")
	for _, x := range [][2]string{{"cli", "v6cli"}, {"rly", "v6rl"}, {"rly", "v6ru"}, {"srv", "v6srv"}} {
		run("-n", ns[x[0]], "link", "set", x[1], "up")
	}
	waitLinkLocal(t, ipBin, ns["cli"], "v6cli")
	waitLinkLocal(t, ipBin, ns["rly"], "v6rl")
	waitLinkLocal(t, ipBin, ns["rly"], "v6ru")

	want := at(cliNet, "42")
	hosts := newFakeHosts()
	hosts.add(cliMAC, want.String())
	s, err := dhcp6d.New(dhcp6d.Options{
		Interfaces: []dhcp6d.Interface{{Name: "v6srv", Addr: at(srvNet, "1")}},
		Subnets:    []dhcp6d.Subnet{{Prefix: cliNet}, {Prefix: srvNet}},
		ServerDUID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 2},
		Hosts:      hosts, Log: testLog(t),
		ListenPacket: func(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
			var c net.PacketConn
			err := netns.Do(ns["srv"], func() error {
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

	dir := t.TempDir()
	rlog, err := os.Create(filepath.Join(dir, "dhcrelay.log"))
	if err != nil {
		t.Fatal(err)
	}
	relay := exec.Command(ipBin, "netns", "exec", ns["rly"], dhcrelay, "-6", "-d", "--no-pid", "-I",
		"-l", "v6rl", "-u", at(srvNet, "1").String()+"%v6ru")
	relay.Stdout, relay.Stderr = rlog, rlog
	relay.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = relay.Wait(); rlog.Close(); close(done) }()
	t.Cleanup(func() {
		_ = relay.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = relay.Process.Kill()
			<-done
		}
	})
	time.Sleep(300 * time.Millisecond) // dhcrelay opens its sockets

	lf, pf := filepath.Join(dir, "lease6"), filepath.Join(dir, "pid6")
	t.Cleanup(func() { netns.KillPIDFile(pf) })
	start := time.Now()
	out, err := runIn(dir, ipBin, ns["cli"], 40*time.Second, dhclient, "-6", "-1", "-v", "-sf", "/bin/true", "-lf", lf, "-pf", pf, "v6cli")
	if err != nil {
		rl, _ := os.ReadFile(rlog.Name())
		t.Fatalf("dhclient -6: %v\n%s\ndhcrelay:\n%s\nstats %+v", err, out, rl, s.Stats())
	}
	b, _ := os.ReadFile(lf)
	m := regexp.MustCompile(`iaaddr ([0-9a-fA-F:]+) \{`).FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		t.Fatalf("no iaaddr in lease file:\n%s", b)
	}
	for _, x := range m {
		if got := netip.MustParseAddr(x[1]); got != want {
			t.Fatalf("dhclient got %s through the relay, want %s", got, want)
		}
	}
	t.Logf("dhclient -6 bound %s through dhcrelay in %s; stats %+v", want, time.Since(start).Round(time.Millisecond), s.Stats())
}

func waitLinkLocal(t *testing.T, ipBin, ns, dev string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _ := exec.Command(ipBin, "-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link").CombinedOutput()
		if strings.Contains(string(out), "inet6 fe80") && !strings.Contains(string(out), "tentative") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link-local address on %s in %s: %s", dev, ns, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
