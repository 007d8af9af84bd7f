package api

import (
	"net/http"
	"testing"
)

func TestSmokeBillingFlow(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		f := e.fixture()
		r := e.must(http.StatusOK, "GET", "/api/dci/v3/server?where=(owner_email+IS+null)%20AND%20is_new+EQ+false&orderby=id%20desc&limit=0,2", e.admin, nil)
		if r.Body["size"].(float64) != 2 {
			t.Fatalf("size = %v, want 2: %s", r.Body["size"], r.Raw)
		}
		r = e.must(http.StatusOK, "GET", "/dci/v3/server", f.userToken, nil)
		if r.Body["size"].(float64) != 1 {
			t.Fatalf("user sees %v servers: %s", r.Body["size"], r.Raw)
		}
	})
}
