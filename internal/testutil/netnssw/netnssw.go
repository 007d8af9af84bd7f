// Package netnssw builds a real switch for tests: a Linux bridge in a
// network namespace of its own, with veth "switch ports" whose far ends
// (the hosts) live in a second namespace, managed by net-snmp's snmpd.
// Setting ifAdminStatus over SNMP really takes the veth down; the
// counters and the forwarding table are the kernel's.
//
//	root ns                 switch ns dcsw-<id>                 hosts ns dchs-<id>
//	dcm<id> 198.18.a.b/30 ── mgmt0 198.18.a.b+1/30  (snmpd)
//	                        br0 ─┬─ swp1 ────────────────────── h1 198.19.c.1/24
//	                             ├─ swp2 ────────────────────── h2 198.19.c.2/24
//	                             └─ ...
//
// snmpd serves IF-MIB (ifTable, ifXTable) itself, with its interface cache
// turned off so status reads are fresh; a pass_persist script
// (fdb_pass.py) serves BRIDGE-MIB dot1dBasePortIfIndex and dot1dTpFdbTable
// and Q-BRIDGE-MIB dot1qTpFdbTable from `bridge fdb show`. It answers
// SNMPv2c on a read-write and a read-only community, and SNMPv3 authPriv
// (SHA, AES) for a read-write and a read-only user; every credential is
// random per switch.
//
// Every Start makes its own namespaces, links and /30 (random, checked
// against the root namespace's addresses and routes under a file lock), so
// tests and packages may build switches in parallel. Traffic stays on the
// management veth and inside the namespaces. IPv6 is off in both
// namespaces, so the bridge learns nothing until a test sends frames
// (Ping).
//
// Start needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2 (ip,
// bridge), snmpd and python3. Without them it skips the test, or fails it
// when CI=true.
package netnssw

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// Options shape a switch. Zero values take the defaults shown.
type Options struct {
	// Ports is the number of switch ports swp1..swpN; 4.
	Ports int
	// VLAN is the fdb id (VLAN) of the Q-BRIDGE entries; 1. The bridge
	// itself does not filter VLANs: kernels without
	// CONFIG_BRIDGE_VLAN_FILTERING (this one, for example) cannot.
	VLAN int
	// FDBTables says which forwarding tables the agent serves: "both"
	// (default), "bridge" (BRIDGE-MIB only), "qbridge" (Q-BRIDGE-MIB only)
	// or "none" (no .1.3.6.1.2.1.17 at all).
	FDBTables string
	// SelfEntries lists the bridge ports' own MACs in the forwarding
	// tables with status self(4), as many real switches do.
	SelfEntries bool
}

// Cred names one of the agent's credentials.
type Cred int

// The agent's credentials.
const (
	V2cRW Cred = iota // read-write community
	V2cRO             // read-only community
	V3RW              // read-write user, authPriv SHA/AES
	V3RO              // read-only user, authPriv SHA/AES
)

// Switch is a running fake switch.
type Switch struct {
	Options
	NS      string     // the switch's namespace, dcsw-<id>
	HostsNS string     // the hosts' namespace, dchs-<id>
	Addr    netip.Addr // the agent's management address (inside NS)
	Port    int        // the agent's UDP port, 161

	// Credentials, random per switch.
	Community, ROCommunity string
	V3User, V3ROUser       string
	AuthPass, PrivPass     string // both v3 users have these

	id       string
	dir      string
	tools    tools
	rootLink string       // the root end of the management veth
	local    netip.Prefix // the root end's address
	ifIndex  []int        // by port number (index 0 unused)
	hostMAC  []string
	hostIP   []netip.Addr

	mu    sync.Mutex
	agent *agent
}

// Access is how to reach the agent with one of its credentials; Timeout
// and Retries are left for the caller.
func (s *Switch) Access(c Cred) snmpc.Access {
	a := snmpc.Access{Address: s.Addr.String(), Port: s.Port}
	switch c {
	case V2cRW:
		a.Version, a.Community = "v2c", secret.String(s.Community)
	case V2cRO:
		a.Version, a.Community = "v2c", secret.String(s.ROCommunity)
	case V3RW, V3RO:
		a.Version, a.V3User = "v3", s.V3User
		if c == V3RO {
			a.V3User = s.V3ROUser
		}
		a.AuthProtocol, a.AuthPass = "SHA", secret.String(s.AuthPass)
		a.PrivProtocol, a.PrivPass = "AES", secret.String(s.PrivPass)
	}
	return a
}

// Target is "address:port" as net-snmp tools and device names spell it.
func (s *Switch) Target() string { return net.JoinHostPort(s.Addr.String(), strconv.Itoa(s.Port)) }

// Secrets are every community and password of the agent, for tests that
// check that errors and logs do not leak them.
func (s *Switch) Secrets() []string {
	return []string{s.Community, s.ROCommunity, s.AuthPass, s.PrivPass}
}

// PortName is "swp<i>", the ifName and ifDescr of switch port i.
func (s *Switch) PortName(i int) string { return "swp" + strconv.Itoa(i) }

// PortIfIndex is the ifIndex of switch port i (1-based), as the agent
// reports it (the kernel's ifindex inside NS).
func (s *Switch) PortIfIndex(i int) int {
	s.checkPort(i)
	return s.ifIndex[i]
}

// HostMAC is the MAC of host i (the far end of port i), in lower-case
// colon form.
func (s *Switch) HostMAC(i int) string {
	s.checkPort(i)
	return s.hostMAC[i]
}

// HostIP is the address of host i.
func (s *Switch) HostIP(i int) netip.Addr {
	s.checkPort(i)
	return s.hostIP[i]
}

func (s *Switch) checkPort(i int) {
	if i < 1 || i > s.Ports {
		panic(fmt.Sprintf("netnssw: no port %d (the switch has %d)", i, s.Ports))
	}
}

// Dir is where the switch keeps its agent config, persistent state, log
// and scripts.
func (s *Switch) Dir() string { return s.dir }

// defaults fills the zero values and checks the others.
func (o *Options) defaults(t testing.TB) {
	if o.Ports <= 0 {
		o.Ports = 4
	}
	switch o.FDBTables {
	case "":
		o.FDBTables = "both"
	case "both", "bridge", "qbridge", "none":
	default:
		t.Fatalf("netnssw: FDBTables %q is not both, bridge, qbridge or none", o.FDBTables)
	}
	if o.VLAN == 0 {
		o.VLAN = 1
	}
	if o.VLAN < 1 || o.VLAN > 4094 {
		t.Fatalf("netnssw: VLAN %d is out of range", o.VLAN)
	}
}
