package pdu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/power"
)

func TestAccessValidation(t *testing.T) {
	const community, auth, priv = "s3cret-community", "s3cret-auth", "s3cret-priv"
	v3 := Access{Address: "10.0.0.9", Version: "v3", V3User: "ops", AuthProtocol: "sha256", AuthPass: auth, PrivProtocol: "aes256", PrivPass: priv}
	tests := []struct {
		name      string
		mutate    func(*Access)
		wantErr   string
		wantFlags gosnmp.SnmpV3MsgFlags
	}{
		{name: "v2c", mutate: func(a *Access) { *a = Access{Address: "10.0.0.9", Community: community} }},
		{name: "v1", mutate: func(a *Access) { *a = Access{Address: "10.0.0.9", Version: "v1", Community: community} }},
		{name: "v3 authPriv", wantFlags: gosnmp.AuthPriv},
		{name: "v3 authNoPriv", mutate: func(a *Access) { a.PrivProtocol, a.PrivPass = "", "" }, wantFlags: gosnmp.AuthNoPriv},
		{name: "v3 noAuthNoPriv", mutate: func(a *Access) { a.AuthProtocol, a.PrivProtocol = "", "" }, wantFlags: gosnmp.NoAuthNoPriv},
		{name: "no address", mutate: func(a *Access) { a.Address = " " }, wantErr: "address is empty"},
		{name: "bad port", mutate: func(a *Access) { a.Port = 70000 }, wantErr: "port 70000"},
		{name: "bad version", mutate: func(a *Access) { a.Version = "v4" }, wantErr: `"v4" is not v1, v2c or v3`},
		{name: "no community", mutate: func(a *Access) { a.Version, a.Community = "v2c", "" }, wantErr: "community is empty"},
		{name: "no user", mutate: func(a *Access) { a.V3User = "" }, wantErr: "user is empty"},
		{name: "bad auth protocol", mutate: func(a *Access) { a.AuthProtocol = "SHA3" }, wantErr: `auth protocol "SHA3"`},
		{name: "short auth password", mutate: func(a *Access) { a.AuthPass = "short" }, wantErr: "auth password must have at least 8"},
		{name: "bad priv protocol", mutate: func(a *Access) { a.PrivProtocol = "3DES" }, wantErr: `privacy protocol "3DES"`},
		{name: "short priv password", mutate: func(a *Access) { a.PrivPass = "short" }, wantErr: "privacy password must have at least 8"},
		{name: "priv without auth", mutate: func(a *Access) { a.AuthProtocol = "" }, wantErr: "privacy needs an auth protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := v3
			if tt.mutate != nil {
				tt.mutate(&a)
			}
			p := New(a, APCRack())
			g, err := p.gosnmpConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				// The error a call returns is permanent and carries no secret.
				callErr := p.Outlet(1).On(context.Background())
				if power.IsTransient(callErr) {
					t.Errorf("config error is transient: %v", callErr)
				}
				for _, s := range []string{community, auth, priv, "short"} {
					if strings.Contains(callErr.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v", callErr, a), s) {
						t.Errorf("%q leaks a secret", callErr)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Port != 161 || g.Timeout != DefaultTimeout || g.Retries != 0 {
				t.Errorf("defaults: port %d timeout %s retries %d", g.Port, g.Timeout, g.Retries)
			}
			if g.Version == gosnmp.Version3 && g.MsgFlags != tt.wantFlags {
				t.Errorf("flags = %v, want %v", g.MsgFlags, tt.wantFlags)
			}
		})
	}
}

func TestCheckPacket(t *testing.T) {
	vb := func(typ gosnmp.Asn1BER) []gosnmp.SnmpPDU {
		return []gosnmp.SnmpPDU{{Name: ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.1", Type: typ, Value: 1}}
	}
	tests := []struct {
		name          string
		pkt           gosnmp.SnmpPacket
		wantMsg       string // "" = no error
		wantTransient bool
	}{
		{"accepted", gosnmp.SnmpPacket{Variables: vb(gosnmp.Integer)}, "", false},
		{"notWritable", gosnmp.SnmpPacket{Error: gosnmp.NotWritable, Variables: vb(gosnmp.Integer)}, "agent refused the SET of .1.3.6.1.4.1.318.1.1.4.4.2.1.3.1: notWritable", false},
		{"wrongType", gosnmp.SnmpPacket{Error: gosnmp.WrongType, Variables: vb(gosnmp.Integer)}, "wrongType", false},
		{"wrongValue", gosnmp.SnmpPacket{Error: gosnmp.WrongValue, Variables: vb(gosnmp.Integer)}, "wrongValue", false},
		{"authorizationError", gosnmp.SnmpPacket{Error: gosnmp.AuthorizationError, Variables: vb(gosnmp.Integer)}, "authorizationError (the community or user lacks access)", false},
		{"noSuchName (v1)", gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, Variables: vb(gosnmp.Integer)}, "noSuchName", false},
		{"readOnly (v1)", gosnmp.SnmpPacket{Error: gosnmp.ReadOnly, Variables: vb(gosnmp.Integer)}, "readOnly", false},
		{"genErr", gosnmp.SnmpPacket{Error: gosnmp.GenErr, Variables: vb(gosnmp.Integer)}, "genErr", true},
		{"resourceUnavailable", gosnmp.SnmpPacket{Error: gosnmp.ResourceUnavailable, Variables: vb(gosnmp.Integer)}, "resourceUnavailable", true},
		{"noSuchObject with errstat 0", gosnmp.SnmpPacket{Variables: vb(gosnmp.NoSuchObject)}, "noSuchObject", false},
		{"noSuchInstance with errstat 0", gosnmp.SnmpPacket{Variables: vb(gosnmp.NoSuchInstance)}, "noSuchInstance", false},
		{"endOfMibView", gosnmp.SnmpPacket{Variables: vb(gosnmp.EndOfMibView)}, "endOfMibView", false},
		{"no varbind", gosnmp.SnmpPacket{}, "with 0 values", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPacket(&tt.pkt, "SET", ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.1")
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var f *failure
			if !errors.As(err, &f) {
				t.Fatalf("err = %v, want a failure", err)
			}
			if !strings.Contains(f.msg, tt.wantMsg) || f.transient != tt.wantTransient {
				t.Errorf("failure = %q transient=%v, want %q transient=%v", f.msg, f.transient, tt.wantMsg, tt.wantTransient)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	p := New(Access{Address: "10.0.0.9", Community: "private", Timeout: time.Second, Retries: 2, V3User: "ops"}, APCRack())
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
		{"unknown user", context.Background(), gosnmp.ErrUnknownUsername, `does not know user "ops"`, false},
		{"wrong digest", context.Background(), gosnmp.ErrWrongDigest, "authentication failed", false},
		{"unauthenticated report", context.Background(), errors.New("incoming packet is not authentic, discarding"), "refused the credentials", false},
		{"not in time window", context.Background(), gosnmp.ErrNotInTimeWindow, "SNMP exchange failed", true},
		{"ctx cancelled wins", cancelled, gosnmp.ErrWrongDigest, "cancelled", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *failure
			if !errors.As(p.classify(tt.ctx, tt.err), &f) {
				t.Fatal("not a failure")
			}
			if !strings.Contains(f.msg, tt.wantMsg) || f.transient != tt.wantTransient {
				t.Errorf("failure = %q transient=%v, want %q transient=%v", f.msg, f.transient, tt.wantMsg, tt.wantTransient)
			}
		})
	}
}
