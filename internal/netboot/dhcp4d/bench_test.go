package dhcp4d_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot/dhcp4d"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// BenchmarkDORA is one DISCOVER and one REQUEST of a known machine through
// the handler and a real database (a lookup, an offer and a bound lease
// written): the server's cost per new lease without the network.
//
//	go test -run XXX -bench DORA ./internal/netboot/dhcp4d/
func BenchmarkDORA(b *testing.B) {
	for _, dialect := range dbtest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := dbtest.Open(b, dialect)
			n := ipam.Net{Name: "10.20.0.0/16", Gateway: "10.20.0.1"}
			if err := db.IPAM().CreateNet(ctx, &n); err != nil {
				b.Fatal(err)
			}
			const hosts = 2000
			macs := make([]net.HardwareAddr, hosts)
			for i := range hosts {
				macs[i] = net.HardwareAddr{0x52, 0x54, 0, 0, byte(i >> 8), byte(i)}
				s := server.Server{Name: fmt.Sprintf("b%d", i), MAC: macs[i], State: server.StateOK, PowerStatus: server.StatusUnknown}
				if err := db.Inventory().Servers.Create(ctx, &s); err != nil {
					b.Fatal(err)
				}
				if _, err := db.IPAM().Allocate(ctx, ipam.Alloc{NetID: n.ID, ServerID: &s.ID, SetMain: true}); err != nil {
					b.Fatal(err)
				}
			}
			srv := netip.MustParseAddr("10.20.0.1")
			h, err := dhcp4d.NewHandler(dhcp4d.Options{Subnets: []dhcp4d.Subnet{{Prefix: netip.MustParsePrefix("10.20.0.0/16")}},
				Hosts: db.DHCP(), Leases: db.DHCP(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				RateLimit: dhcp4d.RateLimit{PerSecond: 1e9, Burst: 1 << 30}})
			if err != nil {
				b.Fatal(err)
			}
			in := dhcp4d.In{Iface: "bench", Addr: srv, Port: 67}
			b.ResetTimer()
			for i := range b.N {
				mac := macs[i%hosts]
				d, _ := dhcpv4.NewDiscovery(mac)
				out, _, r := h.HandlePacket(ctx, d.ToBytes(), in)
				if out == nil {
					b.Fatalf("discover: %s", r)
				}
				offer, _ := dhcpv4.FromBytes(out)
				req, _ := dhcpv4.NewRequestFromOffer(offer)
				if out, _, r = h.HandlePacket(ctx, req.ToBytes(), in); r != dhcp4d.Acked {
					b.Fatalf("request: %s", r)
				}
			}
		})
	}
}
