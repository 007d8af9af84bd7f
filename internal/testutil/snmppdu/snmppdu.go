// Package snmppdu runs a real SNMP agent that behaves like an APC switched
// PDU, for tests of the PDU driver.
//
// The agent is net-snmp's snmpd, in the foreground, on 127.0.0.1 and a free
// UDP port, with a pass_persist script (testdata/pdu_pass.py, embedded) that
// serves the PowerNet-MIB outlet tables of both APC generations:
//
//	sPDUOutletCtl                  .1.3.6.1.4.1.318.1.1.4.4.2.1.3.<n>     rw 1 on, 2 off, 3 reboot
//	rPDUOutletControlOutletCommand .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.<n>  rw 1 on, 2 off, 3 reboot
//	rPDUOutletStatusOutletState    .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.<n>  ro 1 on, 2 off
//
// A reboot turns the outlet off for Options.RebootDelay and then on. Bad
// SETs are refused the way a real agent refuses them (notWritable,
// wrongType, wrongValue). The outlet states live in a JSON file and every
// SET request is appended to an event log, both in the test's temp dir,
// so a test can check what happened without going through SNMP.
//
// The agent answers SNMPv2c on Options.Community (read-write) and
// Options.ROCommunity (read-only), and SNMPv3 authPriv (SHA, AES) for
// Options.V3User. Everything it writes stays in t.TempDir(): its config,
// its persistent dir (SNMP_PERSISTENT_DIR) and its log.
//
// When snmpd or python3 is missing, Start skips the test, or fails it when
// CI=true, since CI must install them (scripts/test-deps.sh).
package snmppdu

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

//go:embed testdata/pdu_pass.py
var passScript []byte

// Column OIDs served by the agent (append ".<outlet>").
const (
	OIDsPDUOutletCtl         = ".1.3.6.1.4.1.318.1.1.4.4.2.1.3"
	OIDrPDUOutletCommand     = ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"
	OIDrPDUOutletStatusState = ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"
)

// Options configure an agent. Zero fields take the defaults shown.
type Options struct {
	Port        int           // UDP port on 127.0.0.1; 0 picks a free one
	Community   string        // read-write v2c community; "private"
	ROCommunity string        // read-only v2c community; "public"
	V3User      string        // SNMPv3 user with SHA auth and AES privacy; "pduops"
	AuthPass    string        // its auth password (8+ chars); "authpass123"
	PrivPass    string        // its privacy password (8+ chars); "privpass123"
	Outlets     int           // number of outlets; 8
	RebootDelay time.Duration // how long a rebooted outlet stays off; 300ms
	Off         []int         // outlets that start off (all others start on)
}

func (o *Options) defaults() {
	if o.Community == "" {
		o.Community = "private"
	}
	if o.ROCommunity == "" {
		o.ROCommunity = "public"
	}
	if o.V3User == "" {
		o.V3User = "pduops"
	}
	if o.AuthPass == "" {
		o.AuthPass = "authpass123"
	}
	if o.PrivPass == "" {
		o.PrivPass = "privpass123"
	}
	if o.Outlets <= 0 {
		o.Outlets = 8
	}
	if o.RebootDelay <= 0 {
		o.RebootDelay = 300 * time.Millisecond
	}
}

// Agent is a running snmpd emulating a PDU.
type Agent struct {
	Options        // as started, defaults filled in; Port is the real port
	Addr    string // "127.0.0.1"

	dir      string // everything the agent writes
	stateDir string // outlets.json and events.log
	logFile  string

	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
}

const (
	startTimeout  = 10 * time.Second
	stopTimeout   = 5 * time.Second
	startAttempts = 3
)

// Start runs an agent for the rest of the test and stops it in t.Cleanup.
func Start(t testing.TB, opts Options) *Agent {
	t.Helper()
	snmpd, python := requireTools(t)
	opts.defaults()
	if len(opts.AuthPass) < 8 || len(opts.PrivPass) < 8 {
		t.Fatal("snmppdu: SNMPv3 passwords need at least 8 characters")
	}
	dir := t.TempDir()
	a := &Agent{Options: opts, Addr: "127.0.0.1", dir: dir,
		stateDir: filepath.Join(dir, "state"), logFile: filepath.Join(dir, "snmpd.log")}
	if err := a.prepare(python); err != nil {
		t.Fatalf("snmppdu: %v", err)
	}
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freeUDPPort(); err != nil {
				t.Fatalf("snmppdu: %v", err)
			}
		}
		if err = a.start(snmpd, python, port); err == nil {
			t.Cleanup(a.Stop)
			return a
		}
		// A free port can be taken between probing and binding; only a
		// chosen port is worth retrying.
		if opts.Port != 0 {
			break
		}
	}
	t.Fatalf("snmppdu: %v", err)
	return nil
}

func requireTools(t testing.TB) (snmpd, python string) {
	t.Helper()
	missing := func(what string) {
		msg := fmt.Sprintf("snmppdu: %s not found; install the Debian packages snmpd and snmp (scripts/test-deps.sh)", what)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	snmpd, err := exec.LookPath("snmpd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/snmpd"); serr != nil {
			missing("snmpd")
		}
		snmpd = "/usr/sbin/snmpd"
	}
	// Prefer the system interpreter: snmpd runs the script with an
	// absolute path, and version-manager shims on PATH start slowly.
	python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		if python, err = exec.LookPath("python3"); err != nil {
			missing("python3")
		}
	}
	return snmpd, python
}

// prepare writes the script and the initial outlet states.
func (a *Agent) prepare(python string) error {
	if err := os.MkdirAll(a.stateDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(a.dir, "pdu_pass.py"), passScript, 0o755); err != nil {
		return err
	}
	st := make(map[string]outletRecord, a.Outlets)
	for n := 1; n <= a.Outlets; n++ {
		st[strconv.Itoa(n)] = outletRecord{On: true}
	}
	for _, n := range a.Off {
		st[strconv.Itoa(n)] = outletRecord{On: false}
	}
	return a.writeState(st)
}

func (a *Agent) start(snmpd, python string, port int) error {
	conf := filepath.Join(a.dir, "snmpd.conf")
	text := strings.Join([]string{
		"# generated by internal/testutil/snmppdu",
		fmt.Sprintf("agentAddress udp:127.0.0.1:%d", port),
		fmt.Sprintf("rwcommunity %s 127.0.0.1", a.Community),
		fmt.Sprintf("rocommunity %s 127.0.0.1", a.ROCommunity),
		fmt.Sprintf("createUser %s SHA %q AES %q", a.V3User, a.AuthPass, a.PrivPass),
		fmt.Sprintf("rwuser %s priv", a.V3User),
		"sysName fake-pdu",
		"sysDescr APC Web/SNMP Management Card (MN:AP8959EU3) [emulated by dcimd tests]",
		"sysObjectID .1.3.6.1.4.1.318.1.3.4.6",
		fmt.Sprintf("pass_persist .1.3.6.1.4.1.318 %s %s", python, filepath.Join(a.dir, "pdu_pass.py")),
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	_ = os.Remove(a.logFile)
	// -C: ignore the system's snmpd.conf; -I -smux: a root snmpd would
	// otherwise listen on TCP 127.0.0.1:199, which parallel agents share.
	cmd := exec.Command(snmpd, "-f", "-Lf", a.logFile, "-I", "-smux", "-C", "-c", conf)
	cmd.Env = append(cleanEnv(),
		"MIBS=",
		"SNMP_PERSISTENT_DIR="+a.dir,
		"SNMPCONFPATH="+a.dir,
		"PDU_STATE="+a.stateDir,
		"PDU_OUTLETS="+strconv.Itoa(a.Outlets),
		"PDU_REBOOT_S="+strconv.FormatFloat(a.RebootDelay.Seconds(), 'f', 3, 64),
	)
	cmd.Dir = a.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start snmpd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	a.cmd, a.exited, a.Port = cmd, exited, port

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("snmpd exited during start on port %d:\n%s", port, a.logTail())
		default:
		}
		if a.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			a.kill()
			return fmt.Errorf("snmpd did not answer within %s on port %d:\n%s", startTimeout, port, a.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready asks for an outlet state, which also starts the pass_persist script.
func (a *Agent) ready() bool {
	g := &gosnmp.GoSNMP{Target: a.Addr, Port: uint16(a.Port), Community: a.Community,
		Version: gosnmp.Version2c, Timeout: 100 * time.Millisecond, Retries: 0}
	if err := g.Connect(); err != nil {
		return false
	}
	defer g.Close()
	pkt, err := g.Get([]string{OIDrPDUOutletStatusState + ".1"})
	return err == nil && pkt.Error == gosnmp.NoError && len(pkt.Variables) == 1 &&
		pkt.Variables[0].Type == gosnmp.Integer
}

// Stop stops the agent (SIGTERM, then SIGKILL) and waits for it; the
// script exits when snmpd closes its stdin. It is safe to call more than once.
func (a *Agent) Stop() {
	a.stopOnce.Do(a.kill)
}

func (a *Agent) kill() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(stopTimeout):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// Target is "127.0.0.1:<port>" as net-snmp tools take it.
func (a *Agent) Target() string { return net.JoinHostPort(a.Addr, strconv.Itoa(a.Port)) }

// Dir is the agent's temp dir (config, log, state); LogFile is snmpd's log.
func (a *Agent) Dir() string { return a.dir }

// LogFile is snmpd's log.
func (a *Agent) LogFile() string { return a.logFile }

func (a *Agent) logTail() string {
	b, err := os.ReadFile(a.logFile)
	if err != nil {
		return "(no snmpd log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// cleanEnv drops variables that would point snmpd at other configs or MIBs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SNMP") || strings.HasPrefix(name, "MIB") || strings.HasPrefix(name, "PDU_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// errNoState is returned when the state file does not know an outlet.
var errNoState = errors.New("snmppdu: no such outlet in the state file")

type outletRecord struct {
	On       bool    `json:"on"`
	BackOnAt float64 `json:"back_on_at"`
}
