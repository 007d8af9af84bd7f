package bmcsim

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Fleet is a set of simulated BMCs started together.
type Fleet struct {
	bmcs []*BMC
}

// StartFleet starts n BMCs with the same options, each on its own free
// port of opts.Addr's host (127.0.0.1 by default; a fixed port in
// opts.Addr is ignored). On error the BMCs already started are closed.
func StartFleet(ctx context.Context, n int, opts Options) (*Fleet, error) {
	if n < 0 {
		return nil, fmt.Errorf("bmcsim: fleet of %d BMCs", n)
	}
	opts = opts.withDefaults()
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(opts.Addr); err == nil && h != "" {
		host = h
	}
	opts.Addr = host + ":0"
	f := &Fleet{bmcs: make([]*BMC, 0, n)}
	for i := 0; i < n; i++ {
		b, err := Start(ctx, opts)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("bmcsim: start BMC %d of %d: %w", i+1, n, err)
		}
		f.bmcs = append(f.bmcs, b)
	}
	return f, nil
}

// All returns the BMCs in start order.
func (f *Fleet) All() []*BMC { return append([]*BMC(nil), f.bmcs...) }

// Totals adds up the counters of every BMC.
func (f *Fleet) Totals() Counters {
	var t Counters
	for _, b := range f.bmcs {
		t = t.add(b.Counters())
	}
	return t
}

// Close stops every BMC.
func (f *Fleet) Close() error {
	var errs []error
	for _, b := range f.bmcs {
		if err := b.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
