package httpboot

import "github.com/prometheus/client_golang/prometheus"

// metricSet holds the handler's counters; the Handler is their
// prometheus.Collector.
type metricSet struct {
	scripts       *prometheus.CounterVec
	imageBytes    prometheus.Counter
	imageRequests *prometheus.CounterVec
	phoneHome     *prometheus.CounterVec
}

func newMetricSet() *metricSet {
	return &metricSet{
		scripts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcimd_httpboot_scripts_total",
			Help: "iPXE scripts served, by template and outcome (planned, unknown, retry, fallback)."},
			[]string{"template", "outcome"}),
		imageBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "dcimd_httpboot_image_bytes_total",
			Help: "Body bytes of image files (kernels, initrds) sent."}),
		imageRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcimd_httpboot_image_requests_total",
			Help: "Image file requests, by HTTP status code."}, []string{"code"}),
		phoneHome: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcimd_httpboot_phonehome_total",
			Help: "Phone-home reports, by status and result (recorded, unknown_token, spent, bad_request, too_large, error)."},
			[]string{"status", "result"}),
	}
}

func (m *metricSet) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.scripts, m.imageBytes, m.imageRequests, m.phoneHome}
}

// Describe sends the descriptors of the handler's metrics
// (dcimd_httpboot_*); register the Handler itself with a registry.
func (h *Handler) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range h.m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the handler's metrics.
func (h *Handler) Collect(ch chan<- prometheus.Metric) {
	for _, c := range h.m.collectors() {
		c.Collect(ch)
	}
}
