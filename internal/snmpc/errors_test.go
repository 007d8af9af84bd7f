package snmpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func TestStatusError(t *testing.T) {
	const oid = ".1.3.6.1.2.1.2.2.1.7.5"
	tests := []struct {
		status        gosnmp.SNMPError
		wantMsg       string
		wantTransient bool
	}{
		{gosnmp.NotWritable, "agent refused the SET of .1.3.6.1.2.1.2.2.1.7.5: notWritable", false},
		{gosnmp.WrongType, "wrongType", false},
		{gosnmp.WrongValue, "wrongValue", false},
		{gosnmp.NoAccess, "noAccess (the community or user lacks access)", false},
		{gosnmp.AuthorizationError, "authorizationError (the community or user lacks access)", false},
		{gosnmp.NoSuchName, "noSuchName", false},
		{gosnmp.ReadOnly, "readOnly", false},
		{gosnmp.GenErr, "genErr", true},
		{gosnmp.ResourceUnavailable, "resourceUnavailable", true},
		{gosnmp.CommitFailed, "commitFailed", true},
		{gosnmp.SNMPError(42), "error-status 42", false},
	}
	for _, tt := range tests {
		t.Run(StatusName(tt.status), func(t *testing.T) {
			e := statusError(tt.status, 1, "SET", oid)
			if !strings.Contains(e.Msg, tt.wantMsg) || e.Transient != tt.wantTransient || e.Status != tt.status || e.Index != 1 {
				t.Errorf("error = %q transient=%v status=%v, want %q transient=%v", e.Msg, e.Transient, e.Status, tt.wantMsg, tt.wantTransient)
			}
		})
	}
}

func TestCheckValue(t *testing.T) {
	vb := func(typ gosnmp.Asn1BER) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.2.2.1.7.5", Type: typ, Value: 1}
	}
	tests := []struct {
		typ     gosnmp.Asn1BER
		wantMsg string // "" = no error
	}{
		{gosnmp.Integer, ""},
		{gosnmp.NoSuchObject, "agent refused the GET of .1.3.6.1.2.1.2.2.1.7.5: noSuchObject"},
		{gosnmp.NoSuchInstance, "noSuchInstance"},
		{gosnmp.EndOfMibView, "endOfMibView"},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			err := CheckValue("GET", vb(tt.typ))
			if IsException(vb(tt.typ)) != (tt.wantMsg != "") {
				t.Errorf("IsException disagrees with CheckValue")
			}
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := AsError(err)
			if !strings.Contains(e.Msg, tt.wantMsg) || e.Transient {
				t.Errorf("error = %q transient=%v, want %q permanent", e.Msg, e.Transient, tt.wantMsg)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	a := Access{Address: "10.0.0.9", Community: "private", Timeout: time.Second, Retries: 2, V3User: "ops"}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name          string
		ctx           context.Context
		err           error
		wantMsg       string
		wantTransient bool
	}{
		{"gosnmp timeout", context.Background(), fmt.Errorf("request timeout (after 2 retries): %w", gosnmp.ErrMaxRetriesExceeded), "no answer after 3 attempts of 1s", true},
		{"port unreachable", context.Background(), fmt.Errorf("read: %w", syscall.ECONNREFUSED), "no SNMP agent listening", true},
		{"host unreachable", context.Background(), fmt.Errorf("write: %w", syscall.EHOSTUNREACH), "agent unreachable", true},
		{"unknown user", context.Background(), gosnmp.ErrUnknownUsername, `does not know user "ops"`, false},
		{"wrong digest", context.Background(), gosnmp.ErrWrongDigest, "authentication failed", false},
		{"decryption", context.Background(), gosnmp.ErrDecryption, "could not decrypt", false},
		{"unauthenticated report", context.Background(), errors.New("incoming packet is not authentic, discarding"), "refused the credentials", false},
		{"not in time window", context.Background(), gosnmp.ErrNotInTimeWindow, "SNMP exchange failed", true},
		{"already classified", context.Background(), Permanent(nil, "as it was"), "as it was", false},
		{"ctx cancelled wins", cancelled, gosnmp.ErrWrongDigest, "cancelled", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.ctx, a, tt.err)
			if !strings.Contains(e.Msg, tt.wantMsg) || e.Transient != tt.wantTransient {
				t.Errorf("error = %q transient=%v, want %q transient=%v", e.Msg, e.Transient, tt.wantMsg, tt.wantTransient)
			}
			if strings.Contains(e.Msg, "private") {
				t.Errorf("%q names the community", e.Msg)
			}
		})
	}
}

func TestAsError(t *testing.T) {
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	wrapped := fmt.Errorf("outer: %w", Permanent(nil, "inner"))
	if e := AsError(wrapped); e.Msg != "inner" || e.Transient || IsTransient(wrapped) {
		t.Errorf("AsError(wrapped) = %+v", e)
	}
	if e := AsError(context.DeadlineExceeded); e.Msg != "deadline exceeded" || !e.Transient || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("AsError(deadline) = %+v", e)
	}
	if e := AsError(errors.New("odd")); !e.Transient || e.Msg != "odd" {
		t.Errorf("AsError(odd) = %+v", e)
	}
}
