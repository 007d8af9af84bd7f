package snmpagent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// Object is one object instance an agent serves.
type Object struct {
	// OID is the instance, dotted with a leading dot: ".1.3.6.1.2.1.1.5.0".
	OID string
	// Type is the value's SMI type; Value returns the current value in the
	// Go type gosnmp encodes it from (int, uint32, uint64, []byte, string).
	Type  gosnmp.Asn1BER
	Value func() any
	// IndexLen is how many trailing sub-identifiers are the instance
	// (default 1: the ".0" of a scalar, the index of a one-index table).
	// The rest names the object type, which tells noSuchInstance from
	// noSuchObject and noCreation from notWritable.
	IndexLen int
	// Present hides the instance while it returns false (rows that come
	// and go, such as learned MAC addresses); nil means always there.
	Present func() bool
	// Check validates a SET value (nil: the object is read-only); Apply
	// performs it once every varbind of the request passed Check.
	Check func(v gosnmp.SnmpPDU) gosnmp.SNMPError
	Apply func(v gosnmp.SnmpPDU)
}

// Fixed is a Value that never changes.
func Fixed(v any) func() any { return func() any { return v } }

// IntIn is a Check accepting INTEGER values among allowed: wrongType for
// another type, wrongValue for another number.
func IntIn(allowed ...int) func(gosnmp.SnmpPDU) gosnmp.SNMPError {
	return func(v gosnmp.SnmpPDU) gosnmp.SNMPError {
		if v.Type != gosnmp.Integer {
			return gosnmp.WrongType
		}
		if x, ok := v.Value.(int); !ok || !slices.Contains(allowed, x) {
			return gosnmp.WrongValue
		}
		return gosnmp.NoError
	}
}

type object struct {
	Object
	oid []uint32
}

// visible tells whether the instance exists for a request of this
// version: SNMPv1 cannot carry Counter64, so such objects do not exist
// for it (RFC 3584 section 4.2.2).
func (o *object) visible(v1 bool) bool {
	return (o.Present == nil || o.Present()) && !(v1 && o.Type == gosnmp.Counter64)
}

func (o *object) pdu() gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: o.OID, Type: o.Type, Value: o.Value()}
}

// MIB is the sorted set of objects an agent serves.
type MIB struct {
	objs []object
	// types are the object types (instance OIDs without their index), and
	// whether the type is writable.
	types map[string]bool
}

// NewMIB sorts the objects in OID order; it fails on a malformed or
// repeated OID. Types names further read-only object types the agent
// implements, such as the columns of a table that may be empty: a GET
// there gets noSuchInstance rather than noSuchObject.
func NewMIB(objs []Object, types ...string) (*MIB, error) {
	m := &MIB{objs: make([]object, len(objs)), types: map[string]bool{}}
	for _, t := range types {
		oid, ok := parseOID(t)
		if !ok {
			return nil, fmt.Errorf("snmpagent: bad object type %q", t)
		}
		m.types[formatOID(oid)] = false
	}
	for i, o := range objs {
		oid, ok := parseOID(o.OID)
		if !ok || o.Value == nil || o.Check != nil && o.Apply == nil {
			return nil, fmt.Errorf("snmpagent: bad object %q", o.OID)
		}
		if o.IndexLen == 0 {
			o.IndexLen = 1
		}
		if o.IndexLen >= len(oid) {
			return nil, fmt.Errorf("snmpagent: object %q: index of %d sub-identifiers", o.OID, o.IndexLen)
		}
		m.objs[i] = object{Object: o, oid: oid}
		t := formatOID(oid[:len(oid)-o.IndexLen])
		m.types[t] = m.types[t] || o.Check != nil
	}
	slices.SortFunc(m.objs, func(a, b object) int { return slices.Compare(a.oid, b.oid) })
	for i := 1; i < len(m.objs); i++ {
		if slices.Equal(m.objs[i-1].oid, m.objs[i].oid) {
			return nil, fmt.Errorf("snmpagent: object %s twice", m.objs[i].OID)
		}
	}
	return m, nil
}

// Len is the number of objects, present or not.
func (m *MIB) Len() int { return len(m.objs) }

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

func formatOID(oid []uint32) string {
	var b strings.Builder
	for _, x := range oid {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	}
	return b.String()
}

// search returns the index of the first object at or after oid, and
// whether it is oid itself.
func (m *MIB) search(oid []uint32) (int, bool) {
	return slices.BinarySearchFunc(m.objs, oid, func(o object, x []uint32) int { return slices.Compare(o.oid, x) })
}

// get returns the instance named oid, if it exists for this version.
func (m *MIB) get(oid []uint32, v1 bool) (*object, bool) {
	i, found := m.search(oid)
	if !found || !m.objs[i].visible(v1) {
		return nil, false
	}
	return &m.objs[i], true
}

// next returns the first instance after oid that exists for this version.
func (m *MIB) next(oid []uint32, v1 bool) (*object, bool) {
	i, found := m.search(oid)
	if found {
		i++
	}
	for ; i < len(m.objs); i++ {
		if m.objs[i].visible(v1) {
			return &m.objs[i], true
		}
	}
	return nil, false
}

// objectType finds the object type oid is an instance of: whether there
// is one, and whether it is writable.
func (m *MIB) objectType(oid []uint32) (known, writable bool) {
	var b strings.Builder
	for _, x := range oid {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(x), 10))
		if w, ok := m.types[b.String()]; ok {
			return true, w
		}
	}
	return false, false
}

// missing is the v2c exception for a GET of an instance that does not
// exist: noSuchInstance when its object type exists, else noSuchObject.
func (m *MIB) missing(oid []uint32) gosnmp.Asn1BER {
	if known, _ := m.objectType(oid); known {
		return gosnmp.NoSuchInstance
	}
	return gosnmp.NoSuchObject
}

// settable finds the object a SET varbind writes, or the error status
// the RFC 3416 (4.2.5) order gives: notWritable unless the object type
// is writable, then wrongType/wrongValue from Check, noCreation for an
// instance of a writable type that does not exist.
func (m *MIB) settable(v gosnmp.SnmpPDU) (*object, gosnmp.SNMPError) {
	oid, ok := parseOID(v.Name)
	if !ok {
		return nil, gosnmp.NotWritable
	}
	o, found := m.get(oid, false)
	if !found {
		if _, writable := m.objectType(oid); writable {
			return nil, gosnmp.NoCreation
		}
		return nil, gosnmp.NotWritable
	}
	if o.Check == nil {
		return nil, gosnmp.NotWritable
	}
	if st := o.Check(v); st != gosnmp.NoError {
		return nil, st
	}
	return o, gosnmp.NoError
}
