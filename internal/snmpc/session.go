package snmpc

import (
	"context"
	"math/big"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// Session is one gosnmp connection (one UDP socket), for one driver call.
// It is bound to the context given to Open and is not safe for concurrent
// use. Every error it returns is an *Error.
type Session struct {
	g      *gosnmp.GoSNMP
	access Access
	ctx    context.Context
	stop   func() bool
}

// Open validates a and connects a new UDP socket. Closing the socket when
// ctx ends makes a pending read return at once.
func Open(ctx context.Context, a Access) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, contextError(err)
	}
	g, err := a.config()
	if err != nil {
		return nil, Permanent(err, "invalid configuration: %v", err)
	}
	g.Context = ctx
	if err := g.Connect(); err != nil {
		return nil, classify(ctx, a, err)
	}
	conn := g.Conn
	return &Session{g: g, access: a, ctx: ctx, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}, nil
}

// Close releases the socket.
func (s *Session) Close() {
	s.stop()
	_ = s.g.Close()
}

// Version is the session's SNMP version.
func (s *Session) Version() gosnmp.SnmpVersion { return s.g.Version }

func (s *Session) fail(err error) *Error { return classify(s.ctx, s.access, err) }

// Get reads the given objects in one request. An error-status in the
// answer fails the call (Error.Status says which, tooBig included);
// exception values (noSuchObject, noSuchInstance) come back as varbinds
// for the caller to judge with CheckValue or IsException, in the order
// asked.
func (s *Session) Get(oids ...string) ([]gosnmp.SnmpPDU, error) {
	pkt, err := s.g.Get(oids)
	if err != nil {
		return nil, s.fail(err)
	}
	if pkt.Error != gosnmp.NoError {
		oid := strings.Join(oids, ", ")
		if int(pkt.ErrorIndex) >= 1 && int(pkt.ErrorIndex) <= len(oids) {
			oid = oids[pkt.ErrorIndex-1]
		}
		return nil, statusError(pkt.Error, int(pkt.ErrorIndex), "GET", oid)
	}
	if len(pkt.Variables) != len(oids) {
		return nil, Transient(nil, "agent answered the GET of %s with %d values, want %d",
			strings.Join(oids, ", "), len(pkt.Variables), len(oids))
	}
	return pkt.Variables, nil
}

// Set writes one INTEGER object. gosnmp returns no error when the agent
// refuses a SET, so the answer's error-status and value type decide.
func (s *Session) Set(oid string, v int) error {
	pkt, err := s.g.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Integer, Value: v}})
	if err != nil {
		return s.fail(err)
	}
	if pkt.Error != gosnmp.NoError {
		return statusError(pkt.Error, 1, "SET", oid)
	}
	if len(pkt.Variables) != 1 {
		return Transient(nil, "agent answered the SET of %s with %d values, want 1", oid, len(pkt.Variables))
	}
	return CheckValue("SET", pkt.Variables[0])
}

// BulkWalk reads every instance under root: GETBULK on v2c and v3, GETNEXT
// on v1, which has no GETBULK. A subtree the agent does not implement
// gives no values and no error. Unlike gosnmp's own walks, which stop
// quietly at any error-status and return what they have, an agent's
// refusal fails the walk, so a partial table never passes for a whole
// one; tooBig halves the repetitions instead.
func (s *Session) BulkWalk(root string) ([]gosnmp.SnmpPDU, error) {
	root = "." + strings.Trim(root, ".")
	rootArcs, err := parseOID(root)
	if err != nil {
		return nil, Permanent(err, "walk of %s: not a numeric OID", root)
	}
	reps := s.g.MaxRepetitions
	var (
		out  []gosnmp.SnmpPDU
		last = rootArcs
		cur  = root
	)
	for {
		var pkt *gosnmp.SnmpPacket
		if s.g.Version == gosnmp.Version1 {
			pkt, err = s.g.GetNext([]string{cur})
		} else {
			pkt, err = s.g.GetBulk([]string{cur}, 0, reps)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		switch {
		case pkt.Error == gosnmp.NoSuchName && s.g.Version == gosnmp.Version1:
			return out, nil // v1's end of the MIB view
		case pkt.Error == gosnmp.TooBig && reps > 1:
			reps = max(reps/2, 1)
			continue
		case pkt.Error != gosnmp.NoError:
			return nil, statusError(pkt.Error, 0, "walk", root)
		}
		if len(pkt.Variables) == 0 {
			return out, nil
		}
		for _, v := range pkt.Variables {
			if IsException(v) {
				return out, nil
			}
			arcs, err := parseOID(v.Name)
			if err != nil {
				return nil, Transient(err, "walk of %s: the agent answered a malformed OID %q", root, v.Name)
			}
			if !hasPrefix(arcs, rootArcs) {
				return out, nil
			}
			if compareOIDs(arcs, last) <= 0 {
				return nil, Permanent(nil, "walk of %s: the agent answered %s after %s (OIDs not increasing)", root, v.Name, cur)
			}
			out = append(out, v)
			last, cur = arcs, v.Name
		}
	}
}

// Int reads an INTEGER-like value (Integer32, Gauge32, Counter32,
// Unsigned32, TimeTicks) that fits 32 bits.
func Int(v gosnmp.SnmpPDU) (int, error) {
	switch v.Type {
	case gosnmp.Integer, gosnmp.Gauge32, gosnmp.Counter32, gosnmp.Uinteger32, gosnmp.TimeTicks:
		n := gosnmp.ToBigInt(v.Value)
		if !n.IsInt64() || n.Cmp(big.NewInt(int64(^uint32(0)))) > 0 || n.Cmp(big.NewInt(-1<<31)) < 0 {
			return 0, Permanent(nil, "%s holds %s, out of range", v.Name, n)
		}
		return int(n.Int64()), nil
	}
	return 0, Permanent(nil, "%s holds %s, want an INTEGER (wrong profile or OID?)", v.Name, TypeName(v.Type))
}

// Uint64 reads an unsigned value: Counter64, or any 32-bit unsigned type.
func Uint64(v gosnmp.SnmpPDU) (uint64, error) {
	switch v.Type {
	case gosnmp.Counter64, gosnmp.Gauge32, gosnmp.Counter32, gosnmp.Uinteger32, gosnmp.TimeTicks:
		n := gosnmp.ToBigInt(v.Value)
		if !n.IsUint64() {
			return 0, Permanent(nil, "%s holds %s, out of range", v.Name, n)
		}
		return n.Uint64(), nil
	}
	return 0, Permanent(nil, "%s holds %s, want a counter", v.Name, TypeName(v.Type))
}

// String reads an OCTET STRING as text.
func String(v gosnmp.SnmpPDU) (string, error) {
	if v.Type != gosnmp.OctetString {
		return "", Permanent(nil, "%s holds %s, want an OCTET STRING", v.Name, TypeName(v.Type))
	}
	b, _ := v.Value.([]byte)
	return string(b), nil
}

// TypeName names a value type for messages: "an OCTET STRING", ...
func TypeName(t gosnmp.Asn1BER) string {
	switch t {
	case gosnmp.Integer:
		return "an INTEGER"
	case gosnmp.OctetString:
		return "an OCTET STRING"
	case gosnmp.ObjectIdentifier:
		return "an OBJECT IDENTIFIER"
	case gosnmp.IPAddress:
		return "an IpAddress"
	case gosnmp.Counter64:
		return "a Counter64"
	case gosnmp.Null:
		return "NULL"
	}
	return "type " + t.String()
}

// Suffix is what follows prefix in oid as numbers, for table indexes:
// Suffix(".1.3.6.1.2.1.2.2.1.2.5", ".1.3.6.1.2.1.2.2.1.2") is [5]. ok is
// false when oid is not under prefix or is not numeric.
func Suffix(oid, prefix string) (idx []uint32, ok bool) {
	rest, found := strings.CutPrefix("."+strings.Trim(oid, "."), "."+strings.Trim(prefix, ".")+".")
	if !found {
		return nil, false
	}
	arcs, err := parseOID(rest)
	if err != nil || len(arcs) == 0 {
		return nil, false
	}
	return arcs, true
}

func parseOID(s string) ([]uint32, error) {
	s = strings.Trim(s, ".")
	if s == "" {
		return nil, strconv.ErrSyntax
	}
	parts := strings.Split(s, ".")
	arcs := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, err
		}
		arcs[i] = uint32(n)
	}
	return arcs, nil
}

func hasPrefix(arcs, prefix []uint32) bool {
	if len(arcs) <= len(prefix) {
		return false
	}
	for i, a := range prefix {
		if arcs[i] != a {
			return false
		}
	}
	return true
}

func compareOIDs(a, b []uint32) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return len(a) - len(b)
}
