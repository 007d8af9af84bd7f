package lab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/lab/pdusim"
	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

// bmcUser is the administrator account of every simulated BMC.
const bmcUser = "lab"

// sims are the simulated devices of one lab start: a BMC per server, and
// per rack a PDU, whose outlets feed the servers' BMCs, and a switch,
// whose ports the servers' NICs and BMCs are plugged into.
type sims struct {
	bmcs     []*bmcsim.BMC
	pdus     []*pdusim.PDU
	switches []*switchsim.Switch
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
		sw, err := switchsim.Start(ctx, switchsim.Options{Name: switchName(r), Community: randomSecret(),
			ReadCommunity: randomSecret(), Ports: lay.switchPorts(r)})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("start simulated switch %s: %w", switchName(r), err)
		}
		s.switches = append(s.switches, sw)
	}
	return s, nil
}

// spineMAC is the address rack switches learn on their k-th uplink.
func spineMAC(k int) net.HardwareAddr { return net.HardwareAddr{0x02, 0xdc, 0x1d, 0xff, 0xff, byte(k)} }

// switchPorts are rack r's switch ports, as the seed records them: port
// pos is the NIC of the server at position pos, port pos+24 its BMC, each
// with that MAC address learned; the two uplinks lead to the spines;
// ports without a server have no cable.
func (l layout) switchPorts(r int) []switchsim.Port {
	ports := make([]switchsim.Port, switchPorts+2)
	for n := range ports {
		ports[n].Unplugged = true
	}
	for pos := 1; pos <= l.perRack; pos++ {
		i := r*l.perRack + pos - 1
		if i >= l.servers {
			break
		}
		ports[pos-1] = switchsim.Port{MACs: []net.HardwareAddr{macFor(i+1, 0)}}
		ports[pos-1+switchPorts/2] = switchsim.Port{MACs: []net.HardwareAddr{bmcMAC(i + 1)}}
	}
	for k := 1; k <= 2; k++ {
		ports[switchPorts+k-1] = switchsim.Port{SpeedMbps: uplinkMbps, Alias: uplinkAlias(k), MACs: []net.HardwareAddr{spineMAC(k)}}
	}
	return ports
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
	for _, sw := range s.switches {
		errs = append(errs, sw.Close())
	}
	for _, p := range s.pdus {
		errs = append(errs, p.Close())
	}
	for _, b := range s.bmcs {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}
