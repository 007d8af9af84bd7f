package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/testutil/qemupxe"
)

// TestNetbootDHCP runs the real binary inside a network namespace the
// test builds, with DHCPv4 enabled from its YAML configuration on one end
// of a veth, and BusyBox udhcpc on the other end gets the address IPAM
// holds for its MAC; the status route and /metrics show the exchange.
// Nothing of it touches the root namespace.
func TestNetbootDHCP(t *testing.T) {
	for _, tool := range []string{"ip", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil || os.Geteuid() != 0 {
			if os.Getenv("CI") == "true" {
				t.Fatalf("netboot e2e needs root and %s: %v", tool, err)
			}
			t.Skipf("netboot e2e needs root and %s", tool)
		}
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	srvNS, cliNS := "dce-s"+suffix, "dce-c"+suffix
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", srvNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", srvNS).Run() })
	ip("netns", "add", cliNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", cliNS).Run() })
	ip("link", "add", "es0", "netns", srvNS, "type", "veth", "peer", "name", "ec0", "netns", cliNS)
	ip("-n", srvNS, "addr", "add", "198.18.99.1/24", "dev", "es0")
	ip("-n", srvNS, "link", "set", "es0", "up")
	ip("-n", srvNS, "link", "set", "lo", "up")
	ip("-n", cliNS, "link", "set", "ec0", "up")
	out, err := exec.Command("ip", "-n", cliNS, "-o", "link", "show", "ec0").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	mac := ""
	for i := range f {
		if f[i] == "link/ether" && i+1 < len(f) {
			mac = f[i+1]
		}
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "dcimd.yaml")
	if err := os.WriteFile(conf, []byte(`netboot:
  http_base_url: http://198.18.99.1:1500
  dhcp4:
    enabled: true
    interfaces: [{name: es0, address: 198.18.99.1}]
    subnets:
      - prefix: 198.18.99.0/24
        lease_time: 10m
        dns: [198.18.99.53]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	const pass = "e2e-admin-password"
	cfg := config{dataDir: filepath.Join(dir, "data"), adminEmail: "admin@example.com", adminPassword: pass}
	cmd := exec.Command("ip", "netns", "exec", srvNS, binPath, "serve", "--config", conf)
	cmd.Env = cfg.environ("DCIMD_LISTEN=127.0.0.1:1500")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("dcimd log:\n%s", b)
		}
	})

	// The API listens on the namespace's loopback: dial from inside it.
	side := qemupxe.Side{NS: srvNS}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := side.Do(func() (err error) {
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		}}}
	const base = "http://127.0.0.1:1500"
	deadline := time.Now().Add(startTimeout)
	for {
		if r, err := hc.Get(base + "/healthz"); err == nil {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dcimd in the namespace did not answer /healthz")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := &client{t: t, base: base, hc: hc}
	tok, _ := c.login("admin@example.com", pass)
	admin := c.as(tok)
	srv := id(t, "server", admin.expect("POST", "/api/dci/v3/server", map[string]any{"name": "dhcp-1", "mac": mac}, 200))
	admin.expect("POST", "/api/ip/v3/ipnet", map[string]any{"name": "198.18.99.0/24", "gateway": "198.18.99.1"}, 200)
	admin.expect("POST", "/api/ip/v3/ip", map[string]any{"name": "198.18.99.42", "server": srv, "set_as_main": true}, 200)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	script := filepath.Join(dir, "udhcpc.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"BOUND $ip $router $dns\"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.CommandContext(ctx, "ip", "netns", "exec", cliNS, "busybox", "udhcpc", "-f", "-q", "-n", "-t", "3", "-T", "1",
		"-i", "ec0", "-s", script).CombinedOutput()
	if err != nil || !strings.Contains(string(got), "BOUND 198.18.99.42 198.18.99.1 198.18.99.53") {
		t.Fatalf("udhcpc: %v\n%s", err, got)
	}
	st := admin.expect("GET", "/api/dci/v3/netboot/status", nil, 200)
	d4, _ := st["dhcp4"].(map[string]any)
	stats, _ := d4["stats"].(map[string]any)
	if d4["enabled"] != true || fmt.Sprint(stats["acks"]) != "1" {
		t.Fatalf("netboot status %v", st)
	}
	r, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(body), "dcimd_dhcp4_acks_total 1") {
		t.Fatalf("metrics %d: %.300s", r.StatusCode, body)
	}
}
