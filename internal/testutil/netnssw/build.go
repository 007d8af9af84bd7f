package netnssw

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Start builds a switch for the rest of the test and tears it down in
// t.Cleanup: the agent is stopped (by the PID Start started) and only the
// namespaces and the link Start created are deleted.
func Start(t testing.TB, opts Options) *Switch {
	t.Helper()
	tl := requireTools(t)
	opts.defaults(t)
	// Not t.TempDir(): its name comes from the test's, and snmpd splits
	// its -c argument at commas.
	dir, err := os.MkdirTemp("", "netnssw-")
	if err != nil {
		t.Fatalf("netnssw: %v", err)
	}
	s := &Switch{Options: opts, Port: 161, dir: dir, tools: tl,
		Community: "rw-" + randHex(t, 6), ROCommunity: "ro-" + randHex(t, 6),
		V3User: "ops", V3ROUser: "viewer", AuthPass: "auth-" + randHex(t, 6), PrivPass: "priv-" + randHex(t, 6)}
	t.Cleanup(s.cleanup)
	if err := s.build(tl); err != nil {
		if strings.Contains(err.Error(), "Operation not permitted") && os.Getenv("CI") != "true" {
			t.Skipf("netnssw: cannot build network namespaces here: %v", err)
		}
		t.Fatalf("netnssw: %v", err)
	}
	if err := s.readLinks(tl); err != nil {
		t.Fatalf("netnssw: %v", err)
	}
	if err := s.writeFiles(); err != nil {
		t.Fatalf("netnssw: %v", err)
	}
	s.StartAgent(t)
	return s
}

// tools are the programs a switch needs, by absolute path.
type tools struct{ ip, bridge, snmpd, python string }

func requireTools(t testing.TB) tools {
	t.Helper()
	missing := func(why string) {
		msg := "netnssw: " + why + "; the fake switch needs root, iproute2, snmpd and python3 (scripts/test-deps.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() != 0 {
		missing("not root (network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN)")
	}
	find := func(name string, dirs ...string) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		missing(name + " not found")
		return ""
	}
	// System paths first: snmpd runs the script with an absolute path,
	// and version-manager shims on PATH start slowly.
	return tools{
		ip:     find("ip", "/usr/sbin", "/sbin", "/usr/bin", "/bin"),
		bridge: find("bridge", "/usr/sbin", "/sbin", "/usr/bin", "/bin"),
		snmpd:  find("snmpd", "/usr/sbin"),
		python: find("python3", "/usr/bin"),
	}
}

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// build makes the namespaces, the bridge and its ports, and the
// management veth.
func (s *Switch) build(tl tools) error {
	// Names are global; a clash (another switch, a leftover) gets a new id.
	var err error
	for range 5 {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		s.id = hex.EncodeToString(b)
		s.NS, s.HostsNS, s.rootLink = "dcsw-"+s.id, "dchs-"+s.id, "dcm"+s.id
		if err = ipCmd(tl.ip, "", "netns", "add", s.NS); err != nil {
			s.NS = ""
			continue
		}
		if err = ipCmd(tl.ip, "", "netns", "add", s.HostsNS); err != nil {
			s.HostsNS = ""
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("create network namespaces: %w", err)
	}
	// Without IPv6 the kernel sends nothing on its own (no DAD, MLD or
	// router solicitations): the bridge learns only what tests send.
	for _, ns := range []string{s.NS, s.HostsNS} {
		if err := nsExec(tl.ip, ns, "sh", "-c",
			"for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null; true"); err != nil {
			return err
		}
	}

	hostsNet, err := randomPrefix(netip.MustParsePrefix("198.19.0.0/16"), 24)
	if err != nil {
		return err
	}
	sw := []string{
		"link set lo up",
		"link add br0 type bridge",
		"link set br0 up",
	}
	hosts := []string{"link set lo up"}
	s.hostIP = make([]netip.Addr, s.Ports+1)
	for i := 1; i <= s.Ports; i++ {
		ip := hostsNet.Addr()
		for range i {
			ip = ip.Next()
		}
		s.hostIP[i] = ip
		sw = append(sw,
			fmt.Sprintf("link add swp%d type veth peer name h%d netns %s", i, i, s.HostsNS),
			fmt.Sprintf("link set swp%d master br0", i),
			fmt.Sprintf("link set swp%d up", i))
		hosts = append(hosts,
			fmt.Sprintf("addr add %s/24 dev h%d", ip, i),
			fmt.Sprintf("link set h%d up", i))
	}
	if err := ipBatch(tl.ip, s.NS, sw); err != nil {
		return err
	}
	if err := ipBatch(tl.ip, s.HostsNS, hosts); err != nil {
		return err
	}
	return s.buildMgmt(tl)
}

// buildMgmt picks a free /30 and makes the management veth. The pick and
// the address assignment happen under a file lock shared with every other
// test process, so two switches never get the same /30.
func (s *Switch) buildMgmt(tl tools) error {
	unlock, err := lockFile(filepath.Join(lockDir(), "dcimd-netnssw.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	used, err := usedPrefixes(tl.ip)
	if err != nil {
		return err
	}
	var mgmt netip.Prefix
	for range 50 {
		// 198.18.0.0/23 is the harness's fixed fake switch; stay clear of it.
		p, err := randomPrefix(netip.MustParsePrefix("198.18.0.0/16"), 30)
		if err != nil {
			return err
		}
		if p.Addr().As4()[2] < 2 || overlapsAny(p, used) {
			continue
		}
		mgmt = p
		break
	}
	if !mgmt.IsValid() {
		return errors.New("no free /30 in 198.18.0.0/16 after 50 tries")
	}
	local := mgmt.Addr().Next()
	s.Addr = local.Next()
	s.local = netip.PrefixFrom(local, 30)
	if err := ipCmd(tl.ip, "", "link", "add", s.rootLink, "type", "veth", "peer", "name", "mgmt0", "netns", s.NS); err != nil {
		s.rootLink = "" // not ours: nothing to delete
		return err
	}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+s.rootLink+"/disable_ipv6", []byte("1"), 0o644)
	if err := ipBatch(tl.ip, "", []string{
		fmt.Sprintf("addr add %s dev %s", s.local, s.rootLink),
		fmt.Sprintf("link set %s up", s.rootLink),
	}); err != nil {
		return err
	}
	return ipBatch(tl.ip, s.NS, []string{
		fmt.Sprintf("addr add %s/30 dev mgmt0", s.Addr),
		"link set mgmt0 up",
	})
}

// readLinks records the ports' ifIndexes and the hosts' MACs.
func (s *Switch) readLinks(tl tools) error {
	sw, err := links(tl.ip, s.NS)
	if err != nil {
		return err
	}
	hosts, err := links(tl.ip, s.HostsNS)
	if err != nil {
		return err
	}
	s.ifIndex, s.hostMAC = make([]int, s.Ports+1), make([]string, s.Ports+1)
	for i := 1; i <= s.Ports; i++ {
		p, ok := sw["swp"+strconv.Itoa(i)]
		h, ok2 := hosts["h"+strconv.Itoa(i)]
		if !ok || !ok2 {
			return fmt.Errorf("port %d or host %d is missing after the build", i, i)
		}
		s.ifIndex[i], s.hostMAC[i] = p.Index, strings.ToLower(h.Address)
	}
	return nil
}

// cleanup stops the agent and deletes what build created.
func (s *Switch) cleanup() {
	s.mu.Lock()
	if s.agent != nil {
		s.agent.stop()
		s.agent = nil
	}
	s.mu.Unlock()
	ip := s.tools.ip
	defer os.RemoveAll(s.dir)
	// Deleting a namespace deletes the veths in it, and with mgmt0 the
	// root end; deleting that one too covers a half-built switch.
	for _, ns := range []string{s.NS, s.HostsNS} {
		if ns != "" {
			_ = ipCmd(ip, "", "netns", "del", ns)
		}
	}
	if s.rootLink != "" {
		if _, err := os.Stat("/sys/class/net/" + s.rootLink); err == nil {
			_ = ipCmd(ip, "", "link", "del", s.rootLink)
		}
	}
}

// link is one row of `ip -j link show`.
type link struct {
	Index     int      `json:"ifindex"`
	Name      string   `json:"ifname"`
	Flags     []string `json:"flags"`
	OperState string   `json:"operstate"`
	Address   string   `json:"address"`
}

func links(ip, ns string) (map[string]link, error) {
	out, err := ipOutput(ip, ns, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var ls []link
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("parse ip -j link show: %w", err)
	}
	m := make(map[string]link, len(ls))
	for _, l := range ls {
		m[l.Name] = l
	}
	return m, nil
}
