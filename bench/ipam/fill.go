package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/ipam"
)

// fillCase is one /16 filled in advance, then allocated from one at a time.
type fillCase struct {
	name  string
	pct   int  // how full the space allocated from is
	holes bool // every other address used instead of a contiguous block
	pool  bool // allocate from a pool whose range starts above the network's lowest free address

	net    ipam.Net
	poolID int64
	used   int        // addresses stored in advance
	space  int        // addresses the allocation draws from
	want   netip.Addr // the address the first allocation must give
}

// fillResult is one fill case measured.
type fillResult struct {
	dialect, name string
	pct           int
	used, space   int
	load          time.Duration // bulk insert of this case's rows
	first         time.Duration // the first allocation (through the store), which moves an empty free_hint
	store, http   series
	httpCall      string
	err           error
}

// series is sequential calls, one at a time.
type series struct {
	n        int
	p50, p99 time.Duration
	max      time.Duration
}

func fillCases() []*fillCase {
	return []*fillCase{
		{name: "ip_net, contiguous", pct: 1},
		{name: "ip_net, contiguous", pct: 50},
		{name: "ip_net, contiguous", pct: 99},
		{name: "ip_net, every other address used", pct: 50, holes: true},
		{name: "ip_pool, range above the free hint", pct: 1, pool: true},
		{name: "ip_pool, range above the free hint", pct: 50, pool: true},
		{name: "ip_pool, range above the free hint", pct: 99, pool: true},
	}
}

// fill measures the cost of one allocation as a network fills.
func fill(ctx context.Context, c benchConfig, rg *rig) []fillResult {
	var out []fillResult
	for i, k := range fillCases() {
		if ctx.Err() != nil {
			break
		}
		r := fillResult{dialect: rg.dialect, name: k.name, pct: k.pct}
		r.err = runFill(ctx, c, rg, k, 1+i, &r)
		if r.err != nil {
			fmt.Printf("%-36s %2d%%: FAILED: %v\n", k.name, k.pct, r.err)
		} else {
			fmt.Printf("%-36s %2d%% (%5d of %5d, loaded in %5.2f s): first %8.2f ms  store p50 %6.2f p99 %7.2f ms (n=%d)  %s p50 %6.2f p99 %7.2f ms (n=%d)\n",
				k.name, k.pct, r.used, r.space, r.load.Seconds(), ms(r.first), ms(r.store.p50), ms(r.store.p99), r.store.n,
				r.httpCall, ms(r.http.p50), ms(r.http.p99), r.http.n)
		}
		out = append(out, r)
	}
	return out
}

func runFill(ctx context.Context, c benchConfig, rg *rig, k *fillCase, slot int, r *fillResult) error {
	cidr := fmt.Sprintf("10.%d.0.0/16", slot)
	net, err := rg.newNet(ctx, cidr)
	if err != nil {
		return err
	}
	k.net = net
	gw := netip.MustParseAddr(net.Gateway)
	first := gw.Next() // 10.x.0.2
	var addrs []netip.Addr
	switch {
	case k.pool:
		// The pool leaves the first /24 out: the network's free hint stays
		// at its start, below the range, for every allocation.
		start := netip.MustParseAddr(fmt.Sprintf("10.%d.1.0", slot))
		last := netip.MustParseAddr(fmt.Sprintf("10.%d.255.254", slot))
		if k.poolID, err = rg.newPool(ctx, fmt.Sprintf("fill-%d", slot), start.String()+"-"+last.String()); err != nil {
			return err
		}
		k.space = int(ipam.Range{First: start, Last: last}.Size().Int64())
		k.used = k.space * k.pct / 100
		addrs = span(start, k.used, 1, gw)
		k.want = start
		for range k.used {
			k.want = k.want.Next()
		}
	case k.holes:
		k.space = allocatable(netip.MustParsePrefix(cidr))
		k.used = k.space * k.pct / 100
		addrs = span(first, k.used, 2, gw)
		k.want = first.Next()
	default:
		k.space = allocatable(netip.MustParsePrefix(cidr))
		k.used = k.space * k.pct / 100
		addrs = span(first, k.used, 1, gw)
		k.want = addrs[len(addrs)-1].Next()
	}
	t0 := time.Now()
	if err := rg.bulkInsert(ctx, net, addrs); err != nil {
		return err
	}
	if err := rg.analyze(ctx); err != nil {
		return err
	}
	r.used, r.space, r.load = k.used, k.space, time.Since(t0)

	m := rg.db.IPAM()
	alloc := ipam.Alloc{NetID: net.ID, Reserved: true, Status: ipam.StatusOK}
	if k.pool {
		alloc = ipam.Alloc{PoolID: k.poolID, Family: 4, Reserved: true, Status: ipam.StatusOK}
	}
	t0 = time.Now()
	ip, err := m.Allocate(ctx, alloc)
	r.first = time.Since(t0)
	if err != nil {
		return fmt.Errorf("first allocation: %w", err)
	}
	if ip.Name != k.want.String() {
		return fmt.Errorf("first allocation gave %s, want %s", ip.Name, k.want)
	}
	if r.store, err = sequential(ctx, c, func(ctx context.Context) error {
		_, err := m.Allocate(ctx, alloc)
		return err
	}); err != nil {
		return fmt.Errorf("store: %w", err)
	}

	cl := rg.client()
	defer cl.HC.CloseIdleConnections()
	var call func(ctx context.Context) error
	if k.pool {
		r.httpCall = "HTTP billing"
		body := fmt.Appendf(nil, `{"family":"ipv4","ip_pool":%d}`, k.poolID)
		i := 0
		call = func(ctx context.Context) error {
			i++
			_, _, err := post(ctx, cl, fmt.Sprintf("/api/dci/v3/server/%d/ip", rg.servers[i%len(rg.servers)]), body)
			return err
		}
	} else {
		r.httpCall = "HTTP admin"
		body := fmt.Appendf(nil, `{"ip_net":%d}`, net.ID)
		call = func(ctx context.Context) error {
			_, _, err := post(ctx, cl, "/api/ip/v3/ip", body)
			return err
		}
	}
	if err := call(ctx); err != nil { // the connection
		return err
	}
	if r.http, err = sequential(ctx, c, call); err != nil {
		return fmt.Errorf("HTTP: %w", err)
	}
	if k.pool {
		if _, err := rg.waitTasks(ctx, time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// sequential times c.fillN calls one after the other (at most c.fillCap).
func sequential(ctx context.Context, c benchConfig, call func(ctx context.Context) error) (series, error) {
	lats, _, err := runLoad(ctx, 1, c.fillN, c.fillCap, func(ctx context.Context, _, _ int) error { return call(ctx) })
	return series{n: len(lats), p50: benchkit.Quantile(lats, 0.5), p99: benchkit.Quantile(lats, 0.99),
		max: benchkit.Quantile(lats, 1)}, err
}
