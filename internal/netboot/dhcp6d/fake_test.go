package dhcp6d_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/dcimd/dcimd/internal/netboot"
)

// fakeHosts is IPAM in a map: MAC → addresses of its server.
type fakeHosts struct {
	mu    sync.Mutex
	hosts map[string][]netip.Addr
	fail  bool
	calls int
}

func newFakeHosts() *fakeHosts { return &fakeHosts{hosts: map[string][]netip.Addr{}} }

func (f *fakeHosts) add(mac net.HardwareAddr, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range ips {
		f.hosts[mac.String()] = append(f.hosts[mac.String()], netip.MustParseAddr(s))
	}
}

func (f *fakeHosts) Host6(_ context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail {
		return netboot.Host{}, errors.New("database down")
	}
	ips, ok := f.hosts[mac.String()]
	if !ok {
		return netboot.Host{}, nil
	}
	h := netboot.Host{ServerID: 7, ServerName: "srv-7"}
	for i, a := range ips {
		if subnet.Contains(a) {
			h.IP, h.IPID, h.NetID, h.Prefix = a, int64(100+i), 3, subnet
			break
		}
	}
	return h, nil
}
