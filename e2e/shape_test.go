package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// recorder collects Errorf calls, to test the shape checker itself.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestCheckShape makes sure the checker the API tests rely on does fail.
func TestCheckShape(t *testing.T) {
	shape := obj{"id": isInt, "name": isStr, "ok": isBool, "info": isObject, "rack": nullable{obj{"id": isInt}},
		"ip": listOf{obj{"id": isInt}}, "any": anything}
	good := `{"id":1,"name":"","ok":false,"info":{},"rack":null,"ip":[{"id":2}],"any":null}`
	tests := []struct {
		body string
		want string // part of the one expected complaint; empty: none
	}{
		{good, ""},
		{`{"id":1,"name":"a","ok":true,"info":{"x":1},"rack":{"id":3},"ip":[],"any":[1],"extra":1}`, ""},
		{strings.Replace(good, `"id":1`, `"id":"1"`, 1), `.id: string "1", want an integer`},
		{strings.Replace(good, `"id":1`, `"id":1.5`, 1), `.id: number 1.5, want an integer`},
		{strings.Replace(good, `"name":""`, `"name":null`, 1), `.name: null, want a string`},
		{strings.Replace(good, `"ok":false`, `"ok":"false"`, 1), `.ok: string`},
		{strings.Replace(good, `"info":{}`, `"info":null`, 1), `.info: null, want an object`},
		{strings.Replace(good, `"rack":null`, `"rack":{}`, 1), `.rack.id: missing`},
		{strings.Replace(good, `"ip":[{"id":2}]`, `"ip":null`, 1), `.ip: null, want a list`},
		{strings.Replace(good, `"ip":[{"id":2}]`, `"ip":[{"id":"2"}]`, 1), `.ip[0].id: string`},
		{strings.Replace(good, `"name":"",`, ``, 1), `.name: missing`},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		checkShape(r, "x", decode(t, []byte(tt.body)), shape)
		switch {
		case tt.want == "" && len(r.errs) != 0:
			t.Errorf("%s: unexpected complaints %q", tt.body, r.errs)
		case tt.want != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], tt.want)):
			t.Errorf("%s: complaints %q, want one containing %q", tt.body, r.errs, tt.want)
		}
	}
}
