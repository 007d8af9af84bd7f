// Package snmpctest is a scripted SNMPv2c agent on a loopback port, for
// the failures a real snmpd will not produce on demand: tooBig answers,
// OIDs out of order, a SET accepted but not applied. Each request goes to
// a handler that builds the answer from a small table of objects.
package snmpctest

import (
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// Handler answers one request; nil drops it (no answer).
type Handler func(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket

// Agent is a running scripted agent.
type Agent struct {
	conn *net.UDPConn
	done chan struct{}

	mu       sync.Mutex
	requests []*gosnmp.SnmpPacket
}

// Start serves h on 127.0.0.1 until the end of the test.
func Start(t testing.TB, h Handler) *Agent {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{conn: c, done: make(chan struct{})}
	go a.serve(h)
	t.Cleanup(func() { _ = c.Close(); <-a.done })
	return a
}

// Port is the agent's UDP port on 127.0.0.1.
func (a *Agent) Port() int { return a.conn.LocalAddr().(*net.UDPAddr).Port }

// Requests are the requests received so far.
func (a *Agent) Requests() []*gosnmp.SnmpPacket {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}

func (a *Agent) serve(h Handler) {
	defer close(a.done)
	buf := make([]byte, 65535)
	dec := &gosnmp.GoSNMP{}
	for {
		n, addr, err := a.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		req, err := dec.SnmpDecodePacket(buf[:n])
		if err != nil {
			continue
		}
		a.mu.Lock()
		a.requests = append(a.requests, req)
		a.mu.Unlock()
		resp := h(req)
		if resp == nil {
			continue
		}
		resp.Version, resp.Community, resp.RequestID = req.Version, req.Community, req.RequestID
		resp.PDUType = gosnmp.GetResponse
		if out, err := resp.MarshalMsg(); err == nil {
			_, _ = a.conn.WriteToUDP(out, addr)
		}
	}
}

// Table is a sorted set of objects a handler can answer from.
type Table []gosnmp.SnmpPDU

// Answer answers GET, GETNEXT and GETBULK from the table, as an agent
// following RFC 3416 does; SETs are refused with notWritable.
func (tb Table) Answer(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
	resp := &gosnmp.SnmpPacket{}
	switch req.PDUType {
	case gosnmp.GetRequest:
		for _, v := range req.Variables {
			resp.Variables = append(resp.Variables, tb.Get(v.Name))
		}
	case gosnmp.GetNextRequest:
		for _, v := range req.Variables {
			resp.Variables = append(resp.Variables, tb.Next(v.Name))
		}
	case gosnmp.GetBulkRequest:
		cur := req.Variables[0].Name
		for range max(req.MaxRepetitions, 1) {
			v := tb.Next(cur)
			resp.Variables = append(resp.Variables, v)
			if v.Type == gosnmp.EndOfMibView {
				break
			}
			cur = v.Name
		}
	default:
		resp.Error, resp.ErrorIndex = gosnmp.NotWritable, 1
		resp.Variables = req.Variables
	}
	return resp
}

// Get is the object named oid, or noSuchObject.
func (tb Table) Get(oid string) gosnmp.SnmpPDU {
	for _, v := range tb {
		if v.Name == oid {
			return v
		}
	}
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.NoSuchObject}
}

// Next is the first object after oid, or endOfMibView.
func (tb Table) Next(oid string) gosnmp.SnmpPDU {
	for _, v := range tb {
		if Less(oid, v.Name) {
			return v
		}
	}
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.EndOfMibView}
}

// Less orders numeric OIDs arc by arc.
func Less(a, b string) bool {
	pa, pb := arcs(a), arcs(b)
	return slices.Compare(pa, pb) < 0
}

func arcs(oid string) []int {
	var out []int
	n, in := 0, false
	for _, c := range oid {
		switch {
		case c == '.':
			if in {
				out = append(out, n)
			}
			n, in = 0, false
		default:
			n, in = n*10+int(c-'0'), true
		}
	}
	if in {
		out = append(out, n)
	}
	return out
}

// Sort puts the table in OID order.
func (tb Table) Sort() Table {
	slices.SortFunc(tb, func(x, y gosnmp.SnmpPDU) int { return slices.Compare(arcs(x.Name), arcs(y.Name)) })
	return tb
}
