package dhcp6d

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

type counters [reasonCount]atomic.Uint64

func (c *counters) add(r Reason) {
	if r >= 0 && r < reasonCount {
		c[r].Add(1)
	}
}

// Stats are the server's counts since it started.
type Stats struct {
	Advertises uint64            `json:"advertises"`
	Replies    uint64            `json:"replies"`
	Informs    uint64            `json:"informs"`
	Releases   uint64            `json:"releases"`
	Declines   uint64            `json:"declines"`
	Drops      uint64            `json:"drops"`
	DropsBy    map[string]uint64 `json:"drops_by"` // by reason name (only reasons seen)
}

// Stats reads the counters.
func (h *Handler) Stats() Stats {
	s := Stats{Advertises: h.stats[Advertised].Load(), Replies: h.stats[Replied].Load(), Informs: h.stats[Informed].Load(),
		Releases: h.stats[Released].Load(), Declines: h.stats[Declined].Load(), DropsBy: map[string]uint64{}}
	for r := DropMalformed; r < reasonCount; r++ {
		if n := h.stats[r].Load(); n > 0 {
			s.Drops += n
			s.DropsBy[r.String()] = n
		}
	}
	return s
}

type collector struct {
	h     *Handler
	ok    map[Reason]*prometheus.Desc
	drops *prometheus.Desc
}

// Collector returns a Prometheus collector of the handler's counters:
// dcimd_dhcp6_{advertises,replies,informs,releases,declines}_total and
// dcimd_dhcp6_drops_total{reason}.
func (h *Handler) Collector() prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("dcimd_dhcp6_"+name+"_total", help, labels, nil)
	}
	return &collector{h: h, ok: map[Reason]*prometheus.Desc{
		Advertised: d("advertises", "ADVERTISEs sent."),
		Replied:    d("replies", "REPLYs sent to SOLICIT (rapid commit), REQUEST, RENEW, REBIND and CONFIRM."),
		Informed:   d("informs", "REPLYs sent to INFORMATION-REQUESTs."),
		Released:   d("releases", "RELEASEs answered."),
		Declined:   d("declines", "DECLINEs answered: addresses another host answers on."),
	}, drops: d("drops", "Packets dropped without a reply, by reason.", "reason")}
}

// Describe sends the descriptors.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for r := Advertised; r < DropMalformed; r++ {
		ch <- c.ok[r]
	}
	ch <- c.drops
}

// Collect reads the counters; every drop reason is always present.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.h.stats
	for r := Advertised; r < DropMalformed; r++ {
		ch <- prometheus.MustNewConstMetric(c.ok[r], prometheus.CounterValue, float64(st[r].Load()))
	}
	for r := DropMalformed; r < reasonCount; r++ {
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st[r].Load()), r.String())
	}
}
