package pdusim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// maxBulk bounds the varbinds of one GETBULK answer (it must fit a datagram).
const maxBulk = 200

// entry is one object instance the agent serves.
type entry struct {
	oid  []uint32
	name string // dotted, with a leading dot
	get  func() gosnmp.SnmpPDU
	// check validates a SET value (nil: not writable); apply performs it.
	check func(v gosnmp.SnmpPDU) gosnmp.SNMPError
	apply func(v gosnmp.SnmpPDU)
}

func parseOID(s string) ([]uint32, bool) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	oid := make([]uint32, len(parts))
	for i, x := range parts {
		n, err := strconv.ParseUint(x, 10, 32)
		if err != nil {
			return nil, false
		}
		oid[i] = uint32(n)
	}
	return oid, true
}

func (p *PDU) buildMIB() []entry {
	var mib []entry
	add := func(oid string, get func() gosnmp.SnmpPDU) *entry {
		o, _ := parseOID(oid)
		mib = append(mib, entry{oid: o, name: oid, get: get})
		return &mib[len(mib)-1]
	}
	str := func(oid, v string) {
		add(oid, func() gosnmp.SnmpPDU { return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.OctetString, Value: []byte(v)} })
	}
	integer := func(oid string, v func() int) *entry {
		return add(oid, func() gosnmp.SnmpPDU { return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Integer, Value: v()} })
	}
	str(".1.3.6.1.2.1.1.1.0", "APC Web/SNMP Management Card (MB:v3.9.2 PF:v3.9.2 PN:apc_hw02_aos_392.bin "+
		"AF1:v3.9.2 AN1:apc_hw02_rpdu_392.bin MN:AP7921 HR:B2 SN: ZA0000000000 MD:01/01/2020) (dcimd lab simulator)")
	add(".1.3.6.1.2.1.1.2.0", func() gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.2.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.318.1.3.4.5"}
	})
	add(".1.3.6.1.2.1.1.3.0", func() gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(time.Since(p.start) / (10 * time.Millisecond))}
	})
	str(".1.3.6.1.2.1.1.5.0", p.opts.Name)

	state := func(n int) func() int {
		return func() int {
			if p.on[n-1] {
				return StateOn
			}
			return StateOff
		}
	}
	for n := 1; n <= p.opts.Outlets; n++ {
		name := fmt.Sprintf("Outlet %d", n)
		if n <= len(p.opts.OutletNames) && p.opts.OutletNames[n-1] != "" {
			name = p.opts.OutletNames[n-1]
		}
		idx := func() int { return n }
		for _, table := range []string{".1.3.6.1.4.1.318.1.1.12.3.3.1.1", ".1.3.6.1.4.1.318.1.1.12.3.5.1.1"} {
			integer(fmt.Sprintf("%s.1.%d", table, n), idx)
			str(fmt.Sprintf("%s.2.%d", table, n), name)
		}
		integer(fmt.Sprintf("%s.%d", StatusStateOID, n), state(n))
		ctl := integer(fmt.Sprintf("%s.%d", ControlCommandOID, n), state(n))
		ctl.check = func(v gosnmp.SnmpPDU) gosnmp.SNMPError {
			if v.Type != gosnmp.Integer {
				return gosnmp.WrongType
			}
			if x, ok := v.Value.(int); !ok || x < CmdOn || x > CmdReboot {
				return gosnmp.WrongValue
			}
			return gosnmp.NoError
		}
		ctl.apply = func(v gosnmp.SnmpPDU) { p.command(n, v.Value.(int)) }
	}
	slices.SortFunc(mib, func(a, b entry) int { return slices.Compare(a.oid, b.oid) })
	return mib
}

// find returns the index of the first entry at or after oid, and whether
// it is oid itself.
func (p *PDU) find(oid []uint32) (int, bool) {
	return slices.BinarySearchFunc(p.mib, oid, func(e entry, o []uint32) int { return slices.Compare(e.oid, o) })
}

// next returns the entry after oid, if any.
func (p *PDU) next(oid []uint32) (*entry, bool) {
	i, found := p.find(oid)
	if found {
		i++
	}
	if i >= len(p.mib) {
		return nil, false
	}
	return &p.mib[i], true
}

// missing tells noSuchInstance (the object exists, not this instance)
// from noSuchObject.
func (p *PDU) missing(oid []uint32) gosnmp.Asn1BER {
	if len(oid) > 1 {
		parent := oid[:len(oid)-1]
		i, _ := p.find(parent)
		if i < len(p.mib) && len(p.mib[i].oid) == len(oid) && slices.Equal(p.mib[i].oid[:len(parent)], parent) {
			return gosnmp.NoSuchInstance
		}
	}
	return gosnmp.NoSuchObject
}

// handle answers one request; nil means no answer.
func (p *PDU) handle(req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
	v1 := req.Version == gosnmp.Version1
	fail := func(status gosnmp.SNMPError, i int) *gosnmp.SnmpPacket {
		resp.Error, resp.ErrorIndex, resp.Variables = status, uint8(min(i+1, 255)), req.Variables
		return resp
	}
	switch req.PDUType {
	case gosnmp.GetRequest:
		for i, v := range req.Variables {
			oid, ok := parseOID(v.Name)
			if ok {
				if j, found := p.find(oid); found {
					resp.Variables = append(resp.Variables, p.mib[j].get())
					continue
				}
			}
			if v1 {
				return fail(gosnmp.NoSuchName, i)
			}
			resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: v.Name, Type: p.missing(oid)})
		}
	case gosnmp.GetNextRequest:
		for i, v := range req.Variables {
			oid, _ := parseOID(v.Name)
			e, ok := p.next(oid)
			if !ok {
				if v1 {
					return fail(gosnmp.NoSuchName, i)
				}
				resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.EndOfMibView})
				continue
			}
			resp.Variables = append(resp.Variables, e.get())
		}
	case gosnmp.GetBulkRequest:
		resp.Variables = p.bulk(req)
	case gosnmp.SetRequest:
		entries := make([]*entry, len(req.Variables))
		for i, v := range req.Variables {
			status := gosnmp.NoError
			oid, ok := parseOID(v.Name)
			j, found := p.find(oid)
			switch {
			case !ok || !found:
				status = gosnmp.NoCreation
			case p.mib[j].check == nil:
				status = gosnmp.NotWritable
			default:
				status = p.mib[j].check(v)
				entries[i] = &p.mib[j]
			}
			if status != gosnmp.NoError {
				p.refused.Add(1)
				if v1 { // SNMPv1 knows only these
					status = map[gosnmp.SNMPError]gosnmp.SNMPError{gosnmp.WrongType: gosnmp.BadValue,
						gosnmp.WrongValue: gosnmp.BadValue}[status]
					if status == gosnmp.NoError {
						status = gosnmp.NoSuchName
					}
				}
				return fail(status, i)
			}
		}
		for i, v := range req.Variables { // all valid: apply together
			entries[i].apply(v)
		}
		resp.Variables = req.Variables
	default:
		return nil
	}
	return resp
}

// bulk answers a GETBULK: one GETNEXT for each of the first non-repeaters
// varbinds, then up to max-repetitions rows of the others.
func (p *PDU) bulk(req *gosnmp.SnmpPacket) []gosnmp.SnmpPDU {
	nonRep := min(int(req.NonRepeaters), len(req.Variables))
	var out []gosnmp.SnmpPDU
	step := func(name string) (gosnmp.SnmpPDU, bool) {
		oid, _ := parseOID(name)
		if e, ok := p.next(oid); ok {
			return e.get(), true
		}
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.EndOfMibView}, false
	}
	for _, v := range req.Variables[:nonRep] {
		pdu, _ := step(v.Name)
		out = append(out, pdu)
	}
	cursor := make([]string, 0, len(req.Variables)-nonRep)
	for _, v := range req.Variables[nonRep:] {
		cursor = append(cursor, v.Name)
	}
	for r := 0; r < int(req.MaxRepetitions) && len(cursor) > 0; r++ {
		more := false
		for i, name := range cursor {
			if len(out) >= maxBulk {
				return out
			}
			pdu, ok := step(name)
			out = append(out, pdu)
			cursor[i] = pdu.Name
			more = more || ok
		}
		if !more {
			break // every column is at the end of the MIB
		}
	}
	return out
}
