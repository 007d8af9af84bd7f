package dhcp4d_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot/dhcp4d"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// TestPerfdhcp measures DORA/s with Kea's perfdhcp against the server in a
// namespace, like the harness's Kea and dnsmasq baselines (netboot.md §2):
// 2000 known machines, 10 s of sending at each rate, 1 s of waiting.
// Opt-in, as it takes a minute:
//
//	DCIMD_PERFDHCP=500,1000,1500 [DCIMD_PERFDHCP_DB=postgres] [DCIMD_PERFDHCP_WORKERS=8] \
//	  go test -run Perfdhcp -v ./internal/netboot/dhcp4d/
//
// Measured on the 2-core harness machine (perfdhcp on the same cores;
// ACK/s = acks / 10 s): 1000/s with no drops on SQLite and on PostgreSQL,
// about 1100 ACK/s at 1500/s offered on SQLite, the rest shed as
// queue_full drops. (dnsmasq 200-400/s, Kea memfile 4000/s.)
func TestPerfdhcp(t *testing.T) {
	rates := os.Getenv("DCIMD_PERFDHCP")
	if rates == "" {
		t.Skip("set DCIMD_PERFDHCP to a list of rates to run perfdhcp")
	}
	perf, err := exec.LookPath("perfdhcp")
	if err != nil {
		t.Skip("perfdhcp (Debian package kea-admin) not found")
	}
	dialect := os.Getenv("DCIMD_PERFDHCP_DB")
	if dialect == "" {
		dialect = "sqlite"
	}
	l := newLab(t)
	srv, cli := l.ns("srv"), l.ns("cli")
	l.veth(srv, "vs", cli, "vc")
	l.ip(srv, "addr", "add", "198.18.0.1/16", "dev", "vs")
	l.ip(cli, "addr", "add", "198.18.0.2/16", "dev", "vc")

	for _, rate := range strings.Split(rates, ",") {
		t.Run(dialect+"-"+rate, func(t *testing.T) {
			db := dbtest.Open(t, dialect)
			macFile := perfHosts(t, db, 2000)
			s, err := dhcp4d.New(dhcp4d.Options{
				Interfaces: []dhcp4d.Interface{{Name: "vs", Addr: srvIP}},
				Subnets:    []dhcp4d.Subnet{{Prefix: netip.MustParsePrefix("198.18.0.0/16")}},
				Hosts:      db.DHCP(), Leases: db.DHCP(), Log: quietLog(), ListenPacket: listenIn(srv), Workers: perfWorkers(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer stopServer(t, s)
			// perfdhcp acts as a relay from 198.18.0.2:67 (giaddr set).
			out, err := l.run(cli, 60*time.Second, perf, "-4", "-l", "vc", "-r", rate, "-R", "2000", "-p", "10", "-W", "1000000",
				"-M", macFile, "198.18.0.1")
			t.Logf("perfdhcp -r %s (%s):\n%s", rate, dialect, out)
			if err != nil && !strings.Contains(out, "Rate:") {
				t.Fatalf("perfdhcp: %v", err)
			}
			st := s.Stats()
			t.Logf("server: offers %d, acks %d, naks %d, drops %d %v", st.Offers, st.Acks, st.Naks, st.Drops, st.DropsBy)
		})
	}
}

// perfHosts stores n machines with an address each and writes their MACs.
func perfHosts(t *testing.T, db *store.DB, n int) string {
	ctx := context.Background()
	nw := ipam.Net{Name: "198.18.0.0/16", Gateway: "198.18.0.1"}
	if err := db.IPAM().CreateNet(ctx, &nw); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range n {
		mac := net.HardwareAddr{0x52, 0x54, 0, 0x42, byte(i >> 8), byte(i)}
		s := server.Server{Name: fmt.Sprintf("perf%d", i), MAC: mac, State: server.StateOK, PowerStatus: server.StatusUnknown}
		if err := db.Inventory().Servers.Create(ctx, &s); err != nil {
			t.Fatal(err)
		}
		if _, err := db.IPAM().Allocate(ctx, ipam.Alloc{NetID: nw.ID, ServerID: &s.ID, SetMain: true}); err != nil {
			t.Fatal(err)
		}
		b.WriteString(mac.String() + "\n")
	}
	p := filepath.Join(t.TempDir(), "macs")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// perfWorkers is DCIMD_PERFDHCP_WORKERS, 0 (the default) when unset.
func perfWorkers() int {
	var n int
	fmt.Sscan(os.Getenv("DCIMD_PERFDHCP_WORKERS"), &n)
	return n
}
