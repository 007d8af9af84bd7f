//go:build linux

package qemupxe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DnsmasqOptions configure a stand-in DHCP and TFTP server (dnsmasq from
// dnsmasq-base), for tests of the boot path that do not exercise dcimd's
// own servers. Boot files are TFTP paths under TFTPRoot or, for iPXE,
// http:// URLs.
type DnsmasqOptions struct {
	// TFTPRoot is served over TFTP; "" turns TFTP off.
	TFTPRoot string
	// IPXEBoot is what clients that say they are iPXE (user class "iPXE")
	// boot: a script name under TFTPRoot or an http:// URL.
	IPXEBoot string
	// BIOSBoot and EFIBoot are what plain PXE clients boot, by client
	// architecture (option 93: 0 and 7/9): undionly.kpxe and ipxe.efi.
	BIOSBoot, EFIBoot string
}

// Dnsmasq is a running dnsmasq.
type Dnsmasq struct {
	PID int
	Dir string // dnsmasq.conf, dnsmasq.log, leases
	cmd *exec.Cmd
}

// Log is dnsmasq's log so far (log-dhcp: one line per packet, and one per
// TFTP transfer).
func (d *Dnsmasq) Log() string { return readTail(filepath.Join(d.Dir, "dnsmasq.log"), 1<<20) }

// Dnsmasq starts dnsmasq on the servers' side for the rest of the test,
// answering DHCP (the .100–.250 range) and TFTP on Iface only. It is
// stopped by its PID at cleanup. Without dnsmasq the test is skipped (or
// failed when CI=true).
func (s Side) Dnsmasq(t testing.TB, o DnsmasqOptions) *Dnsmasq {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		for _, p := range []string{"/usr/sbin/dnsmasq", "/sbin/dnsmasq"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		msg := "qemupxe: dnsmasq not found (package dnsmasq-base)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	first, last := s.DHCPRange()
	conf := []string{
		"port=0", "no-resolv", "no-hosts", "no-daemon", "pid-file=",
		// The tests' files are root's; do not drop to nobody.
		"user=root",
		"interface=" + s.Iface, "bind-interfaces",
		fmt.Sprintf("dhcp-range=%s,%s,255.255.255.0,1h", first, last),
		"dhcp-leasefile=" + filepath.Join(dir, "leases"),
		"dhcp-authoritative", "no-ping", "log-dhcp",
		"log-facility=" + filepath.Join(dir, "dnsmasq.log"),
		"dhcp-userclass=set:ipxe,iPXE",
		"dhcp-match=set:efi64,option:client-arch,7",
		"dhcp-match=set:efi64,option:client-arch,9",
	}
	if o.TFTPRoot != "" {
		conf = append(conf, "enable-tftp", "tftp-root="+o.TFTPRoot)
	}
	next := s.Addr.String()
	if o.IPXEBoot != "" {
		conf = append(conf, fmt.Sprintf("dhcp-boot=tag:ipxe,%s,,%s", o.IPXEBoot, next))
	}
	if o.EFIBoot != "" {
		conf = append(conf, fmt.Sprintf("dhcp-boot=tag:!ipxe,tag:efi64,%s,,%s", o.EFIBoot, next))
	}
	if o.BIOSBoot != "" {
		conf = append(conf, fmt.Sprintf("dhcp-boot=tag:!ipxe,tag:!efi64,%s,,%s", o.BIOSBoot, next))
	}
	cf := filepath.Join(dir, "dnsmasq.conf")
	if err := os.WriteFile(cf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &Dnsmasq{Dir: dir}
	d.cmd = s.Command(context.Background(), bin, "--conf-file="+cf)
	out, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("qemupxe: start dnsmasq: %v", err)
	}
	d.PID = d.cmd.Process.Pid
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = d.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = d.cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Log(), "DHCP, IP range") {
		select {
		case <-exited:
			stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
			t.Fatalf("qemupxe: dnsmasq exited: %v\n%s\n%s", waitErr, stderr, d.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemupxe: dnsmasq not ready after 10 s:\n%s", d.Log())
		}
	}
	return d
}
