package tftpd

import "github.com/prometheus/client_golang/prometheus"

// Stats is a snapshot of the server's counters since it was created.
type Stats struct {
	Started   uint64   `json:"started"`   // transfers begun (the file was found and opened)
	Completed uint64   `json:"completed"` // transfers the client acknowledged to the end
	Failed    uint64   `json:"failed"`    // transfers begun that did not complete
	Refused   Refusals `json:"refused"`
	BytesSent uint64   `json:"bytes_sent"` // file bytes handed to the network (retransmissions not counted)
	InFlight  int64    `json:"in_flight"`  // requests being handled now
	// BadPackets counts datagrams on the server port that were not a
	// request (short, unknown opcode, stray ACK or DATA).
	BadPackets uint64 `json:"bad_packets"`
	// Panics counts library panics caught in a transfer (see handleRead).
	Panics uint64 `json:"panics"`
}

// Refusals counts refused requests by reason.
type Refusals struct {
	NotFound     uint64 `json:"not_found"`
	Forbidden    uint64 `json:"forbidden"` // absolute path, "..", NUL, symlink out of the root
	Busy         uint64 `json:"busy"`      // over MaxTransfers
	Write        uint64 `json:"write"`     // write requests
	ShuttingDown uint64 `json:"shutting_down"`
}

// Total is the sum of all refusals.
func (r Refusals) Total() uint64 {
	return r.NotFound + r.Forbidden + r.Busy + r.Write + r.ShuttingDown
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	c := &s.st
	return Stats{
		Started: c.started.Load(), Completed: c.completed.Load(), Failed: c.failed.Load(),
		Refused: Refusals{
			NotFound: c.refused[reasonNotFound].Load(), Forbidden: c.refused[reasonForbidden].Load(),
			Busy: c.refused[reasonBusy].Load(), Write: c.refused[reasonWrite].Load(),
			ShuttingDown: c.refused[reasonShutdown].Load(),
		},
		BytesSent: c.bytes.Load(), InFlight: c.inflight.Load(),
		BadPackets: c.badPackets.Load(), Panics: c.panics.Load(),
	}
}

// Collector exposes the counters as dcimd_tftp_* metrics.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

var (
	descTransfers = prometheus.NewDesc("dcimd_tftp_transfers_total",
		"TFTP transfers by outcome: started (file found and opened), completed, failed.", []string{"result"}, nil)
	descRefused = prometheus.NewDesc("dcimd_tftp_requests_refused_total",
		"TFTP requests refused, by reason (not_found, forbidden, busy, write, shutdown).", []string{"reason"}, nil)
	descBytes = prometheus.NewDesc("dcimd_tftp_sent_bytes_total",
		"File bytes sent by the TFTP server, retransmissions not counted.", nil, nil)
	descInFlight = prometheus.NewDesc("dcimd_tftp_transfers_in_flight",
		"TFTP requests being handled now.", nil, nil)
	descBad = prometheus.NewDesc("dcimd_tftp_bad_packets_total",
		"Datagrams on the TFTP server port that were not a request.", nil, nil)
	descPanics = prometheus.NewDesc("dcimd_tftp_recovered_panics_total",
		"Panics of the TFTP library caught in a transfer (hostile requests).", nil, nil)
)

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTransfers, descRefused, descBytes, descInFlight, descBad, descPanics} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descTransfers, st.Started, "started")
	counter(descTransfers, st.Completed, "completed")
	counter(descTransfers, st.Failed, "failed")
	for i, v := range []uint64{st.Refused.NotFound, st.Refused.Forbidden, st.Refused.Busy, st.Refused.Write, st.Refused.ShuttingDown} {
		counter(descRefused, v, reasonNames[i])
	}
	counter(descBytes, st.BytesSent)
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight))
	counter(descBad, st.BadPackets)
	counter(descPanics, st.Panics)
}
