package snmpsw

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// BRIDGE-MIB (RFC 4188) and Q-BRIDGE-MIB (RFC 4363) objects.
const (
	oidBasePortIfIndex = ".1.3.6.1.2.1.17.1.4.1.2"     // .<bridge port> = ifIndex
	oidTpFdbPort       = ".1.3.6.1.2.1.17.4.3.1.2"     // .<mac> = bridge port
	oidTpFdbStatus     = ".1.3.6.1.2.1.17.4.3.1.3"     // .<mac> = status
	oidQTpFdbPort      = ".1.3.6.1.2.1.17.7.1.2.2.1.2" // .<fdb id>.<mac> = bridge port
	oidQTpFdbStatus    = ".1.3.6.1.2.1.17.7.1.2.2.1.3" // .<fdb id>.<mac> = status
	oidQVlanFdbID      = ".1.3.6.1.2.1.17.7.1.4.2.1.3" // .<time mark>.<vlan> = fdb id
)

// dot1dTpFdbStatus and dot1qTpFdbStatus values that are not addresses
// learned on a port: invalid(2) (aged out, about to go) and self(4) (the
// switch's own MAC).
const (
	fdbInvalid = 2
	fdbSelf    = 4
)

// FDB reads the learned MAC addresses from Q-BRIDGE-MIB (with the VLAN)
// and BRIDGE-MIB (VLAN 0), mapping bridge port numbers to ifIndexes
// through dot1dBasePortIfIndex. An agent that implements neither table
// gives an empty list, not an error. Entries with status self or invalid,
// on bridge port 0 (unknown) or on a bridge port without an ifIndex are
// left out. A BRIDGE-MIB entry for a MAC that Q-BRIDGE-MIB already has on
// the same port is a duplicate and is dropped. The Q-BRIDGE fdb id is
// turned into a VLAN through dot1qVlanFdbId when exactly one VLAN uses it,
// else it is reported as the VLAN.
func (s *Switch) FDB(ctx context.Context) ([]netsw.FDBEntry, error) {
	var out []netsw.FDBEntry
	err := s.run(ctx, "read fdb", func(sess *snmpc.Session) error {
		ifIndex, err := walkInts(sess, oidBasePortIfIndex, 1)
		if err != nil {
			return err
		}
		q, err := walkTable(sess, oidQTpFdbPort, oidQTpFdbStatus, 7)
		if err != nil {
			return err
		}
		d, err := walkTable(sess, oidTpFdbPort, oidTpFdbStatus, 6)
		if err != nil {
			return err
		}
		vlanOf := map[int]int{}
		if len(q) > 0 {
			if vlanOf, err = fdbVLANs(sess); err != nil {
				return err
			}
		}
		type key struct {
			mac   string
			index int
		}
		inQ := map[key]bool{}
		seen := map[netsw.FDBEntry]bool{}
		add := func(r fdbRow, mac string, vlan int) {
			idx, ok := ifIndex[r.port]
			if !ok || r.port == 0 || r.status == fdbSelf || r.status == fdbInvalid {
				return
			}
			e := netsw.FDBEntry{MAC: mac, Index: idx, VLAN: vlan}
			if vlan == 0 && inQ[key{mac, idx}] {
				return
			}
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
			if vlan != 0 {
				inQ[key{mac, idx}] = true
			}
		}
		for _, r := range q {
			fdbID := int(r.index[0])
			vlan, ok := vlanOf[fdbID]
			if !ok {
				vlan = fdbID
			}
			add(r, macString(r.index[1:]), vlan)
		}
		for _, r := range d {
			add(r, macString(r.index), 0)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b netsw.FDBEntry) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.MAC, b.MAC), cmp.Compare(a.VLAN, b.VLAN))
	})
	return out, nil
}

// fdbRow is one forwarding entry: its table index (MAC, or fdb id and
// MAC), its bridge port and status (learned when the agent has no status).
type fdbRow struct {
	index  []uint32
	port   int
	status int
}

// walkTable reads a port column and, when it has rows, the matching
// status column; indexLen arcs make a well-formed index (a MAC is six,
// each below 256).
func walkTable(sess *snmpc.Session, portCol, statusCol string, indexLen int) ([]fdbRow, error) {
	vars, err := sess.BulkWalk(portCol)
	if err != nil || len(vars) == 0 {
		return nil, err
	}
	statuses, err := sess.BulkWalk(statusCol)
	if err != nil {
		return nil, err
	}
	status := make(map[string]int, len(statuses))
	for _, v := range statuses {
		if idx, ok := snmpc.Suffix(v.Name, statusCol); ok {
			status[fmt.Sprint(idx)], _ = snmpc.Int(v)
		}
	}
	rows := make([]fdbRow, 0, len(vars))
	for _, v := range vars {
		idx, ok := snmpc.Suffix(v.Name, portCol)
		if !ok || len(idx) != indexLen || slices.ContainsFunc(idx[indexLen-6:], func(a uint32) bool { return a > 255 }) {
			continue
		}
		port, err := snmpc.Int(v)
		if err != nil {
			continue
		}
		st, ok := status[fmt.Sprint(idx)]
		if !ok {
			st = 3 // learned
		}
		rows = append(rows, fdbRow{index: idx, port: port, status: st})
	}
	return rows, nil
}

// walkInts reads a column of integers indexed by indexLen arcs, keyed by
// the last arc.
func walkInts(sess *snmpc.Session, col string, indexLen int) (map[int]int, error) {
	vars, err := sess.BulkWalk(col)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int, len(vars))
	for _, v := range vars {
		idx, ok := snmpc.Suffix(v.Name, col)
		if !ok || len(idx) != indexLen {
			continue
		}
		if n, err := snmpc.Int(v); err == nil {
			out[int(idx[indexLen-1])] = n
		}
	}
	return out, nil
}

// fdbVLANs maps each fdb id that exactly one VLAN uses to that VLAN.
func fdbVLANs(sess *snmpc.Session) (map[int]int, error) {
	vlans, err := walkVLANFdb(sess)
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for fdb, vs := range vlans {
		if len(vs) == 1 {
			out[fdb] = vs[0]
		}
	}
	return out, nil
}

// walkVLANFdb reads dot1qVlanFdbId: the VLANs of each fdb id.
func walkVLANFdb(sess *snmpc.Session) (map[int][]int, error) {
	vars, err := sess.BulkWalk(oidQVlanFdbID)
	if err != nil {
		return nil, err
	}
	out := map[int][]int{}
	for _, v := range vars {
		idx, ok := snmpc.Suffix(v.Name, oidQVlanFdbID)
		if !ok || len(idx) != 2 {
			continue
		}
		fdb, err := snmpc.Int(v)
		if err != nil || fdb == 0 {
			continue
		}
		vlan := int(idx[1])
		if !slices.Contains(out[fdb], vlan) {
			out[fdb] = append(out[fdb], vlan)
		}
	}
	return out, nil
}

// macString spells six index arcs as "02:00:00:00:00:01".
func macString(arcs []uint32) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", arcs[0], arcs[1], arcs[2], arcs[3], arcs[4], arcs[5])
}
