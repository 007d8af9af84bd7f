package pdusim

import (
	"fmt"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/snmpagent"
)

// objects are the MIB the PDU serves. Their functions run with p.mu held
// (the agent's Locker).
func (p *PDU) objects() []snmpagent.Object {
	var objs []snmpagent.Object
	str := func(oid, v string) {
		objs = append(objs, snmpagent.Object{OID: oid, Type: gosnmp.OctetString, Value: snmpagent.Fixed([]byte(v))})
	}
	str(".1.3.6.1.2.1.1.1.0", "APC Web/SNMP Management Card (MB:v3.9.2 PF:v3.9.2 PN:apc_hw02_aos_392.bin "+
		"AF1:v3.9.2 AN1:apc_hw02_rpdu_392.bin MN:AP7921 HR:B2 SN: ZA0000000000 MD:01/01/2020) (dcimd lab simulator)")
	objs = append(objs,
		snmpagent.Object{OID: ".1.3.6.1.2.1.1.2.0", Type: gosnmp.ObjectIdentifier, Value: snmpagent.Fixed(".1.3.6.1.4.1.318.1.3.4.5")},
		snmpagent.Object{OID: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: func() any {
			return uint32(time.Since(p.start) / (10 * time.Millisecond))
		}})
	str(".1.3.6.1.2.1.1.5.0", p.opts.Name)

	for n := 1; n <= p.opts.Outlets; n++ {
		name := fmt.Sprintf("Outlet %d", n)
		if n <= len(p.opts.OutletNames) && p.opts.OutletNames[n-1] != "" {
			name = p.opts.OutletNames[n-1]
		}
		state := func() any {
			if p.on[n-1] {
				return StateOn
			}
			return StateOff
		}
		for _, table := range []string{".1.3.6.1.4.1.318.1.1.12.3.3.1.1", ".1.3.6.1.4.1.318.1.1.12.3.5.1.1"} {
			objs = append(objs, snmpagent.Object{OID: fmt.Sprintf("%s.1.%d", table, n), Type: gosnmp.Integer, Value: snmpagent.Fixed(n)})
			str(fmt.Sprintf("%s.2.%d", table, n), name)
		}
		objs = append(objs,
			snmpagent.Object{OID: fmt.Sprintf("%s.%d", StatusStateOID, n), Type: gosnmp.Integer, Value: state},
			snmpagent.Object{OID: fmt.Sprintf("%s.%d", ControlCommandOID, n), Type: gosnmp.Integer, Value: state,
				Check: snmpagent.IntIn(CmdOn, CmdOff, CmdReboot),
				Apply: func(v gosnmp.SnmpPDU) { p.command(n, v.Value.(int)) }})
	}
	return objs
}
