package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
)

// ratio is ours / peer as text, "-" when either is missing.
func ratio(ours, peer time.Duration) string {
	if ours <= 0 || peer <= 0 {
		return "-"
	}
	r := float64(ours) / float64(peer)
	if r < 0.1 {
		return fmt.Sprintf("%.3f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

func (res *results) peer(key string) *peerRun {
	if p, ok := res.peers[key]; ok && p.err == nil && len(p.cycles) > 0 {
		return p
	}
	return nil
}

func peerP50(p *peerRun) time.Duration {
	if p == nil {
		return 0
	}
	return p.p50()
}

func peerPerChange(p *peerRun) time.Duration {
	if p == nil || len(p.bad) > 0 {
		return 0
	}
	return p.perChange()
}

func printTable(w io.Writer, c benchConfig, f *fleet, res *results) {
	chSeq, chPar := res.peer("changes seq"), res.peer("changes par")
	fmt.Fprintf(w, "\n== suspend then resume of %d servers (%d switches × %d ports; load average %s)\n",
		c.servers, c.switches, c.ports, benchkit.LoadAvg())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tpath\top\tall done ms\tsubmitted ms\ttasks ended ms\tport changes\tSNMP requests\tper change\t"+
		"ms per change\tours/peer (streams)\tours/peer (one by one)\tCPUs busy (ours)\tmachine busy\tcheck\t")
	for _, r := range res.changes {
		check := "ok"
		if !r.verified() {
			check = "MISMATCH"
		}
		sub, end := "-", "-"
		if r.submitted > 0 {
			sub, end = fmt.Sprintf("%.0f", ms(r.submitted)), fmt.Sprintf("%.0f", ms(r.complete))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t%.2f\t%.2f\t%s\t%s\t%.2f\t%.0f%%\t%s\t\n", r.dialect, r.path, r.op, ms(r.elapsed), sub, end,
			r.delta.PortChanges, r.delta.Requests, reqPerChange(r.delta), ms(r.perChange()),
			ratio(r.perChange(), peerPerChange(chPar)), ratio(r.perChange(), peerPerChange(chSeq)), r.cpu.Self, 100*r.cpu.Machine, check)
	}
	tw.Flush()

	fullPar, fullSeq := res.peer("full par"), res.peer("full seq")
	latPar, latSeq := res.peer("full par lat"), res.peer("full seq lat")
	stPar, stSeq := res.peer("status par"), res.peer("status seq")
	fmt.Fprintf(w, "\n== status poll of every connected port (%d ports), per cycle\n", f.ports())
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tcase\tcycles\tports\tp50 ms\tmin ms\tmax ms\trequests/cycle\tswitch errors\tothers done p50 ms\t"+
		"one switch p50 ms\tof it in the store\tCPUs busy (ours)\tmachine busy\tours/peer (at once)\tours/peer (one by one)\t")
	row := func(db string, p pollRun, par, seq *peerRun) {
		others := "-"
		if p.silent && len(p.others) > 0 {
			others = fmt.Sprintf("%.1f", ms(benchkit.Quantile(p.others, 0.5)))
		}
		name := p.name
		if p.err != nil {
			name += " (ERROR)"
		}
		one, inDB := "-", "-"
		if len(p.perSwitch) > 0 {
			one, inDB = fmt.Sprintf("%.1f", ms(benchkit.Quantile(p.perSwitch, 0.5))), fmt.Sprintf("%.1f", ms(benchkit.Quantile(p.perSwitchDB, 0.5)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%d\t%s\t%s\t%s\t%.2f\t%.0f%%\t%s\t%s\t\n", db, name, len(p.cycles), p.ports,
			ms(p.p50()), ms(benchkit.Quantile(p.cycles, 0)), ms(benchkit.Quantile(p.cycles, 1)), p.reqsPerCycle(), p.switchErrors, others,
			one, inDB, p.cpu.Self, 100*p.cpu.Machine, ratio(p.p50(), peerP50(par)), ratio(p.p50(), peerP50(seq)))
	}
	for _, p := range res.polls {
		par, seq := fullPar, fullSeq
		switch {
		case p.silent || strings.Contains(p.name, "poll_concurrency"):
			par, seq = nil, nil
		case strings.Contains(p.name, "latency"):
			par, seq = latPar, latSeq
		}
		row(p.dialect, p, par, seq)
	}
	if res.driver != nil {
		row("-", *res.driver, stPar, stSeq)
	}
	tw.Flush()

	if res.netsnmp == "" {
		fmt.Fprintf(w, "\npeer skipped: %s\n", res.skipped)
	} else {
		fmt.Fprintf(w, "\n== peer: %s, one process per walk or request (MIBS=\"\", numeric OIDs, -t 2 -r 1)\n", res.netsnmp)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "case\truns\tprocesses per run\tp50 ms\tmin ms\tmax ms\tSNMP requests per run\tper change\tms per change\tcheck\t")
		for _, key := range []string{"status seq", "status par", "full seq", "full par", "full seq lat", "full par lat", "changes seq", "changes par"} {
			p, ok := res.peers[key]
			if !ok {
				continue
			}
			check := "ok"
			if p.err != nil || len(p.bad) > 0 {
				check = "MISMATCH"
			}
			perCh, reqCh := "-", "-"
			if strings.HasPrefix(key, "changes") {
				perCh, reqCh = fmt.Sprintf("%.2f", ms(p.perChange())), fmt.Sprintf("%.2f", reqPerChange(p.delta))
			}
			reqs := avg(p.reqs)
			if p.changes > 0 {
				reqs = float64(p.delta.Requests)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%s\t%s\t%s\t\n", p.name, len(p.cycles), p.procs, ms(p.p50()),
				ms(benchkit.Quantile(p.cycles, 0)), ms(benchkit.Quantile(p.cycles, 1)), reqs, reqCh, perCh, check)
		}
		tw.Flush()
		for _, key := range []string{"status seq", "status par", "full seq", "full par", "full seq lat", "full par lat", "changes seq", "changes par"} {
			if p, ok := res.peers[key]; ok && p.err != nil {
				fmt.Fprintf(w, "peer ERROR %s: %v\n", p.name, p.err)
			}
		}
	}
	for _, r := range res.changes {
		for _, m := range r.mismatch {
			fmt.Fprintf(w, "MISMATCH %s, %s %s: %s\n", r.dialect, r.path, r.op, m)
		}
		if r.err != nil {
			fmt.Fprintf(w, "ERROR %s, %s %s: %v\n", r.dialect, r.path, r.op, r.err)
		}
	}
	for _, p := range res.polls {
		if p.err != nil {
			fmt.Fprintf(w, "ERROR %s, %s: %v\n", p.dialect, p.name, p.err)
		}
	}
	fmt.Fprint(w, `
ratios are ours / peer: below 1, dcimd is faster. "ms per change" is the
wall time of the whole run divided by the port changes the simulators
counted. dcimd's suspend of a server with one data port sends a SET and a
GET (the read-back) and then a GET of the port's admin and oper status for
the record: 3 requests per change; the peer's script sends 2 (snmpset,
snmpget). The poll rows compare Poll (status and HC counters of every
connected port, both recorded in the database) with walks of the same four
columns; the driver row (no database) with walks of the two status columns.
`)
}
