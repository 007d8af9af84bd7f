package snmppdu

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAgentServesBothAPCTables(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := Start(t, Options{Outlets: 4, Off: []int{3}})
	t.Logf("agent on %s ready in %s", a.Target(), time.Since(start))

	tests := []struct {
		name string
		oid  string
		want int
	}{
		{"rPDU status of an on outlet", OIDrPDUOutletStatusState + ".1", 1},
		{"rPDU status of an off outlet", OIDrPDUOutletStatusState + ".3", 2},
		{"rPDU command column reads the state", OIDrPDUOutletCommand + ".3", 2},
		{"sPDU control column reads the state", OIDsPDUOutletCtl + ".3", 2},
		{"sPDU control of an on outlet", OIDsPDUOutletCtl + ".4", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, get := range []func(string) (int, error){a.SNMPGetInt, a.SNMPGetIntV3} {
				got, err := get(tt.oid)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("%s = %d, want %d", tt.oid, got, tt.want)
				}
			}
		})
	}
}

func TestAgentSets(t *testing.T) {
	t.Parallel()
	a := Start(t, Options{Outlets: 4, RebootDelay: 200 * time.Millisecond})
	set := func(community, oid, typ, val string) (string, error) {
		return a.netsnmp("snmpset", "-v2c", "-c", community, "-On", "-t", "1", "-r", "0", a.Target(), oid, typ, val)
	}

	tests := []struct {
		name      string
		community string
		oid       string
		typ, val  string
		wantErr   string // in snmpset's stderr; "" = accepted
		outlet    int
		wantState string
	}{
		{"rPDU off", a.Community, OIDrPDUOutletCommand + ".1", "i", "2", "", 1, StateOff},
		{"rPDU on", a.Community, OIDrPDUOutletCommand + ".1", "i", "1", "", 1, StateOn},
		{"sPDU off", a.Community, OIDsPDUOutletCtl + ".2", "i", "2", "", 2, StateOff},
		{"sPDU reboot of an off outlet", a.Community, OIDsPDUOutletCtl + ".2", "i", "3", "", 2, StateRebooting},
		{"rPDU reboot", a.Community, OIDrPDUOutletCommand + ".3", "i", "3", "", 3, StateRebooting},
		{"value out of range", a.Community, OIDrPDUOutletCommand + ".4", "i", "9", "wrongValue", 4, StateOn},
		{"read-only status column", a.Community, OIDrPDUOutletStatusState + ".4", "i", "2", "notWritable", 4, StateOn},
		{"string into the command column", a.Community, OIDsPDUOutletCtl + ".4", "s", "off", "wrongType", 4, StateOn},
		{"outlet that does not exist", a.Community, OIDsPDUOutletCtl + ".9", "i", "2", "notWritable", 4, StateOn},
		{"read-only community", a.ROCommunity, OIDsPDUOutletCtl + ".4", "i", "2", "noAccess", 4, StateOn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := set(tt.community, tt.oid, tt.typ, tt.val)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("snmpset: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("snmpset = %q, %v; want error %s", out, err, tt.wantErr)
			}
			if got := a.OutletState(tt.outlet); got != tt.wantState {
				t.Errorf("outlet %d = %s, want %s", tt.outlet, got, tt.wantState)
			}
		})
	}

	// Both reboots end with the outlet on, read through the agent.
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range []int{2, 3} {
		for {
			v, err := a.SNMPGetInt(OIDrPDUOutletStatusState + "." + strconv.Itoa(n))
			if err == nil && v == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("outlet %d not back on after its reboot: %d, %v", n, v, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := a.OutletState(n); got != StateOn {
			t.Errorf("outlet %d after reboot = %s, want on", n, got)
		}
	}

	sets := a.SetRequests()
	// snmpd refuses the SET with the read-only community and the one to a
	// missing outlet itself; the script sees the other eight.
	if len(sets) != 8 {
		t.Errorf("script saw %d SETs, want 8:\n%s", len(sets), strings.Join(sets, "\n"))
	}
}

func TestSetOutletStateAndStop(t *testing.T) {
	t.Parallel()
	a := Start(t, Options{Outlets: 2})
	if err := a.SetOutletState(2, false); err != nil {
		t.Fatal(err)
	}
	if v, err := a.SNMPGetInt(OIDrPDUOutletStatusState + ".2"); err != nil || v != 2 {
		t.Fatalf("outlet 2 after SetOutletState(false) = %d, %v; want 2", v, err)
	}
	if len(a.SetRequests()) != 0 {
		t.Errorf("SetOutletState went through SNMP: %v", a.SetRequests())
	}

	start := time.Now()
	a.Stop()
	a.Stop() // idempotent
	t.Logf("stopped in %s", time.Since(start))
	if _, err := a.SNMPGetInt(OIDrPDUOutletStatusState + ".1"); err == nil {
		t.Fatal("agent still answers after Stop")
	}
	if got := a.OutletState(2); got != StateOff {
		t.Errorf("state file after Stop: outlet 2 = %s, want off", got)
	}
}
