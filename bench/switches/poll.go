package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpopen"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
)

// pollRun is one case of repeated poll cycles.
type pollRun struct {
	dialect, name string
	cycles        []time.Duration // whole cycle: Poll's call
	others        []time.Duration // silent case: until the last answering switch finished
	reqs          []int64         // SNMP requests the simulators received per cycle
	perSwitch     []time.Duration // per cycle: one switch's poll, mean over the switches
	perSwitchDB   []time.Duration // per cycle: of which in the store, mean over the switches
	ports         int             // ports polled per cycle
	switchErrors  int             // per cycle (the last one)
	silent        bool
	cpu           benchkit.CPUUse
	nothers       int // silent case: switches that answer
	err           error
}

func (p pollRun) p50() time.Duration { return benchkit.Quantile(p.cycles, 0.5) }

func (p pollRun) reqsPerCycle() float64 {
	if len(p.reqs) == 0 {
		return 0
	}
	var n int64
	for _, r := range p.reqs {
		n += r
	}
	return float64(n) / float64(len(p.reqs))
}

// pollCases times netsw.Service.Poll, the daemon's periodic switch poll
// (status of every connected port, then its traffic counters, recorded in
// the database), over all 960 connected ports: as is, with latency added
// to every answer, and with one switch silent.
func (rg *rig) pollCases(ctx context.Context, f *fleet, c benchConfig) []pollRun {
	// The first cycle stores the counter baselines; later ones store deltas.
	if _, err := rg.poll.Poll(ctx); err != nil {
		return []pollRun{{dialect: rg.dialect, name: "warm-up", err: err}}
	}
	var out []pollRun
	run := func(name string, cycles int, silent int) {
		svc := rg.poll
		if strings.Contains(name, "poll_concurrency 1") {
			svc = rg.poll1
		}
		r := rg.pollCycles(ctx, f, svc, name, cycles, silent, c.timeout)
		fmt.Printf("%-44s p50 %7.1f ms  min %7.1f  max %7.1f  requests/cycle %5.0f  ports %d  switch errors %d  "+
			"one switch %.1f ms, %.1f ms of it in the store%s%s\n",
			name, ms(r.p50()), ms(benchkit.Quantile(r.cycles, 0)), ms(benchkit.Quantile(r.cycles, 1)), r.reqsPerCycle(),
			r.ports, r.switchErrors, ms(benchkit.Quantile(r.perSwitch, 0.5)), ms(benchkit.Quantile(r.perSwitchDB, 0.5)),
			othersNote(r), errSuffix(r.err))
		out = append(out, r)
	}
	run("Poll", c.cycles, -1)
	run("Poll, poll_concurrency 1", c.cycles, -1)
	if c.latency > 0 {
		f.setLatency(c.latency)
		run(fmt.Sprintf("Poll, %v latency per answer", c.latency), c.cycles, -1)
		f.setLatency(0)
	}
	if c.silentCycles > 0 {
		f.sws[0].SetSilent(true)
		run("Poll, one switch silent", c.silentCycles, 0)
		f.sws[0].SetSilent(false)
	}
	return out
}

func othersNote(r pollRun) string {
	if !r.silent || len(r.others) == 0 {
		return ""
	}
	return fmt.Sprintf("  the %d others done: p50 %.1f ms", r.nothers, ms(benchkit.Quantile(r.others, 0.5)))
}

// pollCycles runs cycles polls (bounded by timeout in all). silent is the
// index of the silent switch, -1 for none.
func (rg *rig) pollCycles(ctx context.Context, f *fleet, svc *netsw.Service, name string, cycles, silent int, timeout time.Duration) (r pollRun) {
	r = pollRun{dialect: rg.dialect, name: name, silent: silent >= 0, nothers: len(f.sws) - 1}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cpu := benchkit.SampleCPU()
	defer func() { r.cpu = cpu.Since() }()
	for range cycles {
		rg.timed.reset()
		before := f.stats()
		t0 := time.Now()
		st, err := svc.Poll(ctx)
		d := time.Since(t0)
		if err != nil {
			r.err = err
			break
		}
		r.cycles = append(r.cycles, d)
		r.reqs = append(r.reqs, subStats(f.stats(), before).Requests)
		r.ports, r.switchErrors = st.Ports, st.SwitchErrors
		fin := rg.timed.finished()
		if want := len(f.sws) - min(silent+1, 1); len(fin) != want {
			r.err = fmt.Errorf("%d switches finished their poll, want %d (errors %d)", len(fin), want, st.SwitchErrors)
			break
		}
		var last, sum, db time.Duration
		for _, st := range fin {
			last = max(last, st.end.Sub(t0))
			sum += st.end.Sub(st.start)
			db += st.db
		}
		if len(fin) > 0 {
			r.perSwitch = append(r.perSwitch, sum/time.Duration(len(fin)))
			r.perSwitchDB = append(r.perSwitchDB, db/time.Duration(len(fin)))
		}
		if silent >= 0 {
			r.others = append(r.others, last)
		}
	}
	return r
}

// driverStatus times the SNMP driver alone reading the admin and oper
// status of every port of every switch, the switches at once: what the
// peer's walks of ifAdminStatus and ifOperStatus do, without the
// database.
func driverStatus(ctx context.Context, f *fleet, cycles int, timeout time.Duration) (r pollRun) {
	def := config.Default().Switches
	open := snmpopen.Opener(snmpopen.Options{CallTimeout: def.CallTimeout, Retries: 1})
	r = pollRun{name: "snmpsw Status of every port, switches at once (no database)"}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cpu := benchkit.SampleCPU()
	defer func() { r.cpu = cpu.Since() }()
	for range cycles {
		before := f.stats()
		t0 := time.Now()
		errs := make([]error, len(f.sws))
		var wg sync.WaitGroup
		for k, sim := range f.sws {
			wg.Go(func() {
				d, err := open(server.Switch{Name: sim.Name(), Profile: "generic", SNMP: server.SNMPAccess{Address: sim.Host(),
					Port: sim.Port(), Version: "v2c", Community: secret.String(sim.Community())}})
				if err != nil {
					errs[k] = err
					return
				}
				idx := make([]int, sim.Ports())
				for n := range idx {
					idx[n] = sim.IfIndex(n + 1)
				}
				st, err := d.Status(ctx, idx)
				if err == nil && len(st) != len(idx) {
					err = fmt.Errorf("%s: %d statuses, want %d", sim.Name(), len(st), len(idx))
				}
				errs[k] = err
			})
		}
		wg.Wait()
		d := time.Since(t0)
		if err := firstErrs(errs); err != nil {
			r.err = err
			break
		}
		r.cycles = append(r.cycles, d)
		r.reqs = append(r.reqs, subStats(f.stats(), before).Requests)
		r.ports = f.ports()
	}
	return r
}
