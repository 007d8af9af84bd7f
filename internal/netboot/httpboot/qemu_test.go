//go:build linux

package httpboot_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/netboot/httpboot"
	"github.com/dcimd/dcimd/internal/testutil/qemupxe"
)

type onePlan struct{ plan httpboot.Plan }

func (p onePlan) BootPlan(context.Context, net.HardwareAddr) (httpboot.Plan, error) {
	return p.plan, nil
}

// eventLog records reports under one token, as the store would.
type eventLog struct {
	mu     sync.Mutex
	token  string
	spent  bool
	events chan httpboot.Event
}

func (e *eventLog) Report(_ context.Context, token string, ev httpboot.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if token != e.token {
		return httpboot.ErrUnknownToken
	}
	if e.spent {
		return httpboot.ErrTokenSpent
	}
	e.spent = ev.Status.Final()
	e.events <- ev
	return nil
}

// TestQEMUBootScript runs the shipped linux template on real iPXE (the
// 2019 build qemu's ROMs carry): a BIOS VM gets the URL of its script
// straight from DHCP, fetches it from this handler, phones home
// "progress" with imgfetch, fails to boot the kernel (the image is not a
// kernel), and phones home "fail" from the script's failure path.
func TestQEMUBootScript(t *testing.T) {
	if testing.Short() {
		t.Skip("a qemu PXE boot takes about 20 s under TCG; skipped with -short")
	}
	n := qemupxe.NewNet(t)
	side := n.Server()
	images := t.TempDir()
	for _, f := range []string{"test/vmlinuz", "test/initrd"} {
		p := filepath.Join(images, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("not a kernel\n", 100000)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const token = "qemu-test-token-0123456789abcdef"
	events := &eventLog{token: token, events: make(chan httpboot.Event, 8)}
	h := httpboot.New(httpboot.Options{
		Plans: onePlan{httpboot.Plan{Template: "linux", ServerID: 1, Kernel: "test/vmlinuz", Initrd: "test/initrd",
			Cmdline: "console=ttyS0", Token: token}},
		Events: events, ImageDir: images,
		Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	base := side.ServeHTTP(t, h, 0)
	const mac = "52:54:00:0b:00:75"
	dns := side.Dnsmasq(t, qemupxe.DnsmasqOptions{IPXEBoot: base + "/boot/" + mac + ".ipxe"})
	vm := qemupxe.Start(t, qemupxe.Options{Firmware: qemupxe.BIOS, MAC: mac, Net: n})

	want := []httpboot.Status{httpboot.StatusProgress, httpboot.StatusFail}
	timeout := time.After(150 * time.Second)
	for i := 0; i < len(want); {
		select {
		case ev := <-events.events:
			if ev.Status != want[i] {
				t.Fatalf("event %d: %s, want %s", i, ev.Status, want[i])
			}
			t.Logf("phone-home %s %.1f s after qemu started, from %s", ev.Status, vm.Elapsed().Seconds(), ev.RemoteAddr)
			i++
		case <-vm.Done():
			t.Fatalf("qemu exited: %v", vm.Err())
		case <-timeout:
			t.Fatalf("no %s phone-home within 150 s; dnsmasq:\n%s", want[i], dns.Log())
		}
	}
}
