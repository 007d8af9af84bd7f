// Command switches benchmarks dcimd's switch port control against
// simulated SNMP switches (internal/lab/switchsim, v2c, one UDP socket
// each on 127.0.0.1): 500 servers spread over 20 switches of 48 ports,
// each server connected to one data port and (460 of them) to an IPMI
// port that must never be touched, so that all 960 ports are connected.
//
// On SQLite and on PostgreSQL (a throwaway cluster), with dcimd built as
// `dcimd serve` builds it (internal/app: snmpopen with the configured call
// timeout and one retry, netsw.Service, the switch task kinds on the task
// engine on River, the API; config defaults throughout), it measures:
//
//   - suspend then resume of all 500 servers: time until every server is
//     suspended (then ok), through netsw.Service directly (Plan and
//     SetPorts per server; all at once, and 50 at a time like the engine's
//     workers), through Engine.Submit of the suspend and resume tasks, and
//     through POST /api/dci/v3/server/{id}/suspend|resume; the SNMP
//     requests the simulators received per port that changed; afterwards
//     every data port must be down (up) in the simulators and in the
//     database, every other port up, every server in the wanted state;
//   - the periodic switch poll, netsw.Service.Poll, of all 960 connected
//     ports (status, then traffic counters, written to the database):
//     time per cycle, requests per cycle; also with latency added to every
//     answer, and with one switch silent (the others' finish times show
//     whether the dead one held them up).
//
// The peer, in the same run against the same switches: net-snmp's tools,
// one process per walk or request as a script does it (MIBS="", numeric
// OIDs): snmpbulkwalk of ifAdminStatus and ifOperStatus (and the HC
// octet counters, to match the full poll) per switch, the switches one
// after the other and all at once; snmpset then snmpget per port for a
// sample of ports. Ratios are ours / peer (below 1: dcimd faster).
//
// It is a benchmark, not a test: nothing has a target; a mismatch is
// printed as MISMATCH and the program goes on. Every case has a time cap.
//
// Run it with `make bench` or `go run ./bench/switches [flags]`.
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
	"strings"
	"syscall"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

type benchConfig struct {
	servers, switches, ports int
	dialects                 []string
	cycles, silentCycles     int
	peerCycles               int
	latency                  time.Duration
	sample                   int
	httpConns                int
	timeout                  time.Duration
	pgURL                    string
	peer                     bool
	verbose                  bool
}

func main() {
	var c benchConfig
	var dialects string
	flag.IntVar(&c.servers, "servers", 500, "servers, spread over the switches")
	flag.IntVar(&c.switches, "switches", 20, "simulated switches")
	flag.IntVar(&c.ports, "ports", 48, "ports per switch")
	flag.StringVar(&dialects, "db", "sqlite,postgres", "databases to run on, comma separated")
	flag.IntVar(&c.cycles, "cycles", 10, "poll cycles per case (the table shows the p50)")
	flag.IntVar(&c.silentCycles, "silent-cycles", 2, "poll cycles with one switch silent (each lasts the dead switch's timeout)")
	flag.IntVar(&c.peerCycles, "peer-cycles", 3, "net-snmp poll cycles per case")
	flag.DurationVar(&c.latency, "latency", time.Millisecond, "latency added to every SNMP answer in the latency cases (0: skip them)")
	flag.IntVar(&c.sample, "sample", 100, "ports net-snmp sets down and up")
	flag.IntVar(&c.httpConns, "http-conns", 50, "HTTP connections the API clients use at most")
	flag.DurationVar(&c.timeout, "timeout", time.Minute, "wall-clock cap per case")
	flag.StringVar(&c.pgURL, "pg-url", "", "use this (empty) PostgreSQL database instead of a throwaway cluster")
	flag.BoolVar(&c.peer, "peer", true, "run net-snmp's tools as the peer")
	flag.BoolVar(&c.verbose, "v", false, "log dcimd to stderr")
	flag.Parse()
	for _, d := range strings.Split(dialects, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.dialects = append(c.dialects, d)
		}
	}
	if c.servers < 1 || c.switches < 1 || c.ports < 2 || c.cycles < 1 || c.sample < 0 || c.httpConns < 1 {
		fmt.Fprintln(os.Stderr, "bad flags")
		os.Exit(2)
	}
	os.Exit(run(c))
}

func run(c benchConfig) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	def := config.Default()
	fmt.Printf("switch port benchmark: %d servers on %d simulated switches × %d ports (SNMP v2c, 127.0.0.1); "+
		"switches.call_timeout %v (1 retry), switch_timeout %v, poll_concurrency %d, tasks.workers %d; %s, GOMAXPROCS=%d, load average %s\n",
		c.servers, c.switches, c.ports, def.Switches.CallTimeout, def.Switches.SwitchTimeout, def.Switches.PollConcurrency,
		def.Tasks.Workers, runtime.Version(), runtime.GOMAXPROCS(0), benchkit.LoadAvg())
	start := time.Now()
	f, err := startFleet(ctx, c.switches, c.ports, c.servers)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.close()

	var res results
	failed := false
	for _, d := range c.dialects {
		if ctx.Err() != nil {
			break
		}
		if err := runDialect(ctx, c, f, d, &res); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", d, err)
			failed = true
		}
	}
	if c.peer && ctx.Err() == nil {
		runPeer(ctx, c, f, &res)
	} else {
		res.skipped = "-peer=false"
	}
	printTable(os.Stdout, c, f, &res)
	fmt.Printf("\nwhole run: %v\n", time.Since(start).Round(time.Second))
	if failed {
		return 1
	}
	return 0
}

// results are everything measured.
type results struct {
	changes []changeRun
	polls   []pollRun
	driver  *pollRun
	peers   map[string]*peerRun
	netsnmp string // version, "" when the peer was skipped
	skipped string // why
}

// runDialect builds a fresh database with dcimd on it and runs the
// suspend/resume and poll cases.
func runDialect(ctx context.Context, c benchConfig, f *fleet, dialect string, res *results) (err error) {
	fmt.Printf("\n== %s\n", dialect)
	var dbURL, path string
	switch dialect {
	case "sqlite":
		dir, err := os.MkdirTemp("", "dcimd-bench-switches-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "dcimd.db")
	case "postgres":
		if c.pgURL != "" {
			dbURL = c.pgURL
			break
		}
		if ok, why := pgtest.Available(); !ok {
			return fmt.Errorf("PostgreSQL is not available: %s", why)
		}
		t0 := time.Now()
		cl, err := pgtest.Start()
		if err != nil {
			return err
		}
		defer func() {
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
	rg, err := newRig(ctx, dialect, dbURL, path, f, c.verbose)
	if err != nil {
		return err
	}
	defer rg.close()

	var errs []error
	for _, p := range []struct {
		name string
		fn   changeFunc
	}{
		{pathService, rg.serviceRun(0)},
		{pathService50, rg.serviceRun(config.Default().Tasks.Workers)},
		{pathEngine, rg.taskRun(false, 0)},
		{pathHTTP, rg.taskRun(true, c.httpConns)},
	} {
		for _, up := range []bool{false, true} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r := rg.measureChange(ctx, f, p.name, up, c.timeout, p.fn)
			fmt.Printf("%-30s %-7s %8.0f ms  servers %d/%d  port changes %d  requests %d (%.2f per change)%s%s\n", p.name, r.op,
				ms(r.elapsed), r.ok, r.servers, r.delta.PortChanges, r.delta.Requests, reqPerChange(r.delta), taskNote(r), errSuffix(r.err))
			for _, m := range r.mismatch {
				fmt.Printf("  MISMATCH: %s\n", m)
			}
			res.changes = append(res.changes, r)
			if r.err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", p.name, r.op, r.err))
			}
			if r.simBad > 0 {
				// Put the simulators back as the next run expects them.
				restore(f, up)
			}
		}
	}
	for _, p := range rg.pollCases(ctx, f, c) {
		res.polls = append(res.polls, p)
		if p.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, p.err))
		}
	}
	return errors.Join(errs...)
}

func taskNote(r changeRun) string {
	if r.submitted == 0 {
		return ""
	}
	return fmt.Sprintf("  (submitted in %.0f ms, every task ended at %.0f ms)", ms(r.submitted), ms(r.complete))
}

// restore puts the simulated ports as the run should have left them (the
// data ports up or down, every other port up), as an operator would, so
// that one mismatch does not spill into the next run.
func restore(f *fleet, dataUp bool) {
	for _, sw := range f.sws {
		for n := 1; n <= sw.Ports(); n++ {
			_ = sw.SetAdmin(sw.IfIndex(n), true)
		}
	}
	for _, p := range f.servers {
		_ = f.sws[p.sw].SetAdmin(p.data, dataUp)
	}
}

// runPeer runs net-snmp's tools, and the SNMP driver alone for the status
// walks' counterpart.
func runPeer(ctx context.Context, c benchConfig, f *fleet, res *results) {
	fmt.Printf("\n== peer: net-snmp\n")
	d := driverStatus(ctx, f, c.cycles, c.timeout)
	res.driver = &d
	fmt.Printf("%-70s p50 %7.1f ms  requests/cycle %.0f%s\n", d.name, ms(d.p50()), d.reqsPerCycle(), errSuffix(d.err))
	n, err := findNetSNMP(ctx)
	if err != nil {
		res.skipped = fmt.Sprintf("net-snmp's tools not found (Debian package snmp; `make deps`): %v", err)
		fmt.Printf("peer skipped: %s\n", res.skipped)
		return
	}
	res.netsnmp = n.version
	res.peers = map[string]*peerRun{}
	status := []string{oidAdmin, oidOper}
	full := []string{oidAdmin, oidOper, oidHCIn, oidHCOut}
	for _, k := range []struct {
		key      string
		cols     []string
		parallel bool
		latency  bool
	}{
		{"status seq", status, false, false}, {"status par", status, true, false},
		{"full seq", full, false, false}, {"full par", full, true, false},
		{"full seq lat", full, false, true}, {"full par lat", full, true, true},
	} {
		if ctx.Err() != nil {
			return
		}
		if k.latency {
			if c.latency <= 0 {
				continue
			}
			f.setLatency(c.latency)
		}
		r := n.peerPoll(ctx, f, peerPollName(f, k.cols, k.parallel, k.latency, c.latency), k.cols, k.parallel, c.peerCycles, c.timeout)
		f.setLatency(0)
		res.peers[k.key] = &r
		fmt.Printf("%-70s p50 %7.1f ms  requests/cycle %.0f%s\n", r.name, ms(r.p50()), avg(r.reqs), errSuffix(r.err))
	}
	if c.sample > 0 {
		for _, par := range []bool{false, true} {
			if ctx.Err() != nil {
				return
			}
			r := n.peerChanges(ctx, f, c.sample, par, c.timeout)
			key := "changes seq"
			if par {
				key = "changes par"
			}
			res.peers[key] = &r
			fmt.Printf("%-70s %7.0f ms  %.2f ms per change  %.2f requests per change%s\n", r.name, ms(r.cycles[0]), ms(r.perChange()),
				reqPerChange(r.delta), errSuffix(r.err))
			for _, b := range r.bad {
				fmt.Printf("  MISMATCH: %s\n", b)
			}
			if len(r.bad) > 0 {
				restore(f, true)
			}
		}
	}
}

func peerPollName(f *fleet, cols []string, parallel, latency bool, lat time.Duration) string {
	what := "ifAdminStatus, ifOperStatus"
	if len(cols) == 4 {
		what = "ifAdmin/OperStatus, ifHCIn/OutOctets"
	}
	how := "switches one after the other"
	if parallel {
		how = fmt.Sprintf("%d switches at once", len(f.sws))
	}
	s := fmt.Sprintf("snmpbulkwalk %s; %s", what, how)
	if latency {
		s += fmt.Sprintf(", %v latency", lat)
	}
	return s
}

func avg(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	var n int64
	for _, x := range v {
		n += x
	}
	return float64(n) / float64(len(v))
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ReplaceAll(err.Error(), "\n", "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return "  ERROR: " + s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
