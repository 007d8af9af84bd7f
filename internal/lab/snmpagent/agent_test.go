package snmpagent_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/snmpagent"
)

func TestNewMIBRejects(t *testing.T) {
	t.Parallel()
	v := snmpagent.Fixed(1)
	for name, objs := range map[string][]snmpagent.Object{
		"malformed OID":  {{OID: ".1.3.x", Type: gosnmp.Integer, Value: v}},
		"repeated OID":   {{OID: ".1.3.1.0", Type: gosnmp.Integer, Value: v}, {OID: "1.3.1.0", Type: gosnmp.Integer, Value: v}},
		"no value":       {{OID: ".1.3.1.0", Type: gosnmp.Integer}},
		"check no apply": {{OID: ".1.3.1.0", Type: gosnmp.Integer, Value: v, Check: snmpagent.IntIn(1)}},
		"index too long": {{OID: ".1.3.1.0", Type: gosnmp.Integer, Value: v, IndexLen: 4}},
	} {
		if _, err := snmpagent.NewMIB(objs); err == nil {
			t.Errorf("%s: NewMIB succeeded", name)
		}
	}
}

// TestAgent: hidden rows, the SET error order of RFC 3416, atomic SETs
// and the counters.
func TestAgent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	row, cell := true, 0
	mib, err := snmpagent.NewMIB([]snmpagent.Object{
		{OID: ".1.3.9.1.1.5", Type: gosnmp.Integer, Value: func() any { return cell },
			Check: snmpagent.IntIn(1, 2), Apply: func(v gosnmp.SnmpPDU) { cell = v.Value.(int) }},
		{OID: ".1.3.9.1.2.5", Type: gosnmp.Integer, Value: snmpagent.Fixed(7), Present: func() bool { return row }},
		{OID: ".1.3.9.1.3.5", Type: gosnmp.Counter64, Value: snmpagent.Fixed(uint64(1) << 40)},
	}, ".1.3.9.1.4")
	if err != nil {
		t.Fatal(err)
	}
	a, err := snmpagent.Start(context.Background(), snmpagent.Config{MIB: mib, Locker: &mu,
		Communities: map[string]snmpagent.Access{"rw": snmpagent.ReadWrite}, Denied: gosnmp.AuthorizationError})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	g := &gosnmp.GoSNMP{Target: a.Host(), Port: uint16(a.Port()), Version: gosnmp.Version2c, Community: "rw", Timeout: time.Second}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()

	pkt, err := g.Get([]string{".1.3.9.1.2.5", ".1.3.9.1.4.1", ".1.3.9.1.2.6.1"})
	if err != nil || pkt.Variables[0].Value != 7 || pkt.Variables[1].Type != gosnmp.NoSuchInstance || pkt.Variables[2].Type != gosnmp.NoSuchInstance {
		t.Fatalf("GET: %+v %v", pkt, err)
	}
	mu.Lock()
	row = false
	mu.Unlock()
	pkt, err = g.GetNext([]string{".1.3.9.1.1.5"})
	if err != nil || pkt.Variables[0].Name != ".1.3.9.1.3.5" {
		t.Fatalf("GETNEXT over a hidden row: %+v %v", pkt, err)
	}
	set := func(pdus ...gosnmp.SnmpPDU) (gosnmp.SNMPError, uint8) {
		t.Helper()
		pkt, err := g.Set(pdus)
		if err != nil {
			t.Fatal(err)
		}
		return pkt.Error, pkt.ErrorIndex
	}
	ok := gosnmp.SnmpPDU{Name: ".1.3.9.1.1.5", Type: gosnmp.Integer, Value: 2}
	for _, tc := range []struct {
		name string
		pdu  gosnmp.SnmpPDU
		want gosnmp.SNMPError
	}{
		{"read-only object", gosnmp.SnmpPDU{Name: ".1.3.9.1.3.5", Type: gosnmp.Integer, Value: 1}, gosnmp.NotWritable},
		{"declared read-only type", gosnmp.SnmpPDU{Name: ".1.3.9.1.4.5", Type: gosnmp.Integer, Value: 1}, gosnmp.NotWritable},
		{"new row of a writable column", gosnmp.SnmpPDU{Name: ".1.3.9.1.1.6", Type: gosnmp.Integer, Value: 1}, gosnmp.NoCreation},
		{"wrong type before wrong value", gosnmp.SnmpPDU{Name: ".1.3.9.1.1.5", Type: gosnmp.OctetString, Value: "9"}, gosnmp.WrongType},
	} {
		if st, idx := set(ok, tc.pdu); st != tc.want || idx != 2 {
			t.Errorf("%s: %v at %d, want %v at 2", tc.name, st, idx, tc.want)
		}
	}
	mu.Lock()
	if cell != 0 {
		t.Fatalf("a refused SET applied its valid varbind: %d", cell)
	}
	mu.Unlock()
	if st, _ := set(ok); st != gosnmp.NoError {
		t.Fatalf("SET: %v", st)
	}
	if st := a.Stats(); st.Requests != 7 || st.Get != 1 || st.GetNext != 1 || st.Set != 5 || st.Refused != 4 {
		t.Fatalf("stats %+v", st)
	}
}
