package switchsim

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Fleet is a set of simulated switches started together, for tests and
// benchmarks that need many.
type Fleet struct {
	switches []*Switch
}

// StartFleet starts n switches with the same options, each on its own
// free port of opts.Addr's host (127.0.0.1 by default) and named
// "<opts.Name>-<k>" (k from 1). On error the switches already started are
// closed.
func StartFleet(ctx context.Context, n int, opts Options) (*Fleet, error) {
	if n < 0 {
		return nil, fmt.Errorf("switchsim: fleet of %d switches", n)
	}
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(opts.Addr); err == nil && h != "" {
		host = h
	}
	opts.Addr = host + ":0"
	if opts.Name == "" {
		opts.Name = "lab-switch"
	}
	f := &Fleet{switches: make([]*Switch, 0, n)}
	for k := 1; k <= n; k++ {
		o := opts
		o.Name = fmt.Sprintf("%s-%d", opts.Name, k)
		s, err := Start(ctx, o)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("switchsim: start switch %d of %d: %w", k, n, err)
		}
		f.switches = append(f.switches, s)
	}
	return f, nil
}

// All returns the switches in start order.
func (f *Fleet) All() []*Switch { return append([]*Switch(nil), f.switches...) }

// Totals adds up the counters of every switch.
func (f *Fleet) Totals() Stats {
	var t Stats
	for _, s := range f.switches {
		t = t.Add(s.Stats())
	}
	return t
}

// Close stops every switch.
func (f *Fleet) Close() error {
	var errs []error
	for _, s := range f.switches {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
