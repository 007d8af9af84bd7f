package switchsim

import (
	"fmt"
	"math"
	"net"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/lab/snmpagent"
)

// Further objects, without the instance.
const (
	ifMtuOID           = IfTableOID + ".4"
	ifLastChangeOID    = IfTableOID + ".9"
	ifInOctetsOID      = IfTableOID + ".10"
	ifOutOctetsOID     = IfTableOID + ".16"
	dot1dBaseOID       = ".1.3.6.1.2.1.17.1"
	dot1dBasePortOID   = ".1.3.6.1.2.1.17.1.4.1.1"
	dot1dTpFdbAddrOID  = ".1.3.6.1.2.1.17.4.3.1.1"
	dot1dTpFdbStatOID  = ".1.3.6.1.2.1.17.4.3.1.3"
	dot1qTpFdbStatOID  = ".1.3.6.1.2.1.17.7.1.2.2.1.3"
	fdbLearned         = 3 // dot1dTpFdbStatus learned(3)
	ifTypeEthernetCsma = 6
)

// fdbColumns are the forwarding table columns, known to the agent even
// when no port has learned a MAC address.
var fdbColumns = []string{dot1dTpFdbAddrOID, Dot1dTpFdbPortOID, dot1dTpFdbStatOID, Dot1qTpFdbPortOID, dot1qTpFdbStatOID}

func ticks(d time.Duration) uint32 { return uint32(d / (10 * time.Millisecond)) }

// macIndex is a MAC address as six OID sub-identifiers.
func macIndex(m net.HardwareAddr) string {
	s := ""
	for _, b := range m {
		s += fmt.Sprintf(".%d", b)
	}
	return s
}

// objects are the MIB the switch serves. Their functions run with s.mu
// held (the agent's Locker).
func (s *Switch) objects() []snmpagent.Object {
	var objs []snmpagent.Object
	add := func(oid string, typ gosnmp.Asn1BER, v func() any) {
		objs = append(objs, snmpagent.Object{OID: oid, Type: typ, Value: v})
	}
	str := func(oid, v string) { add(oid, gosnmp.OctetString, snmpagent.Fixed([]byte(v))) }
	integer := func(oid string, v int) { add(oid, gosnmp.Integer, snmpagent.Fixed(v)) }

	str(SysDescrOID, fmt.Sprintf("dcimd lab simulated switch, %d ports (SNMP v1/v2c)", len(s.ports)))
	add(SysUpTimeOID, gosnmp.TimeTicks, func() any { return ticks(s.opts.Clock().Sub(s.start)) })
	str(SysNameOID, s.opts.Name)
	integer(IfNumberOID, len(s.ports))
	add(dot1dBaseOID+".1.0", gosnmp.OctetString, snmpagent.Fixed([]byte(s.base)))
	integer(dot1dBaseOID+".2.0", len(s.ports))

	for n := 1; n <= len(s.ports); n++ {
		p := &s.ports[n-1]
		i := fmt.Sprintf(".%d", s.IfIndex(n))
		status := func(up func() bool) func() any {
			return func() any {
				if up() {
					return StatusUp
				}
				return StatusDown
			}
		}
		in := func() any { v, _ := p.octets(s.opts.Clock()); return v }
		out := func() any { _, v := p.octets(s.opts.Clock()); return v }
		integer(IfIndexOID+i, s.IfIndex(n))
		str(IfDescrOID+i, p.cfg.Descr)
		integer(IfTypeOID+i, ifTypeEthernetCsma)
		integer(ifMtuOID+i, 1500)
		add(IfSpeedOID+i, gosnmp.Gauge32, snmpagent.Fixed(uint32(min(p.cfg.SpeedMbps*1_000_000, math.MaxUint32))))
		add(IfPhysAddressOID+i, gosnmp.OctetString, snmpagent.Fixed(s.portMAC(n)))
		objs = append(objs, snmpagent.Object{OID: IfAdminStatusOID + i, Type: gosnmp.Integer, Value: status(func() bool { return p.admin }),
			Check: snmpagent.IntIn(StatusUp, StatusDown), Apply: func(v gosnmp.SnmpPDU) { s.setAdmin(n, v.Value.(int) == StatusUp) }})
		add(IfOperStatusOID+i, gosnmp.Integer, status(p.oper))
		add(ifLastChangeOID+i, gosnmp.TimeTicks, func() any { return ticks(p.lastChange) })
		add(ifInOctetsOID+i, gosnmp.Counter32, func() any { return uint32(in().(uint64)) })
		add(ifOutOctetsOID+i, gosnmp.Counter32, func() any { return uint32(out().(uint64)) })
		str(IfNameOID+i, p.cfg.Name)
		add(IfHCInOctetsOID+i, gosnmp.Counter64, in)
		add(IfHCOutOctetsOID+i, gosnmp.Counter64, out)
		add(IfHighSpeedOID+i, gosnmp.Gauge32, snmpagent.Fixed(uint32(min(p.cfg.SpeedMbps, math.MaxUint32))))
		str(IfAliasOID+i, p.cfg.Alias)

		b := fmt.Sprintf(".%d", n)
		integer(dot1dBasePortOID+b, n)
		integer(Dot1dBasePortIfIndexOID+b, s.IfIndex(n))
		for _, mac := range p.cfg.MACs {
			m, q := macIndex(mac), fmt.Sprintf(".%d%s", s.opts.VLAN, macIndex(mac))
			for _, o := range []snmpagent.Object{
				{OID: dot1dTpFdbAddrOID + m, Type: gosnmp.OctetString, Value: snmpagent.Fixed([]byte(mac)), IndexLen: 6},
				{OID: Dot1dTpFdbPortOID + m, Type: gosnmp.Integer, Value: snmpagent.Fixed(n), IndexLen: 6},
				{OID: dot1dTpFdbStatOID + m, Type: gosnmp.Integer, Value: snmpagent.Fixed(fdbLearned), IndexLen: 6},
				{OID: Dot1qTpFdbPortOID + q, Type: gosnmp.Integer, Value: snmpagent.Fixed(n), IndexLen: 7},
				{OID: dot1qTpFdbStatOID + q, Type: gosnmp.Integer, Value: snmpagent.Fixed(fdbLearned), IndexLen: 7},
			} {
				o.Present = p.oper // flushed while the port is down
				objs = append(objs, o)
			}
		}
	}
	return objs
}
