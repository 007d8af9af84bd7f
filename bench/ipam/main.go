// Command ipam benchmarks dcimd's IP address management on SQLite and on
// PostgreSQL, through the real API (127.0.0.1) and the store.
//
// For each database it starts a fresh one with dcimd on it as `dcimd serve`
// builds it (store, task engine on River with the address tasks, the API)
// and measures:
//
//   - allocations per second, 1 client and 16 concurrent clients (each its
//     own keep-alive connection), 2,000 allocations per case or a time cap:
//     the billing call POST /api/dci/v3/server/{id}/ip {"ip_pool"} spread
//     over 64 servers, with the task runner on as in production (the
//     ip_allocate tasks it queues run during the timing; the time until
//     they are all complete is reported too); the admin call POST
//     /api/ip/v3/ip {"ip_net"}; the same on an IPv6 /48; and
//     store.IPAM.Allocate without HTTP;
//   - the reference: there is no IPAM daemon to compare with here, so the
//     raw database floor is measured in the same run: as many single-row
//     INSERTs into the ips table itself (same columns, indexes and
//     constraints, a network of their own) through database/sql on the same
//     pool, from as many goroutines; the ratio floor rate / our rate is
//     what an allocation costs above a bare insert;
//   - the cost of one allocation as a /16 fills: 1 %, 50 % and 99 % full
//     (bulk-loaded, free_hint left empty, so the first allocation moves
//     it), every other address used, and a pool whose range starts above
//     the network's free hint; 200 sequential allocations through the
//     store and through HTTP at each level;
//   - listing: 100,000 addresses of one network with GET /api/ip/v3/ip and
//     a where filter, with and without a limit, and the same filter on a
//     second, small network.
//
// It prints tables and a note on what bounds the figures. It is a
// benchmark, not a test: nothing here has a pass/fail target, and a failed
// case is reported, not fatal for the others.
//
// Run it with `make bench` or `go run ./bench/ipam [flags]`. The
// PostgreSQL cluster is a throwaway one (internal/testutil/pgtest),
// stopped at the end, also on error or interrupt.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

type benchConfig struct {
	dialects  []string
	clients   []int
	allocs    int
	capDur    time.Duration
	servers   int
	fillN     int
	fillCap   time.Duration
	listRows  int
	smallRows int
	pageIters int
	fullIters int
	skip      map[string]bool
	cases     map[string]bool // throughput cases to run (none: all)
	pgStmts   int
	cpuprof   string
	verbose   bool
}

func main() {
	var c benchConfig
	var dialects, clients, skip, cases string
	flag.StringVar(&dialects, "db", "sqlite,postgres", "databases to run on, comma separated")
	flag.StringVar(&clients, "clients", "1,16", "concurrent clients of the throughput cases, comma separated")
	flag.IntVar(&c.allocs, "n", 2000, "allocations per throughput case")
	flag.DurationVar(&c.capDur, "cap", 10*time.Second, "wall-clock cap per throughput case (fewer allocations if reached)")
	flag.IntVar(&c.servers, "servers", 64, "servers the billing calls are spread over")
	flag.IntVar(&c.fillN, "fill-n", 200, "sequential allocations per fill level, through the store and through HTTP each")
	flag.DurationVar(&c.fillCap, "fill-cap", 5*time.Second, "wall-clock cap per fill series")
	flag.IntVar(&c.listRows, "list-rows", 100000, "addresses in the listed network")
	flag.IntVar(&c.smallRows, "small-rows", 200, "addresses in the second, small network")
	flag.IntVar(&c.pageIters, "page-iters", 20, "timed requests per limited listing")
	flag.IntVar(&c.fullIters, "full-iters", 3, "timed requests per unlimited listing of the big network")
	flag.IntVar(&c.pgStmts, "pg-statements", 10, "on PostgreSQL, count the statements of this many calls per case from the server log (0: don't)")
	flag.StringVar(&cases, "cases", "", "throughput cases to run, comma separated: floor, store, admin, billing, admin6 (default all)")
	flag.StringVar(&skip, "skip", "", "parts to leave out, comma separated: tput, fill, list")
	flag.StringVar(&c.cpuprof, "cpuprofile", "", "write a CPU profile of each throughput case to FILE-<db>-<case>-<clients>.pprof")
	flag.BoolVar(&c.verbose, "v", false, "log dcimd and River to stderr at debug level")
	flag.Parse()
	for _, d := range strings.Split(dialects, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.dialects = append(c.dialects, d)
		}
	}
	for _, s := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bad -clients %q\n", s)
			os.Exit(2)
		}
		c.clients = append(c.clients, n)
	}
	c.cases = map[string]bool{}
	for _, s := range strings.Split(cases, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.cases[s] = true
		}
	}
	c.skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		c.skip[strings.TrimSpace(s)] = true
	}
	os.Exit(run(c))
}

// results are everything measured, over the databases.
type results struct {
	tput []tput
	fill []fillResult
	list []listResult
	load map[string]time.Duration // listing load time per database
}

func run(c benchConfig) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	fmt.Printf("IPAM benchmark: %d allocations per throughput case (cap %v), clients %v, %d servers; fill series of %d; "+
		"listing %d addresses; %s, GOMAXPROCS=%d, NumCPU=%d, load average %s\n",
		c.allocs, c.capDur, c.clients, c.servers, c.fillN, c.listRows, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(),
		benchkit.LoadAvg())
	res := results{load: map[string]time.Duration{}}
	failed := false
	for _, d := range c.dialects {
		if err := runDialect(ctx, c, d, &res); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", d, err)
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	printTables(os.Stdout, c, res)
	fmt.Printf("\ntotal run time %v\n", time.Since(start).Round(time.Second))
	if failed {
		return 1
	}
	return 0
}

// runDialect measures one database, each part on the same fresh database
// (the parts use networks of their own).
func runDialect(ctx context.Context, c benchConfig, dialect string, res *results) (err error) {
	fmt.Printf("\n== %s (load average %s)\n", dialect, benchkit.LoadAvg())
	var dbURL, sqlitePath string
	switch dialect {
	case "sqlite":
		dir, err := os.MkdirTemp("", "dcimd-bench-ipam-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		sqlitePath = filepath.Join(dir, "dcimd.db")
	case "postgres":
		if ok, why := pgtest.Available(); !ok {
			return fmt.Errorf("PostgreSQL is not available: %s", why)
		}
		t0 := time.Now()
		cl, serr := pgtest.Start()
		if serr != nil {
			return serr
		}
		defer func() { // after the rig is closed (defers run last in, first out)
			if serr := cl.Stop(); serr != nil {
				err = errors.Join(err, fmt.Errorf("stop cluster: %w", serr))
			}
		}()
		if dbURL, err = cl.NewDatabase(ctx); err != nil {
			return err
		}
		fmt.Printf("cluster started in %v\n", time.Since(t0).Round(time.Millisecond))
	default:
		return fmt.Errorf("unknown database %q (want sqlite or postgres)", dialect)
	}
	rg, err := newRig(ctx, dialect, dbURL, sqlitePath, c.servers, c.verbose)
	if err != nil {
		return err
	}
	defer rg.close()

	var errs []error
	if !c.skip["tput"] {
		fmt.Println("-- allocations per second")
		ts := throughput(ctx, c, rg)
		res.tput = append(res.tput, ts...)
		for _, t := range ts {
			if t.err != nil {
				errs = append(errs, fmt.Errorf("%s, %d clients: %w", t.name, t.clients, t.err))
			}
		}
	}
	if !c.skip["fill"] && ctx.Err() == nil {
		fmt.Println("-- one allocation as a /16 fills")
		fs := fill(ctx, c, rg)
		res.fill = append(res.fill, fs...)
		for _, f := range fs {
			if f.err != nil {
				errs = append(errs, fmt.Errorf("fill %s %d%%: %w", f.name, f.pct, f.err))
			}
		}
	}
	if !c.skip["list"] && ctx.Err() == nil {
		fmt.Println("-- listing")
		ls, load, err := listing(ctx, c, rg)
		res.list = append(res.list, ls...)
		res.load[dialect] = load
		if err != nil {
			errs = append(errs, fmt.Errorf("listing: %w", err))
		}
		for _, l := range ls {
			if l.err != nil {
				errs = append(errs, fmt.Errorf("listing %s: %w", l.name, l.err))
			}
		}
	}
	return errors.Join(errs...)
}
