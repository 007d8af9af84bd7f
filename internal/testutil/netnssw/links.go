package netnssw

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// LinkState is what the kernel says about switch port i: whether it is
// administratively up (the UP flag, which ifAdminStatus sets) and its
// operational state ("UP", "DOWN", "LOWERLAYERDOWN", ...).
func (s *Switch) LinkState(t testing.TB, i int) (adminUp bool, oper string) {
	t.Helper()
	s.checkPort(i)
	out, err := ipOutput(s.tools.ip, s.NS, "-j", "link", "show", "dev", s.PortName(i))
	if err != nil {
		t.Fatalf("netnssw: %v", err)
	}
	var ls []link
	if err := json.Unmarshal(out, &ls); err != nil || len(ls) != 1 {
		t.Fatalf("netnssw: parse ip -j link show %s: %v (%s)", s.PortName(i), err, out)
	}
	return slices.Contains(ls[0].Flags, "UP"), ls[0].OperState
}

// LinkUp reports whether switch port i is administratively up.
func (s *Switch) LinkUp(t testing.TB, i int) bool {
	t.Helper()
	up, _ := s.LinkState(t, i)
	return up
}

// SetPortLink sets switch port i up or down behind the agent's back, as
// an operator on the switch's console would.
func (s *Switch) SetPortLink(t testing.TB, i int, up bool) {
	t.Helper()
	s.checkPort(i)
	s.setLink(t, s.NS, s.PortName(i), up)
}

// SetHostLink sets host i's interface up or down: the switch port stays
// administratively up and loses its carrier (a server's NIC going away).
func (s *Switch) SetHostLink(t testing.TB, i int, up bool) {
	t.Helper()
	s.checkPort(i)
	s.setLink(t, s.HostsNS, "h"+strconv.Itoa(i), up)
}

func (s *Switch) setLink(t testing.TB, ns, name string, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCmd(s.tools.ip, ns, "link", "set", "dev", name, state); err != nil {
		t.Fatalf("netnssw: %v", err)
	}
}

// Ping sends a frame from host i to host j and one back, through the
// bridge: afterwards the bridge has learned both hosts' MACs (unless a
// port is down) and ports i and j have counted the octets in both
// directions. It is not ICMP: the hosts share one namespace, where the
// kernel would deliver IP traffic between them through lo, so frames.py
// writes raw Ethernet frames instead (and needs no ping binary).
func (s *Switch) Ping(t testing.TB, i, j int) {
	t.Helper()
	s.checkPort(i)
	s.checkPort(j)
	cmd := exec.Command(s.tools.ip, "netns", "exec", s.HostsNS, s.tools.python, s.framesPath(),
		"h"+strconv.Itoa(i), "h"+strconv.Itoa(j))
	if _, err := run(cmd, ""); err != nil {
		t.Fatalf("netnssw: %v", err)
	}
}

// LearnedMACs is the bridge's own view of its forwarding table: learned
// MACs (lower case) and the switch port number each was learned on.
func (s *Switch) LearnedMACs(t testing.TB) map[string]int {
	t.Helper()
	out, err := run(exec.Command(s.tools.bridge, "-n", s.NS, "-j", "fdb", "show", "br", "br0"), "")
	if err != nil {
		t.Fatalf("netnssw: %v", err)
	}
	var entries []struct {
		MAC    string   `json:"mac"`
		IfName string   `json:"ifname"`
		Flags  []string `json:"flags"`
		State  string   `json:"state"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("netnssw: parse bridge fdb: %v", err)
	}
	m := map[string]int{}
	for _, e := range entries {
		if e.State != "" || slices.Contains(e.Flags, "self") {
			continue // permanent, static: not learned
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(e.IfName, "swp")); err == nil {
			m[strings.ToLower(e.MAC)] = n
		}
	}
	return m
}
