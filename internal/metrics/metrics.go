// Package metrics exposes dcimd's state to Prometheus. The figures are
// read from the database at scrape time, so every replica answers the same
// and nothing is lost on a restart.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PortSample is one switch port as the metrics show it.
type PortSample struct {
	Switch, Port, Server string // server "" when nothing is connected
	AdminUp, OperUp      bool
	HasCounters          bool
	InOctets, OutOctets  uint64 // the agent's raw 64-bit counters at the last poll
}

// Source reads what the metrics show.
type Source interface {
	PortSamples(ctx context.Context) ([]PortSample, error)
	ServerStates(ctx context.Context) (map[string]int, error)
	TaskCounts(ctx context.Context) (map[[2]string]int, error) // (name, status) → tasks not yet pruned
}

// Collector turns a Source into metrics at each scrape.
type Collector struct {
	src     Source
	timeout time.Duration
	log     *slog.Logger

	portAdmin, portOper, portOctets, servers, tasks, scrapeErr *prometheus.Desc
}

// NewCollector builds the collector.
func NewCollector(src Source, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.Default()
	}
	port := []string{"switch", "port", "server"}
	return &Collector{src: src, timeout: 10 * time.Second, log: log,
		portAdmin: prometheus.NewDesc("dcimd_switch_port_admin_up", "Whether a switch port is administratively up (1) or down (0), at the last poll.", port, nil),
		portOper:  prometheus.NewDesc("dcimd_switch_port_oper_up", "Whether a switch port's link is up (1) or down (0), at the last poll.", port, nil),
		portOctets: prometheus.NewDesc("dcimd_switch_port_octets_total",
			"The switch's 64-bit octet counter of a port (ifHCInOctets/ifHCOutOctets) at the last poll.", append(port, "direction"), nil),
		servers:   prometheus.NewDesc("dcimd_servers", "Servers by state.", []string{"state"}, nil),
		tasks:     prometheus.NewDesc("dcimd_tasks", "Tasks kept in the task list by kind and status.", []string{"name", "status"}, nil),
		scrapeErr: prometheus.NewDesc("dcimd_metrics_scrape_errors", "Sources that failed in this scrape.", nil, nil),
	}
}

// Describe sends the descriptors.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.portAdmin, c.portOper, c.portOctets, c.servers, c.tasks, c.scrapeErr} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect reads the source.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	errs := 0
	if ps, err := c.src.PortSamples(ctx); err != nil {
		errs++
		c.log.Warn("metrics: read switch ports", "err", err)
	} else {
		for _, p := range ps {
			l := []string{p.Switch, p.Port, p.Server}
			ch <- prometheus.MustNewConstMetric(c.portAdmin, prometheus.GaugeValue, b2f(p.AdminUp), l...)
			ch <- prometheus.MustNewConstMetric(c.portOper, prometheus.GaugeValue, b2f(p.OperUp), l...)
			if p.HasCounters {
				ch <- prometheus.MustNewConstMetric(c.portOctets, prometheus.CounterValue, float64(p.InOctets), append(l, "in")...)
				ch <- prometheus.MustNewConstMetric(c.portOctets, prometheus.CounterValue, float64(p.OutOctets), append(l, "out")...)
			}
		}
	}
	if st, err := c.src.ServerStates(ctx); err != nil {
		errs++
		c.log.Warn("metrics: read server states", "err", err)
	} else {
		for s, n := range st {
			ch <- prometheus.MustNewConstMetric(c.servers, prometheus.GaugeValue, float64(n), s)
		}
	}
	if ts, err := c.src.TaskCounts(ctx); err != nil {
		errs++
		c.log.Warn("metrics: read tasks", "err", err)
	} else {
		for k, n := range ts {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErr, prometheus.GaugeValue, float64(errs))
}

// Handler serves the registry of the collector plus the Go runtime and
// process metrics. Extra collectors (the netboot servers') may be added.
func Handler(c *Collector, extra ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, x := range extra {
		reg.MustRegister(x)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
