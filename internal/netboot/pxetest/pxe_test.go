//go:build linux

// Package pxetest boots a real machine (qemu, TCG) from dcimd's own boot
// servers: DHCPv4 (dhcp4d) hands out the address IPAM holds for the
// machine's MAC and points its iPXE ROM at the HTTP script, httpboot
// renders the script of the machine's plan, and the script phones home
// with its one-time token. Nothing but dcimd's code serves the boot.
package pxetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot/dhcp4d"
	"github.com/dcimd/dcimd/internal/netboot/httpboot"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
	"github.com/dcimd/dcimd/internal/testutil/qemupxe"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	if code != 0 {
		panic(code)
	}
}

// planFunc is a Plans made of a function.
type planFunc func(ctx context.Context, mac net.HardwareAddr) (httpboot.Plan, error)

func (f planFunc) BootPlan(ctx context.Context, mac net.HardwareAddr) (httpboot.Plan, error) {
	return f(ctx, mac)
}

func TestPXEBootFromDcimd(t *testing.T) {
	if testing.Short() {
		t.Skip("a qemu PXE boot takes about 20 s under TCG; skipped with -short")
	}
	ctx := context.Background()
	n := qemupxe.NewNet(t)
	side := n.Server()
	db := dbtest.Open(t, "sqlite")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Inventory: the machine, its network and its address.
	mac := "52:54:00:dc:1d:01"
	hw, _ := net.ParseMAC(mac)
	srv := server.Server{Name: "pxe-1", State: server.StateOK, PowerStatus: "unknown", MAC: hw}
	if err := db.Inventory().Servers.Create(ctx, &srv); err != nil {
		t.Fatal(err)
	}
	nw := ipam.Net{Name: side.Prefix.String(), Gateway: side.Addr.String()}
	if err := db.IPAM().CreateNet(ctx, &nw); err != nil {
		t.Fatal(err)
	}
	want := side.Prefix.Addr().Next().Next().Next() // .3: .1 is the servers' side
	if _, err := db.IPAM().Allocate(ctx, ipam.Alloc{Name: want.String(), ServerID: &srv.ID, SetMain: true}); err != nil {
		t.Fatal(err)
	}
	token, err := db.BootTokens().IssueToken(ctx, srv.ID, nil, "pxe-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// HTTP boot: the machine's plan is the linux template, whose iPXE
	// script phones home before it loads the kernel.
	plans := planFunc(func(ctx context.Context, m net.HardwareAddr) (httpboot.Plan, error) {
		if m.String() != mac {
			return httpboot.Plan{}, httpboot.ErrUnknownMachine
		}
		return httpboot.Plan{Template: "linux", Kernel: "vmlinuz", Initrd: "initrd.img", Token: token, ServerID: srv.ID}, nil
	})
	boot := httpboot.New(httpboot.Options{Plans: plans, Events: db.BootTokens(), ImageDir: t.TempDir(), Log: log})
	mux := http.NewServeMux()
	mux.Handle("/boot/", boot)
	base := side.ServeHTTP(t, mux, 0)

	// DHCPv4 on the servers' side of the boot network, never in the root
	// namespace: the socket is opened inside it.
	leases := db.DHCP()
	d, err := dhcp4d.New(dhcp4d.Options{
		Interfaces: []dhcp4d.Interface{{Name: side.Iface, Addr: side.Addr}},
		Subnets:    []dhcp4d.Subnet{{Prefix: side.Prefix, HTTPBase: base, LeaseTime: time.Hour}},
		Hosts:      leases, Leases: leases, Log: log,
		ListenPacket: func(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
			var c net.PacketConn
			err := side.Do(func() error {
				u, err := server4.NewIPv4UDPConn(ifname, net.UDPAddrFromAddrPort(addr))
				c = u
				return err
			})
			return c, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	})

	vm := qemupxe.Start(t, qemupxe.Options{Firmware: qemupxe.BIOS, MAC: mac, Net: n, Timeout: 3 * time.Minute})
	defer vm.Stop()
	deadline := time.After(150 * time.Second)
	for {
		evs, err := db.BootTokens().Events(ctx, store.BootEventQuery{ServerID: srv.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			t.Logf("phone-home %q (%s) %.1f s after qemu started", evs[0].Status, evs[0].Message, vm.Elapsed().Seconds())
			break
		}
		select {
		case <-vm.Done():
			t.Fatalf("qemu exited before the phone-home: %v\nDHCP stats %+v\nserial:\n%s", vm.Err(), d.Stats(), vm.Serial())
		case <-deadline:
			vm.KeepDir()
			t.Fatalf("no phone-home within 150 s; DHCP stats %+v; VM dir %s", d.Stats(), vm.Dir)
		case <-time.After(250 * time.Millisecond):
		}
	}
	ls, err := leases.Leases(ctx, hw)
	if err != nil || len(ls) == 0 || ls[0].IP != want {
		t.Fatalf("lease of %s: %+v %v; want %s", mac, ls, err, want)
	}
	if st := d.Stats(); st.Acks == 0 || st.Offers == 0 {
		t.Fatalf("DHCP stats %+v", st)
	}
}
