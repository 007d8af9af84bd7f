package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

// fleet is the simulated switches and where each server is plugged in.
// Server i is on switch i mod S, in slot j = i div S: its data port is
// port j+1 and, for the first P-perSwitch slots, its IPMI port is port
// perSwitch+j+1, so that with 500 servers on 20 × 48 ports every port is
// connected (500 data ports, 460 IPMI ports).
type fleet struct {
	sws       []*switchsim.Switch
	perSwitch int
	servers   []plug // by server index
}

// plug is one server's ports, as ifIndexes of its switch.
type plug struct {
	sw   int // switch index
	data int // ifIndex of the data port
	ipmi int // ifIndex of the IPMI port; 0: none
}

func startFleet(ctx context.Context, switches, ports, servers int) (_ *fleet, err error) {
	f := &fleet{perSwitch: (servers + switches - 1) / switches}
	if f.perSwitch > ports {
		return nil, fmt.Errorf("%d servers do not fit on %d switches of %d ports", servers, switches, ports)
	}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	for k := range switches {
		name := fmt.Sprintf("sw-bench-%02d", k+1)
		sw, err := switchsim.Start(ctx, switchsim.Options{Name: name, Community: randomCommunity(), ReadCommunity: randomCommunity(),
			Ports: switchsim.GeneratePorts(name, ports)})
		if err != nil {
			return nil, err
		}
		f.sws = append(f.sws, sw)
	}
	for i := range servers {
		k, j := i%switches, i/switches
		p := plug{sw: k, data: f.sws[k].IfIndex(j + 1)}
		if n := f.perSwitch + j + 1; n <= ports {
			p.ipmi = f.sws[k].IfIndex(n)
		}
		f.servers = append(f.servers, p)
	}
	return f, nil
}

func (f *fleet) close() {
	for _, sw := range f.sws {
		_ = sw.Close()
	}
}

// ports is the number of simulated ports over all switches.
func (f *fleet) ports() int {
	n := 0
	for _, sw := range f.sws {
		n += sw.Ports()
	}
	return n
}

// stats sums the switches' counters.
func (f *fleet) stats() switchsim.Stats {
	var s switchsim.Stats
	for _, sw := range f.sws {
		s = s.Add(sw.Stats())
	}
	return s
}

func subStats(a, b switchsim.Stats) switchsim.Stats {
	d := switchsim.Stats{PortSets: a.PortSets - b.PortSets, PortChanges: a.PortChanges - b.PortChanges}
	d.Requests, d.Get, d.GetNext, d.GetBulk = a.Requests-b.Requests, a.Get-b.Get, a.GetNext-b.GetNext, a.GetBulk-b.GetBulk
	d.Set, d.Refused, d.Dropped = a.Set-b.Set, a.Refused-b.Refused, a.Dropped-b.Dropped
	return d
}

func (f *fleet) setLatency(d time.Duration) {
	for _, sw := range f.sws {
		sw.SetLatency(d)
	}
}

// check compares the simulators with what a suspend (dataUp false) or a
// resume (dataUp true) of every server must leave: each data port admin
// and oper as wanted, each IPMI port and every other port admin and oper
// up. It returns the number of ports that differ and the first few.
func (f *fleet) check(dataUp bool) (int, []string) {
	role := map[[2]int]string{}
	for i, p := range f.servers {
		role[[2]int{p.sw, p.data}] = fmt.Sprintf("data port of server %d", i)
		if p.ipmi != 0 {
			role[[2]int{p.sw, p.ipmi}] = fmt.Sprintf("IPMI port of server %d", i)
		}
	}
	bad := 0
	var first []string
	for k, sw := range f.sws {
		for n := 1; n <= sw.Ports(); n++ {
			idx := sw.IfIndex(n)
			r, ok := role[[2]int{k, idx}]
			if !ok {
				r = "unconnected port"
			}
			want := true
			if len(r) > 4 && r[:4] == "data" {
				want = dataUp
			}
			if sw.AdminUp(idx) != want || sw.OperUp(idx) != want {
				bad++
				if len(first) < 5 {
					first = append(first, fmt.Sprintf("%s ifIndex %d (%s): admin up %v, oper up %v, want %v",
						sw.Name(), idx, r, sw.AdminUp(idx), sw.OperUp(idx), want))
				}
			}
		}
	}
	return bad, first
}

func randomCommunity() string {
	b := make([]byte, 8)
	_, _ = crand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}
