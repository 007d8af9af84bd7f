package snmpagent

import (
	"github.com/gosnmp/gosnmp"
)

// maxBulk bounds the varbinds of one GETBULK answer (it must fit a datagram).
const maxBulk = 200

// v1Status maps a v2c SET error to the SNMPv1 one (RFC 3584 section 4.4).
func v1Status(s gosnmp.SNMPError) gosnmp.SNMPError {
	switch s {
	case gosnmp.NoError, gosnmp.TooBig, gosnmp.NoSuchName, gosnmp.BadValue, gosnmp.ReadOnly, gosnmp.GenErr:
		return s
	case gosnmp.WrongValue, gosnmp.WrongEncoding, gosnmp.WrongType, gosnmp.WrongLength, gosnmp.InconsistentValue:
		return gosnmp.BadValue
	case gosnmp.NoAccess, gosnmp.NotWritable, gosnmp.NoCreation, gosnmp.InconsistentName, gosnmp.AuthorizationError:
		return gosnmp.NoSuchName
	default:
		return gosnmp.GenErr
	}
}

// answer builds the response to one request; nil means no answer.
func (a *Agent) answer(req *gosnmp.SnmpPacket, access Access) *gosnmp.SnmpPacket {
	a.cfg.Locker.Lock()
	defer a.cfg.Locker.Unlock()
	m := a.cfg.MIB
	v1 := req.Version == gosnmp.Version1
	resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
	fail := func(status gosnmp.SNMPError, i int) *gosnmp.SnmpPacket {
		if v1 {
			status = v1Status(status)
		}
		resp.Error, resp.ErrorIndex, resp.Variables = status, uint8(min(i+1, 255)), req.Variables
		return resp
	}
	switch req.PDUType {
	case gosnmp.GetRequest:
		a.get.Add(1)
		for i, v := range req.Variables {
			oid, ok := parseOID(v.Name)
			if ok {
				if o, found := m.get(oid, v1); found {
					resp.Variables = append(resp.Variables, o.pdu())
					continue
				}
			}
			if v1 {
				return fail(gosnmp.NoSuchName, i)
			}
			resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: v.Name, Type: m.missing(oid)})
		}
	case gosnmp.GetNextRequest:
		a.getNext.Add(1)
		for i, v := range req.Variables {
			pdu, ok := a.step(v.Name, v1)
			if !ok && v1 {
				return fail(gosnmp.NoSuchName, i)
			}
			resp.Variables = append(resp.Variables, pdu)
		}
	case gosnmp.GetBulkRequest:
		if v1 {
			return nil // not an SNMPv1 PDU
		}
		a.getBulk.Add(1)
		resp.Variables = a.bulk(req)
	case gosnmp.SetRequest:
		a.set.Add(1)
		objs := make([]*object, len(req.Variables))
		for i, v := range req.Variables {
			status := a.cfg.Denied
			if access == ReadWrite {
				objs[i], status = m.settable(v)
			}
			if status != gosnmp.NoError {
				a.refused.Add(1)
				return fail(status, i)
			}
		}
		for i, v := range req.Variables { // all valid: apply together
			objs[i].Apply(v)
		}
		resp.Variables = req.Variables
	default:
		return nil
	}
	return resp
}

// step is one GETNEXT: the next instance after name, or endOfMibView.
func (a *Agent) step(name string, v1 bool) (gosnmp.SnmpPDU, bool) {
	oid, _ := parseOID(name) // unparsable: from the start of the MIB
	if o, ok := a.cfg.MIB.next(oid, v1); ok {
		return o.pdu(), true
	}
	return gosnmp.SnmpPDU{Name: name, Type: gosnmp.EndOfMibView}, false
}

// bulk answers a GETBULK: one GETNEXT for each of the first non-repeaters
// varbinds, then up to max-repetitions rows of the others.
func (a *Agent) bulk(req *gosnmp.SnmpPacket) []gosnmp.SnmpPDU {
	nonRep := min(int(req.NonRepeaters), len(req.Variables))
	var out []gosnmp.SnmpPDU
	for _, v := range req.Variables[:nonRep] {
		pdu, _ := a.step(v.Name, false)
		out = append(out, pdu)
	}
	cursor := make([]string, 0, len(req.Variables)-nonRep)
	for _, v := range req.Variables[nonRep:] {
		cursor = append(cursor, v.Name)
	}
	for r := 0; r < int(req.MaxRepetitions) && len(cursor) > 0; r++ {
		if r > 0 && len(out)+len(cursor) > maxBulk {
			break // whole rows only
		}
		more := false
		for i, name := range cursor {
			pdu, ok := a.step(name, false)
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
