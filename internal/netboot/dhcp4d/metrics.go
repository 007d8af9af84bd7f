package dhcp4d

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
	Offers   uint64            `json:"offers"`
	Acks     uint64            `json:"acks"`
	Naks     uint64            `json:"naks"`
	Informs  uint64            `json:"informs"`
	Declines uint64            `json:"declines"`
	Releases uint64            `json:"releases"`
	Drops    uint64            `json:"drops"`    // every packet that got no reply and changed nothing
	DropsBy  map[string]uint64 `json:"drops_by"` // drops by reason name (only reasons seen)
}

// Stats reads the counters.
func (h *Handler) Stats() Stats {
	s := Stats{Offers: h.stats[Offered].Load(), Acks: h.stats[Acked].Load(), Naks: h.stats[Naked].Load(),
		Informs: h.stats[Informed].Load(), Declines: h.stats[Declined].Load(), Releases: h.stats[Released].Load(),
		DropsBy: map[string]uint64{}}
	for r := DropMalformed; r < reasonCount; r++ {
		if n := h.stats[r].Load(); n > 0 {
			s.Drops += n
			s.DropsBy[r.String()] = n
		}
	}
	return s
}

// collector exposes the counters as dcimd_dhcp4_* metrics.
type collector struct {
	h                                                      *Handler
	offers, acks, naks, informs, declines, releases, drops *prometheus.Desc
}

// Collector returns a Prometheus collector of the handler's counters:
// dcimd_dhcp4_{offers,acks,naks,informs,declines,releases}_total and
// dcimd_dhcp4_drops_total{reason}.
func (h *Handler) Collector() prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("dcimd_dhcp4_"+name+"_total", help, labels, nil)
	}
	return &collector{h: h,
		offers:   d("offers", "DHCPOFFERs sent (proxy offers included)."),
		acks:     d("acks", "DHCPACKs sent to REQUESTs (proxy answers included)."),
		naks:     d("naks", "DHCPNAKs sent: clients asking for an address that is not theirs."),
		informs:  d("informs", "DHCPACKs sent to INFORMs."),
		declines: d("declines", "DHCPDECLINEs recorded: addresses another host answers on."),
		releases: d("releases", "DHCPRELEASEs recorded."),
		drops:    d("drops", "Packets dropped without a reply, by reason.", "reason"),
	}
}

// Describe sends the descriptors.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.offers, c.acks, c.naks, c.informs, c.declines, c.releases, c.drops} {
		ch <- d
	}
}

// Collect reads the counters; every drop reason is always present.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.h.stats
	for _, x := range []struct {
		d *prometheus.Desc
		r Reason
	}{{c.offers, Offered}, {c.acks, Acked}, {c.naks, Naked}, {c.informs, Informed}, {c.declines, Declined}, {c.releases, Released}} {
		ch <- prometheus.MustNewConstMetric(x.d, prometheus.CounterValue, float64(st[x.r].Load()))
	}
	for r := DropMalformed; r < reasonCount; r++ {
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st[r].Load()), r.String())
	}
}
