package main

import (
	"fmt"
	"strings"
	"time"
)

func starterNames(st []starter) []string {
	var n []string
	for _, s := range st {
		n = append(n, s.name)
	}
	return n
}

// printTable prints the results as a Markdown table with the ratios of
// dcimd (and its windowed row) to each peer.
func printTable(res map[string]map[int]*result, names []string, blocks []int, runs, clients int, box time.Duration, wname string) {
	var cols []string
	for _, n := range names {
		if res[n] != nil {
			cols = append(cols, n)
		}
	}
	type ratio struct{ num, den string }
	var ratios []ratio
	for _, peer := range []string{"tftpd-hpa", "dnsmasq"} {
		if res[peer] == nil {
			continue
		}
		for _, ours := range []string{"dcimd", wname} {
			if res[ours] != nil {
				ratios = append(ratios, ratio{ours, peer})
			}
		}
	}
	head := []string{"blksize", "clients"}
	for _, c := range cols {
		head = append(head, c+" MiB/s")
	}
	for _, r := range ratios {
		head = append(head, r.num+" / "+r.den)
	}
	fmt.Println("| " + strings.Join(head, " | ") + " |")
	fmt.Println("|" + strings.Repeat("---|", len(head)))
	for _, bs := range blocks {
		for _, conc := range []bool{false, true} {
			row := []string{fmt.Sprint(bs), "1"}
			if conc {
				row[1] = fmt.Sprint(clients)
			}
			val := map[string]float64{}
			for _, c := range cols {
				r := res[c][bs]
				cell := "–"
				switch {
				case r == nil:
				case !conc && len(r.single) > 0:
					val[c] = median(r.single)
					cell = fmt.Sprintf("%.1f (%.1f–%.1f)", val[c], minOf(r.single), maxOf(r.single))
					if len(r.single) < runs {
						cell += fmt.Sprintf(" [%d of %d runs]", len(r.single), runs)
					}
				case conc && r.concRan:
					val[c] = r.conc
					cell = fmt.Sprintf("%.1f (%d/%d done)", r.conc, r.concDone, clients)
				}
				if r != nil && len(r.errs) > 0 && cell == "–" {
					cell = "failed"
				}
				row = append(row, cell)
			}
			for _, r := range ratios {
				if val[r.num] > 0 && val[r.den] > 0 {
					row = append(row, fmt.Sprintf("%.2f", val[r.num]/val[r.den]))
				} else {
					row = append(row, "–")
				}
			}
			fmt.Println("| " + strings.Join(row, " | ") + " |")
		}
	}
	fmt.Printf("\n1 client: median of %d downloads of the whole file (min–max), each compared byte for byte.\n", runs)
	fmt.Printf("%d clients: aggregate over at most %v after all started (clients done inside it), partial copies checked as prefixes.\n", clients, box)
	for _, c := range cols {
		for _, bs := range blocks {
			if r := res[c][bs]; r != nil && len(r.errs) > 0 {
				fmt.Printf("errors %s blksize %d: %s\n", c, bs, strings.Join(r.errs, "; "))
			}
		}
	}
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
