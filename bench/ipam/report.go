package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
)

// The figure for the billing call (printed, never enforced).
const (
	targetRate    = 500.0
	targetDialect = "postgres"
	targetClients = 16
)

func printTables(w io.Writer, c benchConfig, res results) {
	if len(res.tput) > 0 {
		printTput(w, c, res.tput)
	}
	if len(res.fill) > 0 {
		printFill(w, c, res.fill)
	}
	if len(res.list) > 0 {
		printList(w, c, res)
	}
	fmt.Fprint(w, note)
}

func printTput(w io.Writer, c benchConfig, ts []tput) {
	fmt.Fprintf(w, "\n== allocations per second (%d per case, cap %v; load average %s)\n", c.allocs, c.capDur, benchkit.LoadAvg())
	fmt.Fprintln(w, "reference: the raw database floor, single-row INSERTs into ips through database/sql, same database, same client count;")
	fmt.Fprintln(w, "x floor = floor rate / this rate (what one allocation costs over a bare insert)")
	floor := map[string]float64{}
	for _, t := range ts {
		if t.name == caseFloor && t.err == nil {
			floor[fmt.Sprint(t.dialect, t.clients)] = t.rate
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tcase\tclients\tn\tseconds\tper s\tp50 ms\tp99 ms\tx floor\tstmts/call\tCPU dcimd\tCPU db\tCPU machine\tCPU ms/call\ttasks complete after\tsettled per s\t")
	for _, t := range ts {
		if t.n == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t-\t-\tfailed\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", t.dialect, t.name, t.clients)
			continue
		}
		ratio, stmts, settled, srate := "-", "-", "-", "-"
		if f, ok := floor[fmt.Sprint(t.dialect, t.clients)]; ok && t.name != caseFloor {
			ratio = fmt.Sprintf("%.1f", f/t.rate)
		}
		if t.stmts >= 0 {
			stmts = fmt.Sprint(t.stmts)
		}
		if t.settled > 0 {
			settled, srate = fmt.Sprintf("%.2f s", t.settled.Seconds()), fmt.Sprintf("%.0f", t.settledRate)
		}
		dbc := "in dcimd"
		if t.dialect == "postgres" {
			dbc = fmt.Sprintf("%.2f", t.dbCPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.0f\t%.2f\t%.2f\t%s\t%s\t%.2f\t%s\t%.0f%%\t%.2f\t%s\t%s\t\n", t.dialect, t.name, t.clients, t.n,
			t.elapsed.Seconds(), t.rate, ms(t.p50), ms(t.p99), ratio, stmts, t.cpu.Self, dbc, 100*t.cpu.Machine, t.cpuPerAlloc(),
			settled, srate)
	}
	tw.Flush()
	for _, t := range ts {
		if t.pgStmts != nil {
			fmt.Fprintf(w, "PostgreSQL statements per call, %s (server log, %d calls, River's included): %s\n", t.name, c.pgStmts, t.pgStmts)
		}
	}
	for _, t := range ts {
		if t.err != nil {
			fmt.Fprintf(w, "FAILED %s, %s, %d clients: %v\n", t.dialect, t.name, t.clients, t.err)
		}
		if (t.name == caseBilling || t.name == caseAdmin) && t.dialect == targetDialect && t.clients == targetClients && t.err == nil {
			verdict := "met"
			if t.rate < targetRate {
				verdict = fmt.Sprintf("NOT met (%.2f of it)", t.rate/targetRate)
			}
			fmt.Fprintf(w, "issue figure >= %.0f allocations/s on PostgreSQL with %d clients, %s: %.0f/s: %s\n",
				targetRate, targetClients, t.name, t.rate, verdict)
		}
	}
}

func printFill(w io.Writer, c benchConfig, fs []fillResult) {
	fmt.Fprintf(w, "\n== one allocation as a /16 fills (%d sequential calls per series, cap %v; ms)\n", c.fillN, c.fillCap)
	base := map[string]float64{} // store p50 at 1 % per case
	for _, f := range fs {
		if f.pct == 1 && f.err == nil {
			base[f.dialect+f.name] = ms(f.store.p50)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tcase\tfull\tused of\tfirst alloc\tstore p50\tp99\tn\tvs 1%\tHTTP call\tp50\tp99\tn\t")
	for _, f := range fs {
		if f.err != nil {
			fmt.Fprintf(tw, "%s\t%s\t%d%%\t-\t-\tfailed\t-\t-\t-\t-\t-\t-\t-\t\n", f.dialect, f.name, f.pct)
			continue
		}
		vs := "-"
		b, ok := base[f.dialect+f.name]
		if !ok {
			b, ok = base[f.dialect+"ip_net, contiguous"]
		}
		if ok && b > 0 {
			vs = fmt.Sprintf("%.2f", ms(f.store.p50)/b)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d%%\t%d / %d\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t%.2f\t%.2f\t%d\t\n", f.dialect, f.name, f.pct, f.used, f.space,
			ms(f.first), ms(f.store.p50), ms(f.store.p99), f.store.n, vs, f.httpCall, ms(f.http.p50), ms(f.http.p99), f.http.n)
	}
	tw.Flush()
	for _, f := range fs {
		if f.err != nil {
			fmt.Fprintf(w, "FAILED %s, %s %d%%: %v\n", f.dialect, f.name, f.pct, f.err)
		}
	}
}

func printList(w io.Writer, c benchConfig, res results) {
	fmt.Fprintf(w, "\n== GET /api/ip/v3/ip?where=ipnet EQ <id> AND name CP '%s' (%d addresses in one network; ms)\n", listPattern, c.listRows)
	for d, l := range res.load {
		fmt.Fprintf(w, "%s: bulk load %v\n", d, l.Round(1e6))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tcase\tn\tp50\tp95\trows\tsize\tresponse\tSQL count\tSQL rows\t")
	for _, l := range res.list {
		if l.err != nil {
			fmt.Fprintf(tw, "%s\t%s\t-\tfailed\t-\t-\t-\t-\t-\t-\t\n", l.dialect, l.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%d\t%d\t%s\t%.2f\t%.2f\t\n", l.dialect, l.name, l.iters, ms(l.p50), ms(l.p95), l.rows,
			l.size, humanBytes(l.bytes), ms(l.sqlCount), ms(l.sqlRows))
	}
	tw.Flush()
	fmt.Fprintln(w, "SQL count / SQL rows: the store's two statements run straight on the database (least of 3); plans of the rows:")
	for _, l := range res.list {
		if l.err == nil {
			fmt.Fprintf(w, "  %s, %s: %s\n", l.dialect, l.name, l.plan)
		}
	}
	for _, l := range res.list {
		if l.err != nil {
			fmt.Fprintf(w, "FAILED %s, %s: %v\n", l.dialect, l.name, l.err)
		}
	}
}

const note = `
What bounds these figures:
  - Client, dcimd and the database share the machine's CPUs (CPU dcimd:
    CPUs this process kept busy on average; CPU machine: busy share of all
    CPUs, the database server included). A case near 100 % machine CPU is
    CPU-bound, not lock-bound.
  - Allocations in one network are serialised: PostgreSQL locks the network
    row (SELECT ... FOR UPDATE) for the rest of the allocation
    transaction; SQLite's write transaction (BEGIN IMMEDIATE) holds the
    database lock. More clients add no parallelism inside one network.
  - The billing call also submits an ip_allocate task (the task row and its
    River job in one transaction, an audit row) and the runner executes it
    during the timing (progress saves, audit, the status update), as in
    production; "tasks complete after" is from the first call to the last
    task complete.
  - stmts/call counts the statements the store runs through gorm (reads,
    raw SQL; not BEGIN/COMMIT, gorm Create/Update, nor River's own), the
    least over three calls.
`
