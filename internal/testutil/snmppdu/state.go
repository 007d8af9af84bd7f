package snmppdu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Outlet states as OutletState reports them.
const (
	StateOn        = "on"
	StateOff       = "off"
	StateRebooting = "rebooting" // off, and on again after the reboot delay
)

func (a *Agent) stateFile() string  { return filepath.Join(a.stateDir, "outlets.json") }
func (a *Agent) eventsFile() string { return filepath.Join(a.stateDir, "events.log") }

func (a *Agent) readState() (map[string]outletRecord, error) {
	b, err := os.ReadFile(a.stateFile())
	if err != nil {
		return nil, err
	}
	st := map[string]outletRecord{}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("snmppdu: parse %s: %w", a.stateFile(), err)
	}
	return st, nil
}

// writeState replaces the file atomically, as the script does, so that the
// script never reads half a file.
func (a *Agent) writeState(st map[string]outletRecord) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := a.stateFile() + ".go.tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, a.stateFile())
}

// OutletState reads outlet n from the state file, the way the script
// would answer for it now: "on", "off" or "rebooting". It returns the
// error text (e.g. "error: no such outlet") rather than failing, so that
// it can sit inside comparisons.
func (a *Agent) OutletState(n int) string {
	st, err := a.readState()
	if err != nil {
		return "error: " + err.Error()
	}
	rec, ok := st[strconv.Itoa(n)]
	if !ok {
		return "error: " + errNoState.Error()
	}
	switch {
	case rec.On:
		return StateOn
	case rec.BackOnAt > 0 && float64(time.Now().UnixNano())/1e9 >= rec.BackOnAt:
		return StateOn // the script flips it lazily on the next read
	case rec.BackOnAt > 0:
		return StateRebooting
	default:
		return StateOff
	}
}

// SetOutletState forces outlet n on or off behind SNMP's back (a person at
// the PDU's front panel). The script reads the file on every request.
func (a *Agent) SetOutletState(n int, on bool) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	st[strconv.Itoa(n)] = outletRecord{On: on}
	return a.writeState(st)
}

// Events returns the event log without timestamps, oldest first: one
// "set <oid> <type> <value> -> <result>" line per SET request, plus
// "outlet <n> on|off|reboot ..." lines for the state changes.
func (a *Agent) Events() []string {
	b, err := os.ReadFile(a.eventsFile())
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if _, rest, ok := strings.Cut(line, " "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// SetRequests returns only the SET lines of the event log.
func (a *Agent) SetRequests() []string {
	var sets []string
	for _, e := range a.Events() {
		if strings.HasPrefix(e, "set ") {
			sets = append(sets, e)
		}
	}
	return sets
}

// SNMPGetInt reads one INTEGER with net-snmp's snmpget over v2c, so a test
// can check the agent without the code under test.
func (a *Agent) SNMPGetInt(oid string) (int, error) {
	out, err := a.netsnmp("snmpget", "-v2c", "-c", a.Community, "-On", "-Oqv", "-t", "1", "-r", "1", a.Target(), oid)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("snmpget %s: not an integer: %q", oid, out)
	}
	return v, nil
}

// SNMPGetIntV3 is SNMPGetInt over SNMPv3 authPriv with the agent's user.
func (a *Agent) SNMPGetIntV3(oid string) (int, error) {
	out, err := a.netsnmp("snmpget", "-v3", "-l", "authPriv", "-u", a.V3User, "-a", "SHA", "-A", a.AuthPass,
		"-x", "AES", "-X", a.PrivPass, "-On", "-Oqv", "-t", "1", "-r", "1", a.Target(), oid)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("snmpget %s: not an integer: %q", oid, out)
	}
	return v, nil
}

// netsnmp runs a net-snmp command-line tool with its config and
// persistent files kept in the agent's dir.
func (a *Agent) netsnmp(tool string, args ...string) (string, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		return "", fmt.Errorf("%s not found (Debian package snmp): %w", tool, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(cleanEnv(), "MIBS=", "SNMP_PERSISTENT_DIR="+filepath.Join(a.dir, "client"), "SNMPCONFPATH="+a.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", tool, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
