package dhcp6d

import (
	"context"
	"slices"
	"sync"

	"github.com/dcimd/dcimd/internal/netboot"
)

// MemLeases keeps DHCPv6 leases in memory, one per address: the default
// when Options.Leases is nil, and for tests. store.DHCP (SaveLease6)
// persists them in dhcp_leases with the v4 ones.
type MemLeases struct {
	mu sync.Mutex
	m  map[int64]netboot.Lease // by IPAM address id
}

// NewMemLeases makes an empty lease table.
func NewMemLeases() *MemLeases { return &MemLeases{m: map[int64]netboot.Lease{}} }

// SaveLease6 records the lease of an address (a new holder replaces the old).
func (m *MemLeases) SaveLease6(_ context.Context, l netboot.Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[l.IPID] = l
	return nil
}

// Leases lists the leases by address id.
func (m *MemLeases) Leases() []netboot.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]netboot.Lease, 0, len(m.m))
	for _, l := range m.m {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b netboot.Lease) int { return int(a.IPID - b.IPID) })
	return out
}
