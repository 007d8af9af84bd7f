package pdu

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dcimd/dcimd/internal/power"
)

// The credential checks themselves are internal/snmpc's; here: a PDU with
// bad credentials fails every call permanently, without leaking them.
func TestAccessValidation(t *testing.T) {
	const community, auth, priv = "s3cret-community", "s3cret-auth", "s3cret-priv"
	v3 := Access{Address: "10.0.0.9", Version: "v3", V3User: "ops", AuthProtocol: "sha256", AuthPass: auth, PrivProtocol: "aes256", PrivPass: priv}
	tests := []struct {
		name    string
		mutate  func(*Access)
		wantErr string // "" = valid
	}{
		{name: "v2c", mutate: func(a *Access) { *a = Access{Address: "10.0.0.9", Community: community} }},
		{name: "v3 authPriv"},
		{name: "no address", mutate: func(a *Access) { a.Address = " " }, wantErr: "address is empty"},
		{name: "bad port", mutate: func(a *Access) { a.Port = 70000 }, wantErr: "port 70000"},
		{name: "no community", mutate: func(a *Access) { a.Version, a.Community = "v2c", "" }, wantErr: "community is empty"},
		{name: "short auth password", mutate: func(a *Access) { a.AuthPass = "short" }, wantErr: "auth password must have at least 8"},
		{name: "short priv password", mutate: func(a *Access) { a.PrivPass = "short" }, wantErr: "privacy password must have at least 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := v3
			if tt.mutate != nil {
				tt.mutate(&a)
			}
			p := New(a, APCRack())
			err := p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			for _, call := range []func() error{
				func() error { return p.Outlet(1).On(context.Background()) },
				func() error { _, err := p.Outlets(context.Background()); return err },
			} {
				callErr := call()
				if callErr == nil || power.IsTransient(callErr) || !strings.Contains(callErr.Error(), tt.wantErr) {
					t.Errorf("call error = %v, want a permanent %q", callErr, tt.wantErr)
				}
				for _, s := range []string{community, auth, priv, "short"} {
					if strings.Contains(callErr.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v", callErr, a), s) {
						t.Errorf("%q leaks a secret", callErr)
					}
				}
			}
		})
	}
}
