package pdu_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/pdu"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/testutil/snmppdu"
)

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 6, Off: []int{1, 2, 3, 4}})
	rw := access(a, "v2c")
	ro := rw
	ro.Community = secret.String(a.ROCommunity)
	badOn := apcAsGeneric
	badOn.OnValue = 9
	statusAsControl := apcAsGeneric
	statusAsControl.ControlOID = apcAsGeneric.StatusOID
	inverted := apcAsGeneric // on and off swapped: the SET is accepted, the read-back disagrees
	inverted.StatusOn, inverted.StatusOff = 2, 1
	rebootDoesNothing := apcAsGeneric // "reboot" writes on to an outlet that is on
	rebootDoesNothing.RebootOID, rebootDoesNothing.RebootValue = snmppdu.OIDsPDUOutletCtl, 1
	rebootStaysOff := apcAsGeneric // "reboot" writes off
	rebootStaysOff.RebootOID, rebootStaysOff.RebootValue = snmppdu.OIDsPDUOutletCtl, 2

	tests := []struct {
		name    string
		acc     pdu.Access
		profile pdu.Profile
		outlet  int
		call    func(power.Controller) error
		want    string // in the message
	}{
		{"invalid value is refused", rw, pdu.GenericProfile(badOn), 1, on, "agent refused the SET of .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1: wrongValue"},
		{"read-only object is refused", rw, pdu.GenericProfile(statusAsControl), 2, on, "agent refused the SET of .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.2: notWritable"},
		{"read-only community", ro, pdu.APCRack(), 3, on, "noAccess"},
		{"outlet that does not exist", rw, pdu.APCRack(), 9, state, "noSuch"},
		{"outlet 0", rw, pdu.APCRack(), 0, state, "invalid outlet number 0"},
		{"outlet does not switch", rw, pdu.GenericProfile(inverted), 4, off, "outlet still reads on 300ms after the off command"},
		{"reboot leaves the outlet on", rw, pdu.GenericProfile(rebootDoesNothing), 5, reset, "outlet stayed on for 400ms after the reboot command"},
		{"reboot leaves the outlet off", rw, pdu.GenericProfile(rebootStaysOff), 6, reset, "outlet still reads off 400ms after the reboot command"},
		{"bad configuration", pdu.Access{Address: a.Addr, Port: a.Port, Version: "v2"}, pdu.APCRack(), 1, state, "SNMP community is empty"},
		{"bad profile", rw, pdu.GenericProfile(pdu.Generic{StatusOID: "1.3.6.1.x"}), 1, state, "not a numeric OID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pdu.New(tt.acc, tt.profile, pdu.WithResetWait(100*time.Millisecond),
				pdu.WithConfirmWait(300*time.Millisecond), pdu.WithPollInterval(20*time.Millisecond))
			err := timed(t, tt.name, func() error { return tt.call(p.Outlet(tt.outlet)) })
			de := deviceError(t, err)
			if de.Transient || power.IsTransient(err) {
				t.Errorf("error is transient, want permanent: %v", err)
			}
			if !strings.Contains(de.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.want)
			}
			if !strings.HasPrefix(de.Device, "pdu 127.0.0.1:") || !strings.Contains(de.Device, " outlet ") {
				t.Errorf("device = %q", de.Device)
			}
			noSecrets(t, err, a)
		})
	}
	for n := 1; n <= 4; n++ {
		if got := a.OutletState(n); got != snmppdu.StateOff {
			t.Errorf("outlet %d = %s, want off", n, got)
		}
	}
	// The SETs that reached the script: wrongValue, notWritable, the
	// inverted profile's off, and the two bogus reboots.
	if sets := a.SetRequests(); len(sets) != 5 {
		t.Errorf("SETs = %q", sets)
	}
}

func TestTransientErrors(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 2})
	wrongCommunity := access(a, "v2c")
	wrongCommunity.Community = "n0t-the-community"
	wrongCommunity.Timeout, wrongCommunity.Retries = 200*time.Millisecond, 1
	wrongPriv := access(a, "v3")
	wrongPriv.PrivPass = "n0t-the-priv-pass"
	wrongPriv.Timeout, wrongPriv.Retries = 200*time.Millisecond, 0

	tests := []struct {
		name string
		acc  pdu.Access
		call func(power.Controller) error
		want string
	}{
		{"wrong community on a read", wrongCommunity, state, "no answer after 2 attempts of 200ms"},
		{"wrong community on On", wrongCommunity, on, "no answer after 2 attempts of 200ms"},
		{"wrong v3 privacy password", wrongPriv, off, "no answer after 1 attempt of 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pdu.New(tt.acc, pdu.APCRack(), fast...)
			err := timed(t, tt.name, func() error { return tt.call(p.Outlet(1)) })
			de := deviceError(t, err)
			if !de.Transient || !power.IsTransient(err) {
				t.Errorf("error is permanent, want transient: %v", err)
			}
			if !strings.Contains(de.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.want)
			}
			noSecrets(t, err, a, string(tt.acc.Community), string(tt.acc.PrivPass))
		})
	}
	if sets := a.SetRequests(); len(sets) != 0 {
		t.Errorf("agent executed SETs: %v", sets)
	}
}

func TestV3Credentials(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 2})
	wrongAuth := access(a, "v3")
	wrongAuth.AuthPass = "n0t-the-auth-pass"
	wrongUser := access(a, "v3")
	wrongUser.V3User = "nobody"

	tests := []struct {
		name string
		acc  pdu.Access
		want string
	}{
		{"wrong auth password", wrongAuth, `refused the credentials of user "pduops"`},
		{"unknown user", wrongUser, `refused the credentials of user "nobody"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pdu.New(tt.acc, pdu.APCRack(), fast...)
			err := timed(t, tt.name, func() error { return p.Outlet(1).Off(context.Background()) })
			de := deviceError(t, err)
			if de.Transient {
				t.Errorf("error is transient, want permanent: %v", err)
			}
			if !strings.Contains(de.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.want)
			}
			noSecrets(t, err, a, string(tt.acc.AuthPass))
		})
	}
	if got := a.OutletState(1); got != snmppdu.StateOn {
		t.Errorf("outlet 1 = %s, want on", got)
	}
}

func TestAgentStopped(t *testing.T) {
	t.Parallel()
	t.Run("before the call", func(t *testing.T) {
		a := snmppdu.Start(t, snmppdu.Options{Outlets: 2, Off: []int{1}})
		acc := access(a, "v2c")
		acc.Timeout, acc.Retries = 300*time.Millisecond, 1
		p := pdu.New(acc, pdu.APCRack(), fast...)
		a.Stop()
		err := timed(t, "On(1) after Stop", func() error { return p.Outlet(1).On(context.Background()) })
		if de := deviceError(t, err); !de.Transient {
			t.Errorf("error is permanent, want transient: %v", err)
		}
		if _, err := p.Outlets(context.Background()); !power.IsTransient(err) {
			t.Errorf("Outlets() after Stop = %v, want a transient error", err)
		}
	})

	t.Run("between off and on of a reset", func(t *testing.T) {
		a := snmppdu.Start(t, snmppdu.Options{Outlets: 2})
		acc := access(a, "v2c")
		acc.Timeout, acc.Retries = 300*time.Millisecond, 1
		g := apcAsGeneric
		g.RebootValue = 0
		p := pdu.New(acc, pdu.GenericProfile(g), pdu.WithResetWait(2*time.Second), pdu.WithPollInterval(20*time.Millisecond))
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if a.OutletState(1) == snmppdu.StateOff {
					break
				}
			}
			a.Stop()
		}()
		err := timed(t, "Reset(1) with agent stopping", func() error { return p.Outlet(1).Reset(context.Background()) })
		<-stopped
		if de := deviceError(t, err); !de.Transient {
			t.Errorf("error is permanent, want transient: %v", err)
		}
		if got := a.OutletState(1); got != snmppdu.StateOff {
			t.Errorf("outlet 1 = %s, want off (the agent died before the on)", got)
		}
	})
}

func TestContextEnds(t *testing.T) {
	t.Parallel()
	a := snmppdu.Start(t, snmppdu.Options{Outlets: 2})
	g := apcAsGeneric
	g.RebootValue = 0
	p := pdu.New(access(a, "v2c"), pdu.GenericProfile(g), pdu.WithResetWait(time.Minute))

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline during the reset wait", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled during the reset wait", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.SetOutletState(1, true); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := tt.ctx()
			defer cancel()
			err := timed(t, tt.name, func() error { return p.Outlet(1).Reset(ctx) })
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if de := deviceError(t, err); !de.Transient {
				t.Errorf("error is permanent, want transient: %v", err)
			}
		})
	}

	// An agent that never answers: the pending read is abandoned when ctx
	// ends, long before the 10 s timeout.
	hole, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	silent := pdu.Access{Address: "127.0.0.1", Port: hole.LocalAddr().(*net.UDPAddr).Port,
		Community: "private", Timeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	err = timed(t, "State, 10s timeout, cancelled", func() error {
		_, err := pdu.New(silent, pdu.APCRack()).Outlet(1).State(ctx)
		return err
	})
	if !errors.Is(err, context.Canceled) || !power.IsTransient(err) {
		t.Errorf("err = %v, want a transient error wrapping context.Canceled", err)
	}
}
