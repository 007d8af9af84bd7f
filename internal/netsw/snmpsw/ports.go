package snmpsw

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// Ports walks ifTable and, when the agent has it, ifXTable. Rows are the
// ifTable's, in ifIndex order; a value of an unexpected type is left
// empty rather than failing the whole list.
func (s *Switch) Ports(ctx context.Context) ([]netsw.Port, error) {
	var ports []netsw.Port
	err := s.run(ctx, "walk ports", func(sess *snmpc.Session) error {
		descr, err := sess.BulkWalk(oidIfDescr)
		if err != nil {
			return err
		}
		if len(descr) == 0 {
			return snmpc.Permanent(nil, "the agent lists no interfaces under ifDescr %s (a view without IF-MIB?)", oidIfDescr)
		}
		byIndex := make(map[int]*netsw.Port, len(descr))
		order := make([]int, 0, len(descr))
		for _, v := range descr {
			i, ok := rowIndex(v.Name, oidIfDescr)
			if !ok {
				continue
			}
			text, _ := snmpc.String(v)
			byIndex[i] = &netsw.Port{Index: i, Descr: text, Admin: netsw.Unknown, Oper: netsw.Unknown}
			order = append(order, i)
		}
		columns := []struct {
			oid string
			set func(p *netsw.Port, v gosnmp.SnmpPDU)
		}{
			{oidIfType, func(p *netsw.Port, v gosnmp.SnmpPDU) { p.Type, _ = snmpc.Int(v) }},
			{oidIfSpeed, func(p *netsw.Port, v gosnmp.SnmpPDU) {
				if bps, err := snmpc.Uint64(v); err == nil {
					p.SpeedMbps = int64(bps / 1_000_000)
				}
			}},
			{oidIfAdminStatus, func(p *netsw.Port, v gosnmp.SnmpPDU) { p.Admin = statusOf(v) }},
			{oidIfOperStatus, func(p *netsw.Port, v gosnmp.SnmpPDU) { p.Oper = statusOf(v) }},
			{oidIfName, func(p *netsw.Port, v gosnmp.SnmpPDU) { p.Name, _ = snmpc.String(v) }},
			// After ifSpeed, which tops out at 4294 Mbit/s: ifHighSpeed wins.
			{oidIfHighSpeed, func(p *netsw.Port, v gosnmp.SnmpPDU) {
				if mbps, err := snmpc.Uint64(v); err == nil {
					p.SpeedMbps = int64(mbps)
				}
			}},
			{oidIfAlias, func(p *netsw.Port, v gosnmp.SnmpPDU) { p.Alias, _ = snmpc.String(v) }},
		}
		for _, c := range columns {
			vars, err := sess.BulkWalk(c.oid)
			if err != nil {
				return err
			}
			for _, v := range vars {
				if i, ok := rowIndex(v.Name, c.oid); ok && byIndex[i] != nil {
					c.set(byIndex[i], v)
				}
			}
		}
		slices.Sort(order)
		ports = make([]netsw.Port, 0, len(order))
		for _, i := range order {
			p := byIndex[i]
			if p.Name == "" {
				p.Name = p.Descr // no ifXTable
			}
			ports = append(ports, *p)
		}
		return nil
	})
	return ports, err
}

// rowIndex is the ifIndex of a column instance: the one arc after column.
func rowIndex(name, column string) (int, bool) {
	idx, ok := snmpc.Suffix(name, column)
	if !ok || len(idx) != 1 || idx[0] == 0 || idx[0] > 1<<31-1 {
		return 0, false
	}
	return int(idx[0]), true
}

func statusOf(v gosnmp.SnmpPDU) string {
	n, err := snmpc.Int(v)
	if err != nil {
		return netsw.Unknown
	}
	return status(n)
}

// Status reads ifAdminStatus and ifOperStatus of the given ports in
// batched GETs. A port the agent does not have is left out of the map.
func (s *Switch) Status(ctx context.Context, indexes []int) (map[int]netsw.Status, error) {
	const op = "read status"
	indexes, err := checkIndexes(indexes)
	if err != nil {
		return nil, s.fail(op, err)
	}
	out := make(map[int]netsw.Status, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	err = s.run(ctx, op, func(sess *snmpc.Session) error {
		oids := make([]string, 0, 2*len(indexes))
		for _, i := range indexes {
			oids = append(oids, oid(oidIfAdminStatus, i), oid(oidIfOperStatus, i))
		}
		vals, err := s.getter(sess).get(oids)
		if err != nil {
			return err
		}
		for _, i := range indexes {
			admin, okA := vals[oid(oidIfAdminStatus, i)]
			oper, okO := vals[oid(oidIfOperStatus, i)]
			if !okA && !okO {
				continue
			}
			st := netsw.Status{Admin: netsw.Unknown, Oper: netsw.Unknown}
			if okA {
				st.Admin = statusOf(admin)
			}
			if okO {
				st.Oper = statusOf(oper)
			}
			out[i] = st
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetAdmin sets ifAdminStatus of one port to up(1) or down(2) and reads
// it back until it shows the value or the confirm wait has passed. It
// sends the SET even when the port already has the value: the read-back
// is what proves the write access, and a retried suspend must not pass
// on a switch it cannot write to.
func (s *Switch) SetAdmin(ctx context.Context, index int, up bool) error {
	want, word := 2, "down"
	if up {
		want, word = 1, "up"
	}
	op := fmt.Sprintf("set port %d %s", index, word)
	if index <= 0 {
		return s.fail(op, snmpc.Permanent(nil, "invalid ifIndex %d (ifIndexes start at 1)", index))
	}
	target := oid(oidIfAdminStatus, index)
	return s.run(ctx, op, func(sess *snmpc.Session) error {
		if err := sess.Set(target, want); err != nil {
			return refused(err, index, want)
		}
		s.log.DebugContext(ctx, "switch port set", "switch", s.access.Target(), "if_index", index, "admin", word)
		deadline := time.Now().Add(s.confirmWait)
		for {
			vars, err := sess.Get(target)
			if err != nil {
				return err
			}
			if snmpc.IsException(vars[0]) {
				return snmpc.Permanent(nil, "the switch has no port with ifIndex %d (ifAdminStatus.%d: %s)",
					index, index, vars[0].Type)
			}
			got, err := snmpc.Int(vars[0])
			if err != nil {
				return err
			}
			if got == want {
				return nil
			}
			if !time.Now().Before(deadline) {
				return snmpc.Permanent(nil, "the switch accepted the SET but ifAdminStatus.%d still reads %s(%d), not %s(%d), after %s",
					index, status(got), got, word, want, s.confirmWait)
			}
			if err := sleep(ctx, min(s.pollInterval, time.Until(deadline))); err != nil {
				return err
			}
		}
	})
}

// refused explains the agent's refusal of an ifAdminStatus SET.
func refused(err error, index, value int) error {
	e := snmpc.AsError(err)
	var why string
	switch e.Status {
	case gosnmp.NoError:
		return e // not a refusal: a timeout, an exception value, ...
	case gosnmp.NotWritable, gosnmp.NoAccess, gosnmp.ReadOnly, gosnmp.AuthorizationError:
		why = "switch refused the write: read-only community or view"
	case gosnmp.NoSuchName, gosnmp.NoCreation, gosnmp.InconsistentName:
		why = fmt.Sprintf("switch refused the write: no port with ifIndex %d", index)
	case gosnmp.WrongValue, gosnmp.BadValue, gosnmp.InconsistentValue, gosnmp.WrongType:
		why = fmt.Sprintf("switch refused the value %d for ifAdminStatus.%d", value, index)
	default:
		return e
	}
	return &snmpc.Error{Transient: e.Transient, Msg: why + " (" + e.Msg + ")", Status: e.Status, Index: e.Index, Err: e}
}

// Counters reads sysUpTime and the ports' ifHCInOctets and ifHCOutOctets
// (Counter64, so not on SNMPv1). Ports without them are left out; an
// agent without sysUpTime reads as uptime 0.
func (s *Switch) Counters(ctx context.Context, indexes []int) (netsw.Counters, error) {
	const op = "read counters"
	c := netsw.Counters{In: map[int]uint64{}, Out: map[int]uint64{}}
	indexes, err := checkIndexes(indexes)
	if err != nil {
		return netsw.Counters{}, s.fail(op, err)
	}
	err = s.run(ctx, op, func(sess *snmpc.Session) error {
		oids := []string{oidSysUpTime}
		for _, i := range indexes {
			oids = append(oids, oid(oidIfHCInOctets, i), oid(oidIfHCOutOctets, i))
		}
		vals, err := s.getter(sess).get(oids)
		if err != nil {
			return err
		}
		if v, ok := vals[oidSysUpTime]; ok {
			ticks, err := snmpc.Uint64(v)
			if err != nil {
				return err
			}
			c.Uptime = time.Duration(ticks) * 10 * time.Millisecond
		}
		for _, i := range indexes {
			in, okIn := vals[oid(oidIfHCInOctets, i)]
			out, okOut := vals[oid(oidIfHCOutOctets, i)]
			if !okIn || !okOut {
				continue
			}
			nIn, err := snmpc.Uint64(in)
			if err != nil {
				return err
			}
			nOut, err := snmpc.Uint64(out)
			if err != nil {
				return err
			}
			c.In[i], c.Out[i] = nIn, nOut
		}
		return nil
	})
	if err != nil {
		return netsw.Counters{}, err
	}
	return c, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return snmpc.AsError(ctx.Err())
	case <-t.C:
		return nil
	}
}
