package pdu_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/pdu"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/testutil/snmppdu"
)

// Fast settings for an agent on localhost; real PDUs keep the defaults.
var fast = []pdu.Option{
	pdu.WithResetWait(300 * time.Millisecond),
	pdu.WithConfirmWait(2 * time.Second),
	pdu.WithPollInterval(20 * time.Millisecond),
}

func access(a *snmppdu.Agent, version string) pdu.Access {
	acc := pdu.Access{Address: a.Addr, Port: a.Port, Version: version, Timeout: time.Second, Retries: 1}
	if version == "v3" {
		acc.V3User = a.V3User
		acc.AuthProtocol, acc.AuthPass = "SHA", secret.String(a.AuthPass)
		acc.PrivProtocol, acc.PrivPass = "AES", secret.String(a.PrivPass)
	} else {
		acc.Community = secret.String(a.Community)
	}
	return acc
}

// apcAsGeneric is apc-rpdu spelled as a PDU record would spell it.
var apcAsGeneric = pdu.Generic{
	StatusOID:  ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.%d",
	ControlOID: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4", // no leading dot, trailing index
	OnValue:    1, OffValue: 2, RebootValue: 3,
	StatusOn: 1, StatusOff: 2,
}

// timed runs fn and logs how long it took.
func timed(t *testing.T, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := fn()
	t.Logf("%-28s %8s  err=%v", what, time.Since(start).Round(10*time.Microsecond), err)
	return err
}

func TestControllerAgainstAgent(t *testing.T) {
	profiles := []struct {
		name    string
		profile pdu.Profile
		setOID  string // the column the profile writes, as the script logs it
	}{
		{"apc-rpdu", pdu.APCRack(), snmppdu.OIDrPDUOutletCommand},
		{"apc-spdu", pdu.APCSwitched(), snmppdu.OIDsPDUOutletCtl},
		{"generic as apc-rpdu", pdu.GenericProfile(apcAsGeneric), snmppdu.OIDrPDUOutletCommand},
	}
	for _, version := range []string{"v1", "v2c", "v3"} {
		for _, pr := range profiles {
			t.Run(version+"/"+pr.name, func(t *testing.T) {
				t.Parallel()
				a := snmppdu.Start(t, snmppdu.Options{Outlets: 6, Off: []int{5}})
				p := pdu.New(access(a, version), pr.profile, fast...)
				if err := p.Validate(); err != nil {
					t.Fatal(err)
				}
				exercise(t, a, p, version, pr.setOID)
			})
		}
	}
}

// exercise drives outlets 2 and 5 through every Controller method and
// checks each step in the state file and with net-snmp's snmpget.
func exercise(t *testing.T, a *snmppdu.Agent, p *pdu.PDU, version, setOID string) {
	ctx := context.Background()
	snmpget := a.SNMPGetInt
	if version == "v3" {
		snmpget = a.SNMPGetIntV3
	}
	check := func(n int, want power.State) {
		t.Helper()
		wantFile, wantInt := snmppdu.StateOn, 1
		if want == power.Off {
			wantFile, wantInt = snmppdu.StateOff, 2
		}
		if got := a.OutletState(n); got != wantFile {
			t.Errorf("state file: outlet %d = %s, want %s", n, got, wantFile)
		}
		got, err := snmpget(snmppdu.OIDrPDUOutletStatusState + "." + strconv.Itoa(n))
		if err != nil || got != wantInt {
			t.Errorf("snmpget: outlet %d = %d, %v; want %d", n, got, err, wantInt)
		}
	}
	sets := func() int { return len(a.SetRequests()) }
	o2, o5 := p.Outlet(2), p.Outlet(5)

	var st power.State
	if err := timed(t, "State(2)", func() (err error) { st, err = o2.State(ctx); return }); err != nil || st != power.On {
		t.Fatalf("State(2) = %s, %v; want on", st, err)
	}
	if err := timed(t, "State(5)", func() (err error) { st, err = o5.State(ctx); return }); err != nil || st != power.Off {
		t.Fatalf("State(5) = %s, %v; want off", st, err)
	}

	// Off, then Off again: the second call sends no SET.
	if err := timed(t, "Off(2)", func() error { return o2.Off(ctx) }); err != nil {
		t.Fatal(err)
	}
	check(2, power.Off)
	before := sets()
	if err := timed(t, "Off(2) again", func() error { return o2.Off(ctx) }); err != nil {
		t.Fatal(err)
	}
	if sets() != before {
		t.Errorf("Off on an off outlet sent a SET: %v", a.SetRequests()[before:])
	}

	// On, then On again.
	if err := timed(t, "On(2)", func() error { return o2.On(ctx) }); err != nil {
		t.Fatal(err)
	}
	check(2, power.On)
	before = sets()
	if err := timed(t, "On(2) again", func() error { return o2.On(ctx) }); err != nil {
		t.Fatal(err)
	}
	if sets() != before {
		t.Errorf("On on an on outlet sent a SET: %v", a.SetRequests()[before:])
	}

	// Reset of an on outlet uses the reboot command and returns once it
	// is back on.
	before = sets()
	if err := timed(t, "Reset(2) with reboot", func() error { return o2.Reset(ctx) }); err != nil {
		t.Fatal(err)
	}
	check(2, power.On)
	wantSets := []string{"set " + setOID + ".2 integer 3 -> DONE"}
	if got := a.SetRequests()[before:]; strings.Join(got, "|") != strings.Join(wantSets, "|") {
		t.Errorf("Reset(2) SETs = %q, want %q", got, wantSets)
	}
	if !slices.Contains(a.Events(), "outlet 2 on (reboot finished)") {
		t.Errorf("no finished reboot in the event log: %q", a.Events())
	}

	// Reset of an off outlet switches it on.
	before = sets()
	if err := timed(t, "Reset(5) of an off outlet", func() error { return o5.Reset(ctx) }); err != nil {
		t.Fatal(err)
	}
	check(5, power.On)
	wantSets = []string{"set " + setOID + ".5 integer 1 -> DONE"}
	if got := a.SetRequests()[before:]; strings.Join(got, "|") != strings.Join(wantSets, "|") {
		t.Errorf("Reset(5) SETs = %q, want %q", got, wantSets)
	}

	if err := o5.Off(ctx); err != nil {
		t.Fatal(err)
	}
	var all map[int]power.State
	if err := timed(t, "Outlets()", func() (err error) { all, err = p.Outlets(ctx); return }); err != nil {
		t.Fatal(err)
	}
	want := map[int]power.State{1: power.On, 2: power.On, 3: power.On, 4: power.On, 5: power.Off, 6: power.On}
	if !maps.Equal(all, want) {
		t.Errorf("Outlets() = %v, want %v", all, want)
	}
}

func TestResetWithoutRebootCommand(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 2})
	g := apcAsGeneric
	g.RebootValue = 0
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := pdu.New(access(a, "v2c"), pdu.GenericProfile(g), append(fast, pdu.WithLogger(logger))...)
	if err := timed(t, "Reset(1) off-wait-on", func() error { return p.Outlet(1).Reset(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "msg=\"pdu set\""); n != 2 {
		t.Errorf("logged %d SETs, want 2:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), a.Community) {
		t.Errorf("log contains the community:\n%s", logs.String())
	}
	want := []string{
		"outlet 1 off", "set " + snmppdu.OIDrPDUOutletCommand + ".1 integer 2 -> DONE",
		"outlet 1 on", "set " + snmppdu.OIDrPDUOutletCommand + ".1 integer 1 -> DONE",
	}
	if got := a.Events(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events = %q, want %q", got, want)
	}
	if got := a.OutletState(1); got != snmppdu.StateOn {
		t.Errorf("outlet 1 = %s, want on", got)
	}
}

func TestOutletsGeneric(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 3, Off: []int{2}})
	for _, version := range []string{"v1", "v2c", "v3"} {
		for name, profile := range map[string]pdu.Profile{
			"template": pdu.GenericProfile(apcAsGeneric),
			"apc-spdu": pdu.APCSwitched(),
		} {
			t.Run(version+"/"+name, func(t *testing.T) {
				got, err := pdu.New(access(a, version), profile).Outlets(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if want := map[int]power.State{1: power.On, 2: power.Off, 3: power.On}; !maps.Equal(got, want) {
					t.Errorf("Outlets() = %v, want %v", got, want)
				}
			})
		}
	}
	empty := apcAsGeneric
	empty.StatusOID = ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.9"
	_, err := pdu.New(access(a, "v2c"), pdu.GenericProfile(empty)).Outlets(context.Background())
	if de := deviceError(t, err); de.Transient || !strings.Contains(de.Msg, "no outlets under") {
		t.Errorf("Outlets() on an empty column = %v", err)
	}
}

func on(c power.Controller) error    { return c.On(context.Background()) }
func off(c power.Controller) error   { return c.Off(context.Background()) }
func state(c power.Controller) error { _, err := c.State(context.Background()); return err }
func reset(c power.Controller) error { return c.Reset(context.Background()) }

func deviceError(t *testing.T, err error) *power.DeviceError {
	t.Helper()
	var de *power.DeviceError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want a *power.DeviceError", err, err)
	}
	return de
}

// noSecrets checks that neither the error text nor anything it wraps
// carries a credential.
func noSecrets(t *testing.T, err error, a *snmppdu.Agent, more ...string) {
	t.Helper()
	texts := []string{err.Error()}
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	for _, s := range append([]string{a.Community, a.ROCommunity, a.AuthPass, a.PrivPass}, more...) {
		for _, text := range texts {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("error text %q contains a secret", text)
			}
		}
	}
}
