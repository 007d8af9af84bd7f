package power

import (
	"context"
	"log/slog"
	"sync"
)

// BMCTarget is one BMC to read.
type BMCTarget struct {
	BMCID    int64
	ServerID *int64
	BMC      Controller
}

// PDUTarget is one PDU whose outlets are read in one walk.
type PDUTarget struct {
	PDUID int64
	Name  string
	Read  func(ctx context.Context) (map[int]State, error)
}

// PollSource lists what to read.
type PollSource interface {
	PollTargets(ctx context.Context) ([]BMCTarget, []PDUTarget, error)
}

// PollSink records what was read.
type PollSink interface {
	SetBMCStatus(ctx context.Context, bmcID int64, status, info string) error
	SetPowerStatus(ctx context.Context, serverID int64, status string) error
	SetOutletStatuses(ctx context.Context, pduID int64, statuses map[int]string) error
}

// Poller reads every BMC and PDU with bounded concurrency, so that the
// server object shows ipmi.status and pdu_connection.power_status. One slow
// device holds one slot, never the whole cycle.
type Poller struct {
	Source      PollSource
	Sink        PollSink
	Concurrency int
	Log         *slog.Logger
}

// PollStats summarise a cycle.
type PollStats struct {
	BMCs, BMCErrors, PDUs, PDUErrors int
}

// Poll runs one cycle.
func (p *Poller) Poll(ctx context.Context) (PollStats, error) {
	bmcs, pdus, err := p.Source.PollTargets(ctx)
	if err != nil {
		return PollStats{}, err
	}
	n := max(p.Concurrency, 1)
	sem := make(chan struct{}, n)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		st = PollStats{BMCs: len(bmcs), PDUs: len(pdus)}
	)
	count := func(f *int) { mu.Lock(); *f++; mu.Unlock() }
	for _, t := range bmcs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s, err := t.BMC.State(ctx)
			info := ""
			if err != nil {
				s, info = Unknown, err.Error()
				count(&st.BMCErrors)
			}
			if err := p.Sink.SetBMCStatus(ctx, t.BMCID, string(s), info); err != nil {
				p.Log.Warn("record bmc status", "bmc_id", t.BMCID, "err", err)
			}
			if t.ServerID != nil {
				if err := p.Sink.SetPowerStatus(ctx, *t.ServerID, string(s)); err != nil {
					p.Log.Warn("record power status", "server_id", *t.ServerID, "err", err)
				}
			}
		}()
	}
	for _, t := range pdus {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			states, err := t.Read(ctx)
			out := map[int]string{}
			if err != nil {
				count(&st.PDUErrors)
				p.Log.Warn("poll pdu", "pdu", t.Name, "err", err)
				out = nil // unknown for every outlet
			}
			for n, s := range states {
				out[n] = outletStatus(s)
			}
			if err := p.Sink.SetOutletStatuses(ctx, t.PDUID, out); err != nil {
				p.Log.Warn("record outlet status", "pdu", t.Name, "err", err)
			}
		}()
	}
	wg.Wait()
	return st, ctx.Err()
}

// outletStatus maps a power state to the seed's outlet words.
func outletStatus(s State) string {
	switch s {
	case On:
		return "up"
	case Off:
		return "down"
	}
	return "unknown"
}
