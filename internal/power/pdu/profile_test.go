package pdu

import (
	"strconv"
	"strings"
	"testing"
)

func TestOIDTemplate(t *testing.T) {
	tests := []struct {
		in       string
		wantOID  string // for outlet 7
		wantRoot string
		wantErr  string
	}{
		{in: ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4", wantOID: ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.7", wantRoot: ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"},
		{in: "1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.", wantOID: ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.7", wantRoot: ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"},
		{in: ".1.3.6.1.4.1.13742.6.4.1.2.1.3.1.%d", wantOID: ".1.3.6.1.4.1.13742.6.4.1.2.1.3.1.7", wantRoot: ".1.3.6.1.4.1.13742.6.4.1.2.1.3.1"},
		{in: " .1.3.6.1.4.1.9.9.%d.0 ", wantOID: ".1.3.6.1.4.1.9.9.7.0", wantRoot: ".1.3.6.1.4.1.9.9"},
		{in: ".1.3.6.1.4.1.9.9%d", wantErr: "whole sub-identifier"},
		{in: ".1.3.6.1.4.1.9.9.%d1", wantErr: "whole sub-identifier"},
		{in: ".1.3.6.1.%d.%d", wantErr: "more than one"},
		{in: ".1.3.6.1.4.1.x", wantErr: "not a numeric OID"},
		{in: ".1.3..6", wantErr: "not a numeric OID"},
		{in: ".1.3", wantErr: "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := parseOIDTemplate(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tmpl.oid(7); got != tt.wantOID {
				t.Errorf("oid(7) = %s, want %s", got, tt.wantOID)
			}
			if got := tmpl.walkRoot(); got != tt.wantRoot {
				t.Errorf("walkRoot() = %s, want %s", got, tt.wantRoot)
			}
			// What the walk returns maps back to the outlet, with or without the leading dot.
			for _, name := range []string{tt.wantOID, strings.TrimPrefix(tt.wantOID, ".")} {
				if n, ok := tmpl.outlet(name); !ok || n != 7 {
					t.Errorf("outlet(%s) = %d, %v; want 7", name, n, ok)
				}
			}
			for _, other := range []string{tt.wantRoot + ".7.1", tt.wantRoot + "9.7", ".1.3.6.1.2.1.1.1.0"} {
				if n, ok := tmpl.outlet(other); ok && other != tt.wantOID {
					t.Errorf("outlet(%s) = %d, want no outlet", other, n)
				}
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	eaton := Generic{
		StatusOID: ".1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.%d", StatusOn: 1, StatusOff: 0,
		OnOID:     ".1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.%d",
		OffOID:    ".1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.%d",
		RebootOID: ".1.3.6.1.4.1.534.6.6.7.6.6.1.5.0.%d",
	}
	raritan := Generic{
		StatusOID: ".1.3.6.1.4.1.13742.6.4.1.2.1.3.1.%d", StatusOn: 7, StatusOff: 8,
		ControlOID: ".1.3.6.1.4.1.13742.6.4.1.2.1.2.1.%d", OnValue: 1, OffValue: 0, RebootValue: 2,
	}
	sentry3 := Generic{
		StatusOID: ".1.3.6.1.4.1.1718.3.2.3.1.5.1.1.%d", StatusOn: 1, StatusOff: 0,
		ControlOID: ".1.3.6.1.4.1.1718.3.2.3.1.11.1.1.%d", OnValue: 1, OffValue: 2, RebootValue: 3,
	}
	cyberpower := Generic{
		StatusOID: ".1.3.6.1.4.1.3808.1.1.3.3.5.1.1.4.%d", StatusOn: 1, StatusOff: 2,
		ControlOID: ".1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.%d", OnValue: 1, OffValue: 2, RebootValue: 3,
	}
	noReboot := cyberpower
	noReboot.RebootValue = 0
	sameValues := cyberpower
	sameValues.OffValue = 1
	rebootLikeOff := cyberpower
	rebootLikeOff.RebootValue = 2
	sameStatus := cyberpower
	sameStatus.StatusOff = 1
	noControl := cyberpower
	noControl.ControlOID = ""

	tests := []struct {
		name       string
		profile    string
		g          Generic
		wantErr    string
		wantOn     string // SET for outlet 3: "oid=value"
		wantOff    string
		wantReboot string // "" = no reboot command
	}{
		{name: "apc-rpdu", profile: ProfileAPCRack, g: Generic{StatusOID: "ignored"},
			wantOn: ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3=1", wantOff: ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3=2", wantReboot: ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3=3"},
		{name: "apc-spdu", profile: ProfileAPCSwitched,
			wantOn: ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.3=1", wantOff: ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.3=2", wantReboot: ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.3=3"},
		{name: "eaton", profile: ProfileGeneric, g: eaton,
			wantOn: ".1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.3=0", wantOff: ".1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.3=0", wantReboot: ".1.3.6.1.4.1.534.6.6.7.6.6.1.5.0.3=0"},
		{name: "raritan", profile: ProfileGeneric, g: raritan,
			wantOn: ".1.3.6.1.4.1.13742.6.4.1.2.1.2.1.3=1", wantOff: ".1.3.6.1.4.1.13742.6.4.1.2.1.2.1.3=0", wantReboot: ".1.3.6.1.4.1.13742.6.4.1.2.1.2.1.3=2"},
		{name: "servertech sentry3", profile: ProfileGeneric, g: sentry3,
			wantOn: ".1.3.6.1.4.1.1718.3.2.3.1.11.1.1.3=1", wantOff: ".1.3.6.1.4.1.1718.3.2.3.1.11.1.1.3=2", wantReboot: ".1.3.6.1.4.1.1718.3.2.3.1.11.1.1.3=3"},
		{name: "no reboot command", profile: ProfileGeneric, g: noReboot,
			wantOn: ".1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.3=1", wantOff: ".1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.3=2"},
		{name: "on equals off", profile: ProfileGeneric, g: sameValues, wantErr: "on and off write the same value 1"},
		{name: "reboot equals off", profile: ProfileGeneric, g: rebootLikeOff, wantErr: "reboot writes the same value 2"},
		{name: "status on equals off", profile: ProfileGeneric, g: sameStatus, wantErr: "status values for on and off are both 1"},
		{name: "no control OID", profile: ProfileGeneric, g: noControl, wantErr: "control OID is empty"},
		{name: "empty generic", profile: ProfileGeneric, wantErr: "status OID is empty"},
		{name: "unknown profile", profile: "apc", wantErr: `unknown PDU profile "apc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ProfileByName(tt.profile, tt.g)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			set := func(c command) string {
				tmpl, err := parseOIDTemplate(c.oid)
				if err != nil {
					t.Fatal(err)
				}
				return tmpl.oid(3) + "=" + strconv.Itoa(c.value)
			}
			if got := set(p.command(cmdOn)); got != tt.wantOn {
				t.Errorf("on = %s, want %s", got, tt.wantOn)
			}
			if got := set(p.command(cmdOff)); got != tt.wantOff {
				t.Errorf("off = %s, want %s", got, tt.wantOff)
			}
			rb, ok := p.reboot()
			switch {
			case tt.wantReboot == "" && ok:
				t.Errorf("reboot = %s, want none", set(rb))
			case tt.wantReboot != "" && !ok:
				t.Errorf("no reboot command, want %s", tt.wantReboot)
			case ok && set(rb) != tt.wantReboot:
				t.Errorf("reboot = %s, want %s", set(rb), tt.wantReboot)
			}
		})
	}
}

func TestBuiltinProfilesAreCopies(t *testing.T) {
	p := APCRack()
	p.StatusOID = "changed"
	if APCRack().StatusOID == "changed" {
		t.Fatal("APCRack() shares state with its callers")
	}
}
