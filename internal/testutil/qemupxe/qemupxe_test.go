//go:build linux

package qemupxe

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// bootServers is the stand-in boot infrastructure of the self-test:
// dnsmasq for DHCP and TFTP, and an HTTP server in the servers' namespace
// that serves each machine's iPXE script and records phone-homes.
type bootServers struct {
	base    string
	dnsmasq *Dnsmasq

	mu       sync.Mutex
	scripts  []string // MACs whose script was fetched
	phoned   chan phoneHome
	tftpRoot string
}

type phoneHome struct {
	mac string
	at  time.Time
}

// newBootServers starts the servers on n. The chain a VM follows:
// DHCP → TFTP boot.ipxe (iPXE; plain PXE clients first get the iPXE
// loader over TFTP) → HTTP /boot/<mac>.ipxe → HTTP /phonehome?mac=<mac>.
func newBootServers(t testing.TB, n *Net, efiLoader string) *bootServers {
	t.Helper()
	side := n.Server()
	b := &bootServers{phoned: make(chan phoneHome, 8), tftpRoot: t.TempDir()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boot/{script}", func(w http.ResponseWriter, r *http.Request) {
		mac, _ := strings.CutSuffix(r.PathValue("script"), ".ipxe")
		b.mu.Lock()
		b.scripts = append(b.scripts, mac)
		b.mu.Unlock()
		_, _ = w.Write([]byte("#!ipxe\n" +
			"echo qemupxe: HTTP script for " + mac + "\n" +
			"imgfetch " + b.base + "/phonehome?mac=${net0/mac} || echo qemupxe: phone-home failed\n" +
			"exit\n"))
	})
	mux.HandleFunc("GET /phonehome", func(w http.ResponseWriter, r *http.Request) {
		select {
		case b.phoned <- phoneHome{mac: r.URL.Query().Get("mac"), at: time.Now()}:
		default:
		}
		_, _ = w.Write([]byte("#!ipxe\n"))
	})
	b.base = side.ServeHTTP(t, mux, 0)

	script := "#!ipxe\n" +
		"echo qemupxe: TFTP script, mac ${net0/mac} ip ${net0/ip} platform ${platform}\n" +
		"chain " + b.base + "/boot/${net0/mac}.ipxe || exit\n"
	if err := os.WriteFile(filepath.Join(b.tftpRoot, "boot.ipxe"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	o := DnsmasqOptions{TFTPRoot: b.tftpRoot, IPXEBoot: "boot.ipxe"}
	if efiLoader != "" {
		if err := copyFile(efiLoader, filepath.Join(b.tftpRoot, "ipxe.efi"), 0o644); err != nil {
			t.Fatal(err)
		}
		o.EFIBoot = "ipxe.efi"
	}
	b.dnsmasq = side.Dnsmasq(t, o)
	return b
}

// bootOnce starts a VM and waits for its phone-home; it returns the
// seconds from qemu's start.
func (b *bootServers) bootOnce(t testing.TB, n *Net, o Options, wait time.Duration) float64 {
	t.Helper()
	o.Net = n
	vm := Start(t, o)
	defer vm.Stop()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ph := <-b.phoned:
			if ph.mac != vm.MAC {
				t.Logf("phone-home from %s, not this VM (%s)", ph.mac, vm.MAC)
				continue
			}
			secs := ph.at.Sub(vm.Started).Seconds()
			b.check(t, vm)
			return secs
		case <-vm.Done():
			t.Fatalf("qemu exited after %.1f s before the phone-home: %v\n%s", vm.Elapsed().Seconds(), vm.Err(), b.summary())
		case <-timer.C:
			t.Fatalf("no phone-home from %s within %s\ndnsmasq (TFTP and replies):\n%s", vm.MAC, wait, b.summary())
		}
	}
}

// summary is dnsmasq's log without the per-option lines.
func (b *bootServers) summary() string {
	var keep []string
	for _, l := range strings.Split(b.dnsmasq.Log(), "\n") {
		if strings.Contains(l, "tftp") || strings.Contains(l, "DHCPACK") || strings.Contains(l, "DHCPOFFER") ||
			strings.Contains(l, "bootfile") || strings.Contains(l, "vendor class") || strings.Contains(l, "user class") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// check: every step of the chain shows in the servers' records.
func (b *bootServers) check(t testing.TB, vm *VM) {
	t.Helper()
	log := b.dnsmasq.Log()
	if !strings.Contains(log, "DHCPACK("+vm.ServerSide().Iface+")") || !strings.Contains(log, vm.MAC) {
		t.Errorf("dnsmasq did not acknowledge %s:\n%s", vm.MAC, log)
	}
	if !strings.Contains(log, "sent "+filepath.Join(b.tftpRoot, "boot.ipxe")) {
		t.Errorf("boot.ipxe was not sent over TFTP:\n%s", log)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	found := false
	for _, m := range b.scripts {
		found = found || m == vm.MAC
	}
	if !found {
		t.Errorf("no HTTP script fetched for %s (fetched: %v)", vm.MAC, b.scripts)
	}
}

// TestPXEPhoneHome boots a diskless VM per firmware path to a phone-home
// the test sees, and logs the seconds from qemu's start:
//   - bios: SeaBIOS, e1000 with iPXE as its option ROM;
//   - uefi: OVMF, virtio-net with iPXE as its option ROM;
//   - uefi-pxe: OVMF's own PXE client loads ipxe.efi (Debian's ipxe
//     package, or netboot/ after `make netboot`) over TFTP, which then
//     takes the iPXE path.
//
// The three boot at once, each on its own network, to keep the wall time
// near one boot's; on two cores their times grow by about half
// (BenchmarkPXEPhoneHome boots one at a time).
func TestPXEPhoneHome(t *testing.T) {
	if testing.Short() {
		t.Skip("qemu PXE boots take 20-40 s each under TCG; skipped with -short")
	}
	for _, tc := range []struct {
		name string
		o    Options
		wait time.Duration
	}{
		{"bios", Options{Firmware: BIOS}, 120 * time.Second},
		{"uefi", Options{Firmware: UEFI}, 150 * time.Second},
		{"uefi-pxe", Options{Firmware: UEFI, ROM: NoROM}, 150 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			efi := ""
			if tc.o.ROM == NoROM {
				efi = Loader(t, "ipxe.efi")
			}
			n := NewNet(t)
			b := newBootServers(t, n, efi)
			secs := b.bootOnce(t, n, tc.o, tc.wait)
			t.Logf("%s: phone-home %.1f s after qemu started", tc.name, secs)
		})
	}
}

// BenchmarkPXEPhoneHome reports the seconds from qemu's start to the
// phone-home (run with -benchtime=1x; each boot is 20-40 s).
func BenchmarkPXEPhoneHome(b *testing.B) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"bios", Options{Firmware: BIOS}},
		{"uefi", Options{Firmware: UEFI}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := NewNet(b)
			srv := newBootServers(b, n, "")
			var total float64
			for b.Loop() {
				secs := srv.bootOnce(b, n, tc.o, 180*time.Second)
				b.Logf("%s: phone-home %.1f s after qemu started", tc.name, secs)
				total += secs
			}
			b.ReportMetric(total/float64(b.N), "s/phonehome")
		})
	}
}
