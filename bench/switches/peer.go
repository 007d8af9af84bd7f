package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

// The peer: net-snmp's command-line tools doing the same work against the
// same simulated switches, one process per request or walk, as a script
// would. MIBS="" and numeric OIDs, so no MIB file is parsed; the same
// per-request timeout and retry as dcimd (2 s, 1 retry).

// OIDs the peer walks and sets.
const (
	oidAdmin  = switchsim.IfAdminStatusOID
	oidOper   = switchsim.IfOperStatusOID
	oidHCIn   = switchsim.IfHCInOctetsOID
	oidHCOut  = switchsim.IfHCOutOctetsOID
	peerTries = "1" // -r: resends after a timeout, as dcimd's switches config
)

type netsnmp struct {
	walk, set, get string
	version        string
}

// findNetSNMP looks for the tools; nil when one is missing.
func findNetSNMP(ctx context.Context) (*netsnmp, error) {
	var n netsnmp
	for _, t := range []struct {
		name string
		dst  *string
	}{{"snmpbulkwalk", &n.walk}, {"snmpset", &n.set}, {"snmpget", &n.get}} {
		p, err := exec.LookPath(t.name)
		if err != nil {
			return nil, err
		}
		*t.dst = p
	}
	out, _ := exec.CommandContext(ctx, n.get, "--version").CombinedOutput()
	n.version = strings.TrimSpace(string(out))
	return &n, nil
}

// run runs one tool and returns its standard output.
func (n *netsnmp) run(ctx context.Context, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), "MIBS=")
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args[len(args)-3:], " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func access(sw *switchsim.Switch, format string) []string {
	return []string{"-v2c", "-c", sw.Community(), "-t", "2", "-r", peerTries, format, sw.Addr()}
}

// walkSwitch walks each column of one switch with snmpbulkwalk, one after
// the other, and checks that every port answered.
func (n *netsnmp) walkSwitch(ctx context.Context, sw *switchsim.Switch, columns []string) error {
	for _, col := range columns {
		out, err := n.run(ctx, n.walk, append(access(sw, "-Oqn"), col)...)
		if err != nil {
			return err
		}
		if got := strings.Count(out, col+"."); got != sw.Ports() {
			return fmt.Errorf("snmpbulkwalk %s of %s: %d rows, want %d", col, sw.Name(), got, sw.Ports())
		}
	}
	return nil
}

// peerRun is one case of the peer.
type peerRun struct {
	name    string
	cycles  []time.Duration
	reqs    []int64
	procs   int // processes per cycle
	changes int64
	delta   switchsim.Stats // changes case
	bad     []string
	err     error
}

func (p peerRun) p50() time.Duration { return benchkit.Quantile(p.cycles, 0.5) }

// peerPoll walks columns of every switch, cycles times: the switches one
// after the other (parallel false) or all at once.
func (n *netsnmp) peerPoll(ctx context.Context, f *fleet, name string, columns []string, parallel bool, cycles int,
	timeout time.Duration) peerRun {
	r := peerRun{name: name, procs: len(f.sws) * len(columns)}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for range cycles {
		before := f.stats()
		t0 := time.Now()
		errs := make([]error, len(f.sws))
		if parallel {
			var wg sync.WaitGroup
			for k, sw := range f.sws {
				wg.Go(func() { errs[k] = n.walkSwitch(ctx, sw, columns) })
			}
			wg.Wait()
		} else {
			for k, sw := range f.sws {
				if errs[k] = n.walkSwitch(ctx, sw, columns); errs[k] != nil {
					break
				}
			}
		}
		d := time.Since(t0)
		if err := firstErrs(errs); err != nil {
			r.err = err
			break
		}
		r.cycles = append(r.cycles, d)
		r.reqs = append(r.reqs, subStats(f.stats(), before).Requests)
	}
	return r
}

// setPort is one port change as a script does it: snmpset of
// ifAdminStatus, then snmpget to read it back.
func (n *netsnmp) setPort(ctx context.Context, sw *switchsim.Switch, idx int, up bool) error {
	want := "2"
	if up {
		want = "1"
	}
	o := fmt.Sprintf("%s.%d", oidAdmin, idx)
	out, err := n.run(ctx, n.set, append(access(sw, "-Oqv"), o, "i", want)...)
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != want {
		return fmt.Errorf("snmpset %s on %s answered %q, want %s", o, sw.Name(), strings.TrimSpace(out), want)
	}
	out, err = n.run(ctx, n.get, append(access(sw, "-Oqv"), o)...)
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != want {
		return fmt.Errorf("snmpget %s on %s read back %q, want %s", o, sw.Name(), strings.TrimSpace(out), want)
	}
	return nil
}

// peerChanges sets a sample of data ports down, then up again (the same
// as a suspend then a resume of those servers): one snmpset and one
// snmpget per port change, the ports one after the other or one stream
// per switch at once. The simulators must count exactly 2 × sample
// changes and every port must be up after.
func (n *netsnmp) peerChanges(ctx context.Context, f *fleet, sample int, parallel bool, timeout time.Duration) peerRun {
	name := fmt.Sprintf("snmpset + snmpget per port, %d ports down then up, one after the other", sample)
	if parallel {
		name = fmt.Sprintf("snmpset + snmpget per port, %d ports down then up, %d streams (one per switch)", sample, len(f.sws))
	}
	r := peerRun{name: name, procs: 4 * sample}
	// The first data ports of each switch, round robin over the switches.
	byPort := make([][]int, len(f.sws)) // per switch: ifIndexes
	taken := 0
	for _, p := range f.servers {
		if taken == sample {
			break
		}
		byPort[p.sw] = append(byPort[p.sw], p.data)
		taken++
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	before := f.stats()
	t0 := time.Now()
	errs := make([]error, len(f.sws))
	for _, up := range []bool{false, true} {
		if parallel {
			var wg sync.WaitGroup
			for k, sw := range f.sws {
				wg.Go(func() {
					for _, idx := range byPort[k] {
						if err := n.setPort(ctx, sw, idx, up); err != nil {
							errs[k] = err
							return
						}
					}
				})
			}
			wg.Wait()
		} else {
		seq:
			for k, sw := range f.sws {
				for _, idx := range byPort[k] {
					if errs[k] = n.setPort(ctx, sw, idx, up); errs[k] != nil {
						break seq
					}
				}
			}
		}
		if r.err = firstErrs(errs); r.err != nil {
			break
		}
	}
	r.cycles = []time.Duration{time.Since(t0)}
	r.delta = subStats(f.stats(), before)
	r.changes = r.delta.PortChanges
	if r.err == nil && r.changes != int64(2*taken) {
		r.bad = append(r.bad, fmt.Sprintf("simulator: %d port changes counted, want %d", r.changes, 2*taken))
	}
	if bad, first := f.check(true); bad > 0 {
		r.bad = append(r.bad, "simulator: "+strconv.Itoa(bad)+" ports not as they were: "+strings.Join(first, "; "))
	}
	return r
}

// perChange is the wall time per port change of a changes run.
func (p peerRun) perChange() time.Duration {
	if p.changes == 0 || len(p.cycles) == 0 {
		return 0
	}
	return p.cycles[0] / time.Duration(p.changes)
}
