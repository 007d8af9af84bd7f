package dhcp4d

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netboot"
)

// fakeStore is an in-memory IPAM with leases, for handler tests: hosts by
// MAC, one lease per address id, discovery handing out a range in order.
type fakeStore struct {
	mu       sync.Mutex
	hosts    []netboot.Host
	macs     map[int64]string // server id → mac
	leases   map[int64]netboot.Lease
	taken    map[netip.Addr]bool
	nextID   int64
	err      error // returned by every call when set
	writes   int
	declined []netboot.Lease
}

func newFakeStore() *fakeStore {
	return &fakeStore{macs: map[int64]string{}, leases: map[int64]netboot.Lease{}, taken: map[netip.Addr]bool{}, nextID: 100}
}

// add gives mac the address ip (in prefix, gateway gw) as a known server.
func (f *fakeStore) add(mac, ip, prefix, gw string) netboot.Host {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	h := netboot.Host{ServerID: f.serverOf(mac), ServerName: "srv-" + mac, IPID: f.nextID, NetID: 1,
		IP: netip.MustParseAddr(ip), Prefix: netip.MustParsePrefix(prefix)}
	if gw != "" {
		h.Gateway = netip.MustParseAddr(gw)
	}
	f.hosts = append(f.hosts, h)
	f.taken[h.IP] = true
	return h
}

func (f *fakeStore) serverOf(mac string) int64 {
	for id, m := range f.macs {
		if m == mac {
			return id
		}
	}
	f.nextID++
	f.macs[f.nextID] = mac
	return f.nextID
}

func (f *fakeStore) Host(_ context.Context, mac net.HardwareAddr, subnet netip.Prefix) (netboot.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return netboot.Host{}, f.err
	}
	var out netboot.Host
	for id, m := range f.macs {
		if m == mac.String() {
			out.ServerID = id
		}
	}
	for _, h := range f.hosts {
		if f.macs[h.ServerID] == mac.String() {
			out.ServerID, out.IsNew = h.ServerID, h.IsNew
			if subnet.Contains(h.IP) {
				out = h
				if l, ok := f.leases[h.IPID]; ok {
					out.Lease = &l
				}
				return out, nil
			}
		}
	}
	return out, nil
}

func (f *fakeStore) Discover(ctx context.Context, mac net.HardwareAddr, subnet netip.Prefix, r netboot.Range) (netboot.Host, error) {
	h, err := f.Host(ctx, mac, subnet)
	if err != nil || h.IP.IsValid() {
		return h, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if h.ServerID != 0 && !h.IsNew {
		return netboot.Host{}, fault.Conflict("adopted")
	}
	for a := r.First; r.Contains(a); a = a.Next() {
		if f.taken[a] {
			continue
		}
		f.nextID++
		n := netboot.Host{ServerID: f.serverOf(mac.String()), IsNew: true, IPID: f.nextID, NetID: 1, IP: a, Prefix: subnet, Dynamic: true}
		f.hosts = append(f.hosts, n)
		f.taken[a] = true
		return n, nil
	}
	return netboot.Host{}, fault.Conflict("range exhausted")
}

func (f *fakeStore) SaveLease(_ context.Context, l netboot.Lease) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.writes++
	f.leases[l.IPID] = l
	return nil
}

func (f *fakeStore) DeclineLease(_ context.Context, l netboot.Lease) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.writes++
	f.leases[l.IPID] = l
	f.declined = append(f.declined, l)
	return nil
}

func (f *fakeStore) lease(ip string) (netboot.Lease, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.leases {
		if l.IP == netip.MustParseAddr(ip) {
			return l, true
		}
	}
	return netboot.Lease{}, false
}

func (f *fakeStore) writeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

var errDown = errors.New("database down")
