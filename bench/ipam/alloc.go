package main

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/ipam"
)

// Throughput cases, in the order they run and print.
const (
	caseFloor   = "raw INSERT floor (database/sql)"
	caseStore   = "store IPAM.Allocate (ip_net)"
	caseAdmin   = "HTTP admin POST /ip/v3/ip {ip_net}"
	caseBilling = "HTTP billing POST /server/{id}/ip {ip_pool}"
	caseAdmin6  = "HTTP admin POST /ip/v3/ip {ip_net}, IPv6 /48"
)

// tput is one throughput case at one client count.
type tput struct {
	dialect, name string
	clients       int
	n             int           // allocations answered
	elapsed       time.Duration // first request to last answer
	rate          float64       // n / elapsed
	p50, p99      time.Duration // per call
	stmts         int64         // statements per call counted by the store (-1: not counted)
	cpu           benchkit.CPUUse
	dbCPU         float64       // CPUs the PostgreSQL cluster kept busy on average (0 on SQLite: in process)
	pgStmts       *stmtCount    // PostgreSQL statements per call (first client count only)
	settled       time.Duration // billing: first request to the last ip_allocate task complete
	settledRate   float64
	err           error
}

// cpuPerAlloc is the CPU time of this process (client included) and of
// the database server per call, in ms.
func (t tput) cpuPerAlloc() float64 {
	if t.n == 0 {
		return 0
	}
	return (t.cpu.Self + t.dbCPU) * t.elapsed.Seconds() * 1000 / float64(t.n)
}

// runLoad calls do n times from clients goroutines (each its own index
// range of calls, worker w) until n calls or the cap; it returns every
// call's duration and the wall time.
func runLoad(ctx context.Context, clients, n int, capDur time.Duration, do func(ctx context.Context, w, i int) error) ([]time.Duration, time.Duration, error) {
	// The cap stops new calls but lets the ones in flight finish: a call
	// cut off could have been served (and its task queued) unrecorded.
	deadline := time.Now().Add(capDur)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	lats := make([][]time.Duration, clients)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s := time.Now()
				if err := do(ctx, w, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				lats[w] = append(lats[w], time.Since(s))
			}
		})
	}
	wg.Wait()
	return slices.Concat(lats...), time.Since(t0), firstErr
}

// allocCase is one way of allocating: prepare makes its network (and pool)
// and returns the call.
type allocCase struct {
	key     string // its name for -cases
	name    string
	prepare func(ctx context.Context, rg *rig, clients int, slot int) (func(ctx context.Context, w, i int) error, error)
	billing bool // queues ip_allocate tasks: wait for them
	floor   bool // no store statements to count
}

func allocCases(c benchConfig) []allocCase {
	return []allocCase{
		{key: "floor", name: caseFloor, floor: true, prepare: func(ctx context.Context, rg *rig, clients, slot int) (func(context.Context, int, int) error, error) {
			net, err := rg.newNet(ctx, fmt.Sprintf("10.%d.0.0/16", 40+slot))
			if err != nil {
				return nil, err
			}
			p := netip.MustParsePrefix(net.Name)
			gw := netip.MustParseAddr(net.Gateway)
			addrs := span(gw.Next(), min(c.allocs+64, allocatable(p)), 1, gw)
			q := rg.insertOneSQL()
			var pos atomic.Int64 // warm-up calls take addresses too
			return func(ctx context.Context, _, _ int) error {
				i := int(pos.Add(1)) - 1
				if i >= len(addrs) {
					return fmt.Errorf("floor network %s is full", net.Name)
				}
				_, err := rg.db.SQL().ExecContext(ctx, q, ipArgs(addrs[i], net, time.Now().UTC())...)
				return err
			}, nil
		}},
		{key: "store", name: caseStore, prepare: func(ctx context.Context, rg *rig, clients, slot int) (func(context.Context, int, int) error, error) {
			net, err := rg.newNet(ctx, fmt.Sprintf("10.%d.0.0/16", 40+slot))
			if err != nil {
				return nil, err
			}
			m := rg.db.IPAM()
			return func(ctx context.Context, _, _ int) error {
				_, err := m.Allocate(ctx, ipam.Alloc{NetID: net.ID, Reserved: true, Status: ipam.StatusOK})
				return err
			}, nil
		}},
		{key: "admin", name: caseAdmin, prepare: func(ctx context.Context, rg *rig, clients, slot int) (func(context.Context, int, int) error, error) {
			net, err := rg.newNet(ctx, fmt.Sprintf("10.%d.0.0/16", 40+slot))
			if err != nil {
				return nil, err
			}
			return adminCall(rg, clients, net.ID), nil
		}},
		{key: "billing", name: caseBilling, billing: true, prepare: func(ctx context.Context, rg *rig, clients, slot int) (func(context.Context, int, int) error, error) {
			cidr := fmt.Sprintf("10.%d.0.0/16", 40+slot)
			if _, err := rg.newNet(ctx, cidr); err != nil {
				return nil, err
			}
			pool, err := rg.newPool(ctx, fmt.Sprintf("tput-%d", slot), cidr)
			if err != nil {
				return nil, err
			}
			cls := make([]*benchkit.Client, clients+1)
			for i := range cls {
				cls[i] = rg.client()
			}
			body := fmt.Appendf(nil, `{"family":"ipv4","ip_pool":%d}`, pool)
			var spread atomic.Int64
			return func(ctx context.Context, w, _ int) error {
				srv := rg.servers[int(spread.Add(1))%len(rg.servers)]
				_, tk, err := post(ctx, cls[w], fmt.Sprintf("/api/dci/v3/server/%d/ip", srv), body)
				if err == nil && tk == 0 {
					err = fmt.Errorf("billing call answered no task")
				}
				return err
			}, nil
		}},
		{key: "admin6", name: caseAdmin6, prepare: func(ctx context.Context, rg *rig, clients, slot int) (func(context.Context, int, int) error, error) {
			net, err := rg.newNet(ctx, fmt.Sprintf("2001:db8:%x::/48", 0x100+slot))
			if err != nil {
				return nil, err
			}
			return adminCall(rg, clients, net.ID), nil
		}},
	}
}

// adminCall is POST /api/ip/v3/ip {"ip_net"} from its own client per worker
// (index clients: the statement count's).
func adminCall(rg *rig, clients int, netID int64) func(context.Context, int, int) error {
	cls := make([]*benchkit.Client, clients+1)
	for i := range cls {
		cls[i] = rg.client()
	}
	body := fmt.Appendf(nil, `{"ip_net":%d}`, netID)
	return func(ctx context.Context, w, _ int) error {
		_, _, err := post(ctx, cls[w], "/api/ip/v3/ip", body)
		return err
	}
}

// throughput runs every allocation case at every client count.
func throughput(ctx context.Context, c benchConfig, rg *rig) []tput {
	var out []tput
	slot := 0
	for _, k := range allocCases(c) {
		if len(c.cases) > 0 && !c.cases[k.key] {
			continue
		}
		for _, clients := range c.clients {
			if ctx.Err() != nil {
				return out
			}
			r := tput{dialect: rg.dialect, name: k.name, clients: clients, stmts: -1}
			r.err = runTput(ctx, c, rg, k, clients, slot, &r)
			slot++
			if r.err != nil {
				fmt.Printf("%-48s %2d clients: FAILED: %v\n", k.name, clients, r.err)
			} else {
				extra := ""
				if k.billing {
					extra = fmt.Sprintf("  tasks all complete after %v (%.0f/s)", r.settled.Round(time.Millisecond), r.settledRate)
				}
				fmt.Printf("%-48s %2d clients: %5d in %6.2f s = %6.0f/s  p50 %6.2f ms  p99 %7.2f ms  CPU dcimd %.2f db %.2f machine %3.0f%%  %.2f CPU ms/alloc%s\n",
					k.name, clients, r.n, r.elapsed.Seconds(), r.rate, ms(r.p50), ms(r.p99), r.cpu.Self, r.dbCPU, 100*r.cpu.Machine,
					r.cpuPerAlloc(), extra)
			}
			out = append(out, r)
		}
	}
	return out
}

func runTput(ctx context.Context, c benchConfig, rg *rig, k allocCase, clients, slot int, r *tput) error {
	do, err := k.prepare(ctx, rg, clients, slot)
	if err != nil {
		return err
	}
	// Warm up every client's connection (and the statement caches), and
	// count the statements of one call (the least of three, on the extra
	// client), before the timing.
	for w := range clients {
		if err := do(ctx, w, -1); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	if !k.floor {
		r.stmts = math.MaxInt64
		for range 3 {
			before := rg.db.QueryCount()
			if err := do(ctx, clients, -1); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			r.stmts = min(r.stmts, rg.db.QueryCount()-before)
		}
	}
	if k.billing {
		if _, err := rg.waitTasks(ctx, time.Minute); err != nil {
			return fmt.Errorf("warm-up tasks: %w", err)
		}
	}
	if rg.db.IsPostgres() && clients == c.clients[0] && c.pgStmts > 0 {
		sc, err := rg.countStatements(ctx, c.pgStmts, k.billing, func(ctx context.Context) error { return do(ctx, clients, -1) })
		if err != nil {
			return fmt.Errorf("count statements: %w", err)
		}
		r.pgStmts = &sc
		fmt.Printf("%-48s PostgreSQL statements per call %s\n", k.name, sc)
	}
	before, _, err := rg.tasksDone(ctx)
	if err != nil {
		return err
	}
	stopProf, err := startProfile(c.cpuprof, rg.dialect, k.name, clients)
	if err != nil {
		return err
	}
	cpu, dbBefore := benchkit.SampleCPU(), rg.dbCPU.used()
	t0 := time.Now()
	lats, elapsed, err := runLoad(ctx, clients, c.allocs, c.capDur, do)
	r.cpu = cpu.Since()
	r.dbCPU = float64(rg.dbCPU.used()-dbBefore) / float64(elapsed)
	stopProf()
	r.n, r.elapsed = len(lats), elapsed
	r.rate = float64(r.n) / elapsed.Seconds()
	r.p50, r.p99 = benchkit.Quantile(lats, 0.5), benchkit.Quantile(lats, 0.99)
	if err != nil {
		return err
	}
	if k.billing {
		last, err := rg.waitTasks(ctx, 2*time.Minute)
		if err != nil {
			return err
		}
		done, _, err := rg.tasksDone(ctx)
		if err != nil {
			return err
		}
		if int(done-before) != r.n {
			return fmt.Errorf("%d ip_allocate tasks complete, want %d", done-before, r.n)
		}
		r.settled = last.Sub(t0)
		r.settledRate = float64(r.n) / r.settled.Seconds()
	}
	return nil
}

// startProfile writes a CPU profile of one timed case to
// FILE-<db>-<case>-<clients>.pprof (nothing when file is empty).
func startProfile(file, dialect, name string, clients int) (func(), error) {
	if file == "" {
		return func() {}, nil
	}
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	for strings.Contains(slug, "--") {
		slug = strings.ReplaceAll(slug, "--", "-")
	}
	f, err := os.Create(fmt.Sprintf("%s-%s-%s-%d.pprof", file, dialect, strings.Trim(slug, "-"), clients))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Printf("CPU profile: %s\n", f.Name())
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
