package main

import (
	"fmt"
	"time"
)

// report prints every run, the best zero-drop rate per server and the
// ratios of dcimd's to Kea's and dnsmasq's.
func report(c *config, rows []*serverResult, took time.Duration) {
	fmt.Printf("\n== all runs (%d clients, %d s each; ACK/s = REQUEST-ACK received / %d s)\n", c.clients, c.period, c.period)
	fmt.Println("| server | offered /s | ACK/s | D-O drops | R-A drops | avg delay D-O / R-A | max delay D-O / R-A | server CPU | leases |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		for _, x := range r.runs {
			fmt.Printf("| %s | %d | %.0f | %d | %d | %.2f / %.2f ms | %.1f / %.1f ms | %.1f s | %s |\n", r.name, x.rate,
				float64(x.p.acks)/float64(c.period), x.p.dropsDO, x.p.dropsRA, x.p.avgDO, x.p.avgRA, x.p.maxDO, x.p.maxRA,
				x.cpu.Seconds(), orDash(x.durable))
		}
	}
	fmt.Println("\n== highest offered rate with zero drops")
	fmt.Println("| server | zero-drop rate | DORA/s | avg delay D-O / R-A | durable | next step |")
	fmt.Println("|---|---|---|---|---|---|")
	best := map[string]float64{}
	for _, r := range rows {
		next := "—"
		if n := len(r.runs); n > 0 && (r.best == nil || r.runs[n-1].rate != r.best.rate) {
			x := r.runs[n-1]
			next = fmt.Sprintf("%d/s: %.0f ACK/s, %d + %d drops", x.rate, float64(x.p.acks)/float64(c.period), x.p.dropsDO, x.p.dropsRA)
		} else if r.note != "" {
			next = r.note
		}
		if r.best == nil {
			fmt.Printf("| %s | none | — | — | — | %s |\n", r.name, next)
			continue
		}
		x := r.best
		dora := float64(x.p.acks) / float64(c.period)
		best[r.name] = dora
		fmt.Printf("| %s | %d | %.0f | %.2f / %.2f ms | %s | %s |\n", r.name, x.rate, dora, x.p.avgDO, x.p.avgRA, orDash(x.durable), next)
	}
	fmt.Println()
	for _, d := range []string{"dcimd-sqlite", "dcimd-postgres"} {
		for _, peer := range []string{"kea", "dnsmasq"} {
			if best[d] > 0 && best[peer] > 0 {
				fmt.Printf("%s / %s = %.2f\n", d, peer, best[d]/best[peer])
			}
		}
	}
	fmt.Printf("\ntook %v\n", took.Round(time.Second))
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
