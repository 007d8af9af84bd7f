package snmpc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
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
			g, err := a.config()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if a.Validate() == nil {
					t.Error("Validate() = nil")
				}
				for _, s := range []string{community, auth, priv, "short"} {
					if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v %v", a, a, a), s) {
						t.Errorf("%q or the access leaks a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Port != 161 || g.Timeout != DefaultTimeout || g.Retries != 0 || g.MaxRepetitions != DefaultMaxRepetitions {
				t.Errorf("defaults: port %d timeout %s retries %d repetitions %d", g.Port, g.Timeout, g.Retries, g.MaxRepetitions)
			}
			if g.Version == gosnmp.Version3 && g.MsgFlags != tt.wantFlags {
				t.Errorf("flags = %v, want %v", g.MsgFlags, tt.wantFlags)
			}
		})
	}
}

func TestAccessHelpers(t *testing.T) {
	a := Access{Address: "10.0.0.9"}
	if a.Target() != "10.0.0.9:161" || a.Attempts() != "1 attempt of 2s" {
		t.Errorf("Target() = %q, Attempts() = %q", a.Target(), a.Attempts())
	}
	a = Access{Address: "fd00::9", Port: 1161, Timeout: 300 * time.Millisecond, Retries: 2}
	if a.Target() != "[fd00::9]:1161" || a.Attempts() != "3 attempts of 300ms" {
		t.Errorf("Target() = %q, Attempts() = %q", a.Target(), a.Attempts())
	}
}
