package lab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/lab/pdusim"
)

// bmcUser is the administrator account of every simulated BMC.
const bmcUser = "lab"

// sims are the simulated devices of one lab start: a BMC per server and
// a PDU per rack, whose outlets feed the servers' BMCs.
type sims struct {
	bmcs []*bmcsim.BMC
	pdus []*pdusim.PDU
}

// randomSecret is 16 characters: within the IPMI v1.5 and v2.0 limits.
func randomSecret() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// startSims starts the devices on loopback ports. Credentials are new on
// every start; the seeding writes them into the inventory. Servers the
// demo user rents start powered on, the free ones off.
func startSims(lay layout, pduRebootDelay time.Duration) (*sims, error) {
	s := &sims{}
	// The simulators outlive the daemon's shutdown (tasks may still talk
	// to them), so they get their own lifetime: Close.
	ctx := context.Background()
	password := randomSecret()
	for i := range lay.servers {
		b, err := bmcsim.Start(ctx, bmcsim.Options{User: bmcUser, Password: password, PowerOn: owned(i)})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("start simulated BMC of %s: %w", serverName(i), err)
		}
		s.bmcs = append(s.bmcs, b)
	}
	for r := range lay.racks {
		names := make([]string, outletsPer)
		for pos := 1; pos <= lay.perRack; pos++ {
			if i := r*lay.perRack + pos - 1; i < lay.servers {
				names[pos-1] = serverName(i)
			}
		}
		p, err := pdusim.Start(ctx, pdusim.Options{Name: pduName(r), Community: randomSecret(), Outlets: outletsPer,
			OutletNames: names, RebootDelay: pduRebootDelay, OnChange: s.feed(lay, r)})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("start simulated PDU %s: %w", pduName(r), err)
		}
		s.pdus = append(s.pdus, p)
	}
	return s, nil
}

// feed ties rack r's outlets to its servers: an outlet switched off cuts
// the server's power, BMC included.
func (s *sims) feed(lay layout, r int) func(outlet int, on bool) {
	return func(outlet int, on bool) {
		if outlet > lay.perRack {
			return
		}
		if i := r*lay.perRack + outlet - 1; i < len(s.bmcs) {
			s.bmcs[i].SetACPower(on)
		}
	}
}

// Close stops every simulator.
func (s *sims) Close() error {
	var errs []error
	for _, p := range s.pdus {
		errs = append(errs, p.Close())
	}
	for _, b := range s.bmcs {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}
