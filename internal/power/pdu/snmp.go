package pdu

import "github.com/dcimd/dcimd/internal/snmpc"

// The SNMP plumbing (sessions, credentials, error classification) lives in
// internal/snmpc, shared with the switch driver; this is what the outlet
// code adds to it.

// getInt reads one integer object; a missing object or instance is a
// permanent failure (wrong profile, no such outlet).
func getInt(s *snmpc.Session, oid string) (int, error) {
	vars, err := s.Get(oid)
	if err != nil {
		return 0, err
	}
	if err := snmpc.CheckValue("GET", vars[0]); err != nil {
		return 0, err
	}
	return snmpc.Int(vars[0])
}
