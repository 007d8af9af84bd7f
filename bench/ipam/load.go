package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/dcimd/dcimd/internal/ipam"
)

// ipCols are the columns a stored address row gets, as store.IPAM.Allocate
// writes them (status_info and the flags at their defaults).
const ipCols = "name, family, ipnet_id, userspace, domain, status, status_info, note, reserved, permanent, sort_key, created_at, updated_at"

const nIPCols = 13

// ph is the n-th (1-based) bind placeholder of the dialect.
func (rg *rig) ph(n int) string {
	if rg.db.IsPostgres() {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// insertOneSQL is the single-row INSERT of the raw database floor.
func (rg *rig) insertOneSQL() string {
	var b strings.Builder
	b.WriteString("INSERT INTO ips (" + ipCols + ") VALUES (")
	for i := 1; i <= nIPCols; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString(rg.ph(i))
	}
	b.WriteString(")")
	return b.String()
}

// ipArgs are the values of one address row of network net.
func ipArgs(a netip.Addr, net ipam.Net, now time.Time) []any {
	return []any{a.String(), net.Family, net.ID, net.Userspace, "", ipam.StatusOK, "{}", "", true, false, ipam.Key(a), now, now}
}

// bulkInsert stores addrs in network net, in one transaction of multi-row
// INSERTs, with the sort key set as the store sets it. The network's
// free_hint stays as it is (” for a new network): the first allocation
// moves it, as after an upgrade from rows without a hint.
func (rg *rig) bulkInsert(ctx context.Context, net ipam.Net, addrs []netip.Addr) error {
	const chunk = 100 // 1,300 parameters; 1,000 rows a statement loaded 5x slower on SQLite
	tx, err := rg.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	now := time.Now().UTC()
	for start := 0; start < len(addrs); start += chunk {
		part := addrs[start:min(start+chunk, len(addrs))]
		var b strings.Builder
		b.WriteString("INSERT INTO ips (" + ipCols + ") VALUES ")
		args := make([]any, 0, len(part)*nIPCols)
		for i, a := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := 1; j <= nIPCols; j++ {
				if j > 1 {
					b.WriteString(", ")
				}
				b.WriteString(rg.ph(i*nIPCols + j))
			}
			b.WriteString(")")
			args = append(args, ipArgs(a, net, now)...)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("bulk insert into %s: %w", net.Name, err)
		}
	}
	return tx.Commit()
}

// analyze refreshes PostgreSQL's statistics after a bulk load, as
// autovacuum would shortly after; SQLite gets nothing (as deployed).
func (rg *rig) analyze(ctx context.Context) error {
	if !rg.db.IsPostgres() {
		return nil
	}
	_, err := rg.db.SQL().ExecContext(ctx, "ANALYZE")
	return err
}

// span lists n addresses from first on, skipping every step-1 in between
// (step 1: consecutive) and the gateway.
func span(first netip.Addr, n, step int, gw netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for a := first; len(out) < n && a.IsValid(); {
		if a != gw {
			out = append(out, a)
		}
		for range step {
			a = a.Next()
		}
	}
	return out
}

// allocatable is the number of addresses a network (usable, without its
// gateway) hands out, for the IPv4 networks here.
func allocatable(p netip.Prefix) int {
	u, _ := ipam.Usable(p)
	return int(u.Size().Int64()) - 1
}
