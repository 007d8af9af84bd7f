package switchsim_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

// netSNMP runs net-snmp's command line tools against one switch.
type netSNMP struct {
	t    *testing.T
	addr string
}

func newNetSNMP(t *testing.T, sw *switchsim.Switch) netSNMP {
	t.Helper()
	for _, tool := range []string{"snmpget", "snmpset", "snmpwalk", "snmpbulkwalk"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI (Debian package snmp)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	return netSNMP{t: t, addr: "udp:" + sw.Addr()}
}

// run runs tool with a version and community; it returns the output and
// whether the tool succeeded.
func (n netSNMP) run(tool, version, community string, args ...string) (string, bool) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{version, "-c", community, "-On", "-t", "0.5", "-r", "0", n.addr}, args...)...)
	cmd.Env = append(os.Environ(), "MIBS=") // numeric OIDs only: no MIB files needed
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		n.t.Fatalf("%s %v: %v", tool, args, ctx.Err())
	}
	return string(out), err == nil
}

// ok runs a tool that must succeed.
func (n netSNMP) ok(tool, version, community string, args ...string) string {
	n.t.Helper()
	out, ok := n.run(tool, version, community, args...)
	if !ok || strings.Contains(out, "Error") {
		n.t.Fatalf("%s %s %v: %s", tool, version, args, out)
	}
	return out
}

// value is the one value snmpget prints with -Oqv.
func (n netSNMP) value(o string) uint64 {
	n.t.Helper()
	out := strings.TrimSpace(n.ok("snmpget", "-v2c", switchsim.DefaultReadCommunity, "-Oqv", o))
	v, err := strconv.ParseUint(out, 10, 64)
	if err != nil {
		n.t.Fatalf("snmpget %s: %q", o, out)
	}
	return v
}

// lines counts the objects in a walk's output: a walk that reaches the
// end of the MIB ends with a line saying so (endOfMibView in v2c, the
// noSuchName of v1), which is no object.
func lines(s string) int {
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" && !strings.Contains(l, "No more variables left") && !strings.Contains(l, "End of MIB") {
			n++
		}
	}
	return n
}

// TestNetSNMPTools checks the agent with net-snmp's snmpwalk, snmpbulkwalk,
// snmpget and snmpset: snmpwalk itself fails on OIDs that do not increase.
func TestNetSNMPTools(t *testing.T) {
	t.Parallel()
	const ports = 12
	sw := start(t, switchsim.Options{Name: "sw-netsnmp", Ports: switchsim.GeneratePorts("sw-netsnmp", ports)})
	n := newNetSNMP(t, sw)
	rw, ro := switchsim.DefaultCommunity, switchsim.DefaultReadCommunity
	all := 6 + ports*objectsPerPort + (ports+ports/3)*5

	t.Run("walks", func(t *testing.T) {
		if got := lines(n.ok("snmpwalk", "-v2c", ro, ".1.3")); got != all {
			t.Errorf("snmpwalk -v2c: %d objects, want %d", got, all)
		}
		if got := lines(n.ok("snmpbulkwalk", "-v2c", ro, "-Cr7", ".1.3")); got != all {
			t.Errorf("snmpbulkwalk: %d objects, want %d", got, all)
		}
		v1 := n.ok("snmpwalk", "-v1", ro, ".1.3")
		if got := lines(v1); got != all-2*ports || strings.Contains(v1, "Counter64") {
			t.Errorf("snmpwalk -v1: %d objects, want %d without Counter64", got, all-2*ports)
		}
		out := n.ok("snmpbulkwalk", "-v2c", ro, switchsim.IfXTableOID)
		if !strings.Contains(out, switchsim.IfNameOID+".12 = STRING: \"Ethernet1/12\"") ||
			!strings.Contains(out, switchsim.IfHCInOctetsOID+".1 = Counter64: ") || lines(out) != 5*ports {
			t.Errorf("snmpbulkwalk of ifXTable:\n%s", out)
		}
	})
	t.Run("set down and up", func(t *testing.T) {
		n.ok("snmpset", "-v2c", rw, switchsim.IfAdminStatusOID+".3", "i", "2")
		if n.value(switchsim.IfOperStatusOID+".3") != 2 || sw.AdminUp(3) {
			t.Fatal("ifOperStatus.3 is not down(2) after snmpset ifAdminStatus.3 = 2")
		}
		n.ok("snmpset", "-v1", rw, switchsim.IfAdminStatusOID+".3", "i", "1")
		if n.value(switchsim.IfOperStatusOID+".3") != 1 {
			t.Fatal("ifOperStatus.3 is not up(1) after snmpset ifAdminStatus.3 = 1")
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name, version, community, value, want string
		}{
			{"read-only community", "-v2c", ro, "2", "noAccess"},
			{"testing(3)", "-v2c", rw, "3", "wrongValue"},
			{"v1 testing(3)", "-v1", rw, "3", "badValue"},
		} {
			out, ok := n.run("snmpset", tc.version, tc.community, switchsim.IfAdminStatusOID+".4", "i", tc.value)
			if ok || !strings.Contains(out, tc.want) {
				t.Errorf("%s: snmpset answered %q, want %s", tc.name, out, tc.want)
			}
		}
		if out, ok := n.run("snmpset", "-v2c", rw, switchsim.IfAliasOID+".4", "s", "x"); ok || !strings.Contains(out, "notWritable") {
			t.Errorf("snmpset of ifAlias answered %q, want notWritable", out)
		}
		if !sw.AdminUp(4) {
			t.Error("a refused snmpset shut port 4 down")
		}
	})
	t.Run("wrong community", func(t *testing.T) {
		out, ok := n.run("snmpget", "-v2c", "nope", switchsim.SysNameOID)
		if ok || !strings.Contains(out, "Timeout") {
			t.Errorf("snmpget with a wrong community: %q, want a timeout", out)
		}
	})
	t.Run("counters", func(t *testing.T) {
		n.ok("snmpset", "-v2c", rw, switchsim.IfAdminStatusOID+".5", "i", "2")
		up1, down1 := n.value(switchsim.IfHCInOctetsOID+".6"), n.value(switchsim.IfHCInOctetsOID+".5")
		time.Sleep(50 * time.Millisecond)
		up2, down2 := n.value(switchsim.IfHCInOctetsOID+".6"), n.value(switchsim.IfHCInOctetsOID+".5")
		if up2 <= up1 || down2 != down1 {
			t.Errorf("ifHCInOctets: up port %d then %d, down port %d then %d", up1, up2, down1, down2)
		}
	})
	t.Run("fdb", func(t *testing.T) {
		q := n.ok("snmpbulkwalk", "-v2c", ro, switchsim.Dot1qTpFdbPortOID)
		d := n.ok("snmpwalk", "-v2c", ro, switchsim.Dot1dTpFdbPortOID)
		m := n.ok("snmpwalk", "-v2c", ro, switchsim.Dot1dBasePortIfIndexOID)
		// Port 5 is down from the previous subtest: its MAC is flushed.
		if want := ports + ports/3 - 1; lines(q) != want || lines(d) != want || lines(m) != ports {
			t.Errorf("Q-BRIDGE %d, BRIDGE %d entries (want %d), %d bridge ports:\n%s\n%s", lines(q), lines(d), want, lines(m), q, d)
		}
		if !strings.Contains(q, switchsim.Dot1qTpFdbPortOID+".1.") || !strings.Contains(q, " = INTEGER: 12") {
			t.Errorf("Q-BRIDGE walk:\n%s", q)
		}
	})
}
