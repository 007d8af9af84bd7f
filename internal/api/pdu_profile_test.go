package api

import (
	"net/http"
	"testing"
)

func TestPDUProfiles(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		base := func(extra map[string]any) map[string]any {
			b := map[string]any{"name": "pdu-x", "address": "127.0.0.1", "snmp_community": "c"}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}
		generic := map[string]any{"status_oid": ".1.3.6.1.4.1.3808.1.1.3.3.5.1.1.4.%d", "control_oid": ".1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4",
			"on_value": 1, "off_value": 2, "reboot_value": 3, "status_on": 1, "status_off": 2}
		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"unknown profile", base(map[string]any{"profile": "bogus"}), http.StatusBadRequest},
			{"generic without oids", base(map[string]any{"profile": "generic"}), http.StatusBadRequest},
			{"generic with a bad oid", base(map[string]any{"profile": "generic",
				"generic_oids": map[string]any{"status_oid": "1.3.x", "control_oid": ".1.3", "status_on": 1, "status_off": 2}}), http.StatusBadRequest},
			{"generic with equal statuses", base(map[string]any{"profile": "generic",
				"generic_oids": map[string]any{"status_oid": ".1.3", "control_oid": ".1.3", "status_on": 1, "status_off": 1}}), http.StatusBadRequest},
			{"generic", base(map[string]any{"profile": "generic", "generic_oids": generic}), http.StatusOK},
		} {
			r := e.do("POST", "/api/dci/v3/pdu", e.admin, c.body)
			if r.Status != c.status {
				t.Fatalf("%s: status %d, want %d: %s", c.name, r.Status, c.status, r.Raw)
			}
			if c.status != http.StatusOK {
				if _, msg := errBody(t, r); msg == "" {
					t.Fatalf("%s: empty message", c.name)
				}
				continue
			}
			id := int64(r.Body["id"].(float64))
			got := e.must(http.StatusOK, "GET", "/api/dci/v3/pdu/"+itoa(id), e.admin, nil)
			oids := got.Body["generic_oids"].(map[string]any)
			if oids["status_oid"] != generic["status_oid"] || oids["status_off"].(float64) != 2 {
				t.Fatalf("generic oids not kept: %s", got.Raw)
			}
		}
		r := e.must(http.StatusOK, "GET", "/api/dci/v3/pdu?where=name+EQ+'pdu-x'", e.admin, nil)
		if r.Body["size"].(float64) != 1 {
			t.Fatalf("refused PDUs were stored: %s", r.Raw)
		}
	})
}
