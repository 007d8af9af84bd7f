package api

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"testing"
)

// The server object of api-compat §7 / seed 003, its configuration counts,
// owner, switch and PDU connections, state, settings and MAC.

// JSON kinds of the server object's keys. "rel" is a relation: an object of
// srvRelShapes, or null when absent.
var srvShape = map[string]string{
	"id": "number", "name": "string", "domain": "string", "configuration": "string", "mac": "string", "state": "string",
	"state_info": "string", "is_new": "bool", "power_status": "string", "owner_email": "string",
	"location_id": "number", "unit": "number", "slot": "number", "main_ipv4": "number", "main_ipv6": "number",
	"hardware_info": "object", "perform_info": "object", "settings": "object",
	"ip": "array", "switch_connection": "array", "diag_error": "array",
	"operation": "rel", "os_template": "rel", "pdu_connection": "rel", "ipmi": "rel", "intel_amt": "rel", "location": "rel",
	"platform": "rel", "rack": "rel", "chassis": "rel", "owner": "rel",
}

var srvRelShapes = map[string]map[string]string{
	"operation":   {"id": "number", "status": "string", "status_info": "object", "progress_info": "array"},
	"os_template": {"id": "number", "name": "string", "tags": "array"},
	"pdu_connection": {"port_id": "number", "port_identity": "string", "pdu_id": "number", "pdu_name": "string",
		"connection_id": "number", "power_status": "string"},
	"ipmi": {"address": "string", "id": "number", "status": "string", "status_info": "object", "type": "string",
		"web_url": "string"},
	"intel_amt": {"address": "string", "id": "number", "status": "string", "status_info": "object", "protocol": "string"},
	"location":  {"geolocation": "string", "id": "number", "name": "string", "userspace": "number"},
	"platform":  {"id": "number", "name": "string", "size": "number", "type": "string"},
	"rack":      {"id": "number", "name": "string", "size": "number"},
	"chassis":   {"id": "number", "name": "string", "size": "number", "server_slot_count": "number"},
	"owner":     {"id": "number", "email": "string"},
	// list items and settings
	"ip": {"domain": "string", "family": "string", "gateway": "string", "id": "number", "name": "string", "network": "string",
		"status": "string", "status_info": "object"},
	"switch_connection": {"id": "number", "switch": "number", "connection_id": "number", "description": "string",
		"admin_status": "string", "oper_status": "string", "do_not_collect_traffic": "bool", "is_ipmi_connection": "bool"},
	"diag_error": {"type": "string", "info": "string"},
	"settings":   {"efi": "bool"},
}

func srvKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// srvCheckShape checks every key of the server object is present with its
// JSON kind; relations must be objects (or null when allowNull says so).
func srvCheckShape(t *testing.T, what string, obj map[string]any, related bool) {
	t.Helper()
	checkKeys := func(where string, m map[string]any, shape map[string]string) {
		for k, kind := range shape {
			v, ok := m[k]
			if !ok {
				t.Errorf("%s: %s: key %q is missing", what, where, k)
				continue
			}
			if got := srvKind(v); got != kind {
				t.Errorf("%s: %s: %q is %s (%v), want %s", what, where, k, got, v, kind)
			}
		}
	}
	for k, kind := range srvShape {
		v, ok := obj[k]
		if !ok {
			t.Errorf("%s: key %q is missing", what, k)
			continue
		}
		if kind != "rel" {
			if got := srvKind(v); got != kind {
				t.Errorf("%s: %q is %s (%v), want %s", what, k, got, v, kind)
			}
			if sub, ok := srvRelShapes[k]; ok {
				switch x := v.(type) {
				case []any:
					for i, it := range x {
						m, ok := it.(map[string]any)
						if !ok {
							t.Errorf("%s: %s[%d] is not an object: %v", what, k, i, it)
							continue
						}
						checkKeys(fmt.Sprintf("%s[%d]", k, i), m, sub)
					}
				case map[string]any:
					checkKeys(k, x, sub)
				}
			}
			continue
		}
		m, isObj := v.(map[string]any)
		switch {
		case v == nil && (!related || k == "intel_amt" || k == "operation"):
		case isObj:
			if len(m) == 0 {
				t.Errorf("%s: relation %q is an empty object, want null or the object", what, k)
			}
			checkKeys(k, m, srvRelShapes[k])
		default:
			t.Errorf("%s: relation %q = %v, want an object", what, k, v)
		}
	}
	if _, has := obj["ip"]; has {
		for _, it := range obj["ip"].([]any) {
			if _, has := it.(map[string]any)["server"]; has {
				t.Errorf("%s: ip item has \"server\": %v", what, it)
			}
		}
	}
	if ps := obj["power_status"]; ps != "on" && ps != "off" && ps != "unknown" {
		t.Errorf("%s: power_status = %v", what, ps)
	}
}

// srvWorld is everything a fully related server refers to.
type srvWorld struct {
	loc, rack, platform, chassis, tpl, sw, port1, port2, pdu, outlet1, outlet2 int64
	userToken                                                                  string
	userID                                                                     int64
}

func (e *env) srvWorld() srvWorld {
	e.t.Helper()
	var w srvWorld
	w.loc = e.create(biDCI+"/location", map[string]any{"name": "DC1", "geolocation": "1st Street, 25", "userspace": 3})
	w.rack = e.create(biDCI+"/rack", map[string]any{"name": "R1", "size": 47, "location_id": w.loc})
	w.platform = e.create(biDCI+"/platform", map[string]any{"name": "SYS-1", "size": 2, "type": "blade"})
	w.chassis = e.create(biDCI+"/chassis", map[string]any{"name": "CH1", "size": 10, "server_slot_count": 16,
		"location_id": w.loc, "rack_id": w.rack, "unit": 1})
	w.tpl = e.create(biDCI+"/os_template", map[string]any{"name": "Debian 12", "tags": []string{"linux", "debian"}})
	w.sw = e.create(biDCI+"/switch", map[string]any{"name": "sw1", "address": "10.0.0.1", "snmp_community": "c-SECRET"})
	w.port1 = e.create(biDCI+"/switch/"+itoa(w.sw)+"/port", map[string]any{"identity": "1", "description": "full eth0", "admin_status": "up", "oper_status": "down"})
	w.port2 = e.create(biDCI+"/switch/"+itoa(w.sw)+"/port", map[string]any{"identity": "2"})
	w.pdu = e.create(biDCI+"/pdu", map[string]any{"name": "pdu1", "address": "10.0.0.2"})
	w.outlet1 = e.create(biDCI+"/pdu/"+itoa(w.pdu)+"/port", map[string]any{"identity": "A1"})
	w.outlet2 = e.create(biDCI+"/pdu/"+itoa(w.pdu)+"/port", map[string]any{"identity": "A2"})
	w.userToken, w.userID = e.newUser("owner@example.com")
	return w
}

// srvSQL runs a statement written for both dialects and returns the id it
// gives back (RETURNING id).
func (e *env) srvSQL(t *testing.T, q string) int64 {
	t.Helper()
	var id int64
	if err := e.db.SQL().QueryRow(q).Scan(&id); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return id
}

func TestServerObjectShape(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		w := e.srvWorld()
		full := e.create(biDCI+"/server", map[string]any{"name": "full", "domain": "full.example.com", "mac": "52:54:00:12:34:56",
			"configuration": "i9-9900K-64Gb", "location_id": w.loc, "rack_id": w.rack, "unit": 5, "platform_id": w.platform,
			"chassis_id": w.chassis, "slot": 3, "os_template_id": w.tpl, "settings": map[string]any{"efi": true},
			"hardware_info": map[string]any{"cpu": map[string]any{"model": "i9-9900K", "cores": 8}, "memory": 64}})
		bare := e.create(biDCI+"/server", map[string]any{"name": "bare"})
		bmc := e.create(biDCI+"/ipmi", map[string]any{"server_id": full, "address": "10.1.0.5", "type": "IPMI v1.5/v2",
			"web_url": "https://10.1.0.5/", "password": "ipmi-SECRET"})
		e.must(http.StatusOK, "POST", biDCI+"/server/"+itoa(full)+"/owner", e.admin, map[string]any{"owner": w.userID})
		c1 := e.create(biDCI+"/server/"+itoa(full)+"/switch_connection", map[string]any{"switch_port_id": w.port1,
			"is_ipmi_connection": true, "do_not_collect_traffic": true})
		c2 := e.create(biDCI+"/server/"+itoa(full)+"/switch_connection", map[string]any{"switch_port_id": w.port2})
		pc := e.create(biDCI+"/server/"+itoa(full)+"/pdu_connection", map[string]any{"pdu_port_id": w.outlet1})
		// Addresses and diagnostics have no write API here: put them in the
		// database directly.
		net4 := e.srvSQL(t, `INSERT INTO ipnets (name, family, prefix_len, gateway, vlan, note, userspace, type, created_at, updated_at)
			VALUES ('10.1.0.0/24', 4, 24, '10.1.0.1', '', '', 1, 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`)
		net6 := e.srvSQL(t, `INSERT INTO ipnets (name, family, prefix_len, gateway, vlan, note, userspace, type, created_at, updated_at)
			VALUES ('2001:db8::/64', 6, 64, '2001:db8::1', '', '', 1, 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`)
		ip4 := e.srvSQL(t, fmt.Sprintf(`INSERT INTO ips (name, family, ipnet_id, userspace, server_id, domain, status, status_info, note, reserved, created_at, updated_at)
			VALUES ('10.1.0.10', 4, %d, 1, %d, 'full.example.com', 'ok', '{}', '', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`, net4, full))
		ip6 := e.srvSQL(t, fmt.Sprintf(`INSERT INTO ips (name, family, ipnet_id, userspace, server_id, domain, status, status_info, note, reserved, created_at, updated_at)
			VALUES ('2001:db8::10', 6, %d, 1, %d, '', 'ok', '{}', '', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`, net6, full))
		if _, err := e.db.SQL().Exec(fmt.Sprintf(`UPDATE servers SET main_ipv4 = %d, main_ipv6 = %d,
			diag_error = '[{"type":"disk","info":"SMART: reallocated sectors"}]', perform_info = '{"cpu_score":1234}' WHERE id = %d`, ip4, ip6, full)); err != nil {
			t.Fatal(err)
		}

		r := e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(full), e.admin, nil)
		invNoSecrets(t, "GET server", r.Raw)
		srvCheckShape(t, "full server", r.Body, true)
		f := r.Body
		want := map[string]any{
			"id": full, "name": "full", "domain": "full.example.com", "mac": "52:54:00:12:34:56", "configuration": "i9-9900K-64Gb",
			"state": "ok", "state_info": "", "is_new": false, "owner_email": "owner@example.com", "location_id": w.loc, "unit": 5,
			"slot": 3, "main_ipv4": ip4, "main_ipv6": ip6, "settings": map[string]any{"efi": true},
			"hardware_info": map[string]any{"cpu": map[string]any{"model": "i9-9900K", "cores": 8}, "memory": 64},
			"perform_info":  map[string]any{"cpu_score": 1234},
			"diag_error":    []any{map[string]any{"type": "disk", "info": "SMART: reallocated sectors"}},
			"os_template":   map[string]any{"id": w.tpl, "name": "Debian 12", "tags": []string{"linux", "debian"}},
			"location":      map[string]any{"id": w.loc, "name": "DC1", "geolocation": "1st Street, 25", "userspace": 3},
			"platform":      map[string]any{"id": w.platform, "name": "SYS-1", "size": 2, "type": "blade"},
			"rack":          map[string]any{"id": w.rack, "name": "R1", "size": 47},
			"chassis":       map[string]any{"id": w.chassis, "name": "CH1", "size": 10, "server_slot_count": 16},
			"owner":         map[string]any{"id": w.userID, "email": "owner@example.com"},
			"pdu_connection": map[string]any{"port_id": w.outlet1, "port_identity": "A1", "pdu_id": w.pdu, "pdu_name": "pdu1",
				"connection_id": pc, "power_status": "unknown"},
			"ipmi": map[string]any{"id": bmc, "address": "10.1.0.5", "status": "unknown", "status_info": map[string]any{},
				"type": "IPMI v1.5/v2", "web_url": "https://10.1.0.5/"},
			"switch_connection": []any{
				map[string]any{"id": w.port1, "switch": w.sw, "connection_id": c1, "description": "full eth0", "admin_status": "up",
					"oper_status": "down", "do_not_collect_traffic": true, "is_ipmi_connection": true},
				map[string]any{"id": w.port2, "switch": w.sw, "connection_id": c2, "description": "", "admin_status": "unknown",
					"oper_status": "unknown", "do_not_collect_traffic": false, "is_ipmi_connection": false}},
			"ip": []any{
				map[string]any{"id": ip4, "name": "10.1.0.10", "family": "ipv4", "domain": "full.example.com", "gateway": "10.1.0.1",
					"network": "10.1.0.0/24", "status": "ok", "status_info": map[string]any{}},
				map[string]any{"id": ip6, "name": "2001:db8::10", "family": "ipv6", "domain": "", "gateway": "2001:db8::1",
					"network": "2001:db8::/64", "status": "ok", "status_info": map[string]any{}}},
		}
		srvCheckValues(t, "full server", f, want)

		r = e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(bare), e.admin, nil)
		srvCheckShape(t, "bare server", r.Body, false)
		wantBare := map[string]any{"id": bare, "name": "bare", "domain": "", "mac": "", "configuration": "", "state": "ok",
			"state_info": "", "is_new": false, "owner_email": "", "location_id": 0, "unit": 0, "slot": 0, "main_ipv4": 0, "main_ipv6": 0,
			"power_status": "unknown", "settings": map[string]any{"efi": false}, "hardware_info": map[string]any{},
			"perform_info": map[string]any{}, "ip": []any{}, "switch_connection": []any{}, "diag_error": []any{}}
		for k := range srvShape {
			if srvShape[k] == "rel" {
				wantBare[k] = nil
			}
		}
		srvCheckValues(t, "bare server", r.Body, wantBare)

		// The list shows the same objects, each with a top-level power_status.
		items, size, raw := e.invList(t, biDCI+"/server")
		invNoSecrets(t, "GET /server", raw)
		if size != 2 || len(items) != 2 {
			t.Fatalf("GET /server: size %d, %d items", size, len(items))
		}
		for _, it := range items {
			one := e.must(http.StatusOK, "GET", biDCI+"/server/"+fmt.Sprint(it["id"]), e.admin, nil)
			if !reflect.DeepEqual(it, one.Body) {
				t.Errorf("list item differs from GET one:\n%s\n%s", biJSON(it), one.Raw)
			}
			srvCheckShape(t, "list item", it, it["id"] == float64(full))
		}
		// The owner sees its server in the same shape, and only that one.
		uitems := e.must(http.StatusOK, "GET", biDCI+"/server", w.userToken, nil)
		ul, _ := uitems.Body["list"].([]any)
		if uitems.Body["size"] != float64(1) || len(ul) != 1 || !reflect.DeepEqual(ul[0], f) {
			t.Errorf("owner's list: %s", uitems.Raw)
		}
		// Lists of the server's addresses agree with the object.
		ips := e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(full)+"/ip", e.admin, nil)
		if ips.Body["size"] != float64(2) {
			t.Errorf("GET /server/%d/ip: %s", full, ips.Raw)
		}
		// where on relation fields.
		for q, n := range map[string]float64{"owner_email EQ 'owner@example.com'": 1, "owner_email IS null": 1, "location_id IS null": 1,
			"rack EQ " + itoa(w.rack): 1, "is_new EQ false AND power_status EQ 'unknown'": 2, "mac EQ '52:54:00:12:34:56'": 1} {
			r := e.must(http.StatusOK, "GET", biDCI+"/server?where="+url.QueryEscape(q), e.admin, nil)
			if r.Body["size"] != n {
				t.Errorf("where %s: size %v, want %v", q, r.Body["size"], n)
			}
		}
	})
}

// srvCheckValues compares the given keys of a server object with want.
func srvCheckValues(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if w := invNorm(want[k]); !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s: %s = %s, want %s", what, k, biJSON(got[k]), biJSON(w))
		}
	}
}

func TestServerConfigurationCounts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		_, uid := e.newUser("buyer@example.com")
		var a []int64
		for i := 0; i < 3; i++ {
			a = append(a, e.create(biDCI+"/server", map[string]any{"name": fmt.Sprintf("a%d", i), "configuration": "i9-9900K-64Gb-2x1024NVMe"}))
		}
		b := e.create(biDCI+"/server", map[string]any{"name": "b", "configuration": "E5-2650-32Gb"})
		e.create(biDCI+"/server", map[string]any{"name": "none"})
		e.must(http.StatusOK, "POST", biDCI+"/server/"+itoa(a[0])+"/owner", e.admin, map[string]any{"owner": uid})
		e.must(http.StatusOK, "POST", biDCI+"/server/"+itoa(b)+"/owner", e.admin, map[string]any{"owner": uid})
		check := func(want map[string]float64) {
			t.Helper()
			r := e.must(http.StatusOK, "GET", biDCI+"/server/configuration", e.admin, nil)
			list, ok := r.Body["list"].([]any)
			if !ok {
				t.Fatalf("not a list: %s", r.Raw)
			}
			got := map[string]float64{}
			for _, it := range list {
				m, _ := it.(map[string]any)
				c, ok1 := m["configuration"].(string)
				n, ok2 := m["free_server_count"].(float64)
				if !ok1 || !ok2 || len(m) != 2 {
					t.Errorf("item %v, want {configuration, free_server_count}", it)
				}
				got[c] = n
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("configurations %v, want %v: %s", got, want, r.Raw)
			}
		}
		check(map[string]float64{"i9-9900K-64Gb-2x1024NVMe": 2, "E5-2650-32Gb": 0})
		e.must(http.StatusOK, "DELETE", biDCI+"/server/"+itoa(b)+"/owner", e.admin, nil)
		e.must(http.StatusOK, "DELETE", biDCI+"/server/"+itoa(a[1]), e.admin, nil)
		check(map[string]float64{"i9-9900K-64Gb-2x1024NVMe": 1, "E5-2650-32Gb": 1})
	})
}

func TestServerOwner(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		uTok, uid := e.newUser("owner@example.com")
		s := e.create(biDCI+"/server", map[string]any{"name": "s1"})
		other := e.create(biDCI+"/server", map[string]any{"name": "s2"})
		own := biDCI + "/server/" + itoa(s) + "/owner"
		// The owner must exist, and is required.
		for _, body := range []any{map[string]any{"owner": 999999}, nil, "{}", map[string]any{"owner": nil}} {
			r := e.do("POST", own, e.admin, body)
			if p := biCheckErr(t, r, http.StatusBadRequest, "owner", ""); p != "" {
				t.Errorf("owner %v: %s", body, p)
			}
		}
		r := e.must(http.StatusOK, "POST", own, e.admin, map[string]any{"owner": uid})
		if r.Body["id"] != float64(s) || len(r.Body) != 1 {
			t.Errorf("set owner answered %s", r.Raw)
		}
		r = e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(s), e.admin, nil)
		srvCheckValues(t, "owned", r.Body, map[string]any{"owner": map[string]any{"id": uid, "email": "owner@example.com"},
			"owner_email": "owner@example.com"})
		users := e.must(http.StatusOK, "GET", biDCI+"/user?where=id+EQ+"+itoa(uid), e.admin, nil)
		if l := users.Body["list"].([]any); len(l) != 1 || l[0].(map[string]any)["server_count"] != float64(1) {
			t.Errorf("user list: %s", users.Raw)
		}
		mine := e.must(http.StatusOK, "GET", biDCI+"/server", uTok, nil)
		if mine.Body["size"] != float64(1) {
			t.Errorf("the owner sees %v servers", mine.Body["size"])
		}
		e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(s), uTok, nil)
		e.must(http.StatusNotFound, "GET", biDCI+"/server/"+itoa(other), uTok, nil)
		// A quoted id is an id too; re-assigning is fine.
		e.must(http.StatusOK, "POST", own, e.admin, map[string]any{"owner": itoa(uid)})

		// Release clears owner and owner_email.
		r = e.must(http.StatusOK, "DELETE", own, e.admin, nil)
		if r.Body["id"] != float64(s) || len(r.Body) != 1 {
			t.Errorf("release answered %s", r.Raw)
		}
		r = e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(s), e.admin, nil)
		srvCheckValues(t, "released", r.Body, map[string]any{"owner": nil, "owner_email": ""})
		e.must(http.StatusNotFound, "GET", biDCI+"/server/"+itoa(s), uTok, nil)
		mine = e.must(http.StatusOK, "GET", biDCI+"/server", uTok, nil)
		if mine.Body["size"] != float64(0) {
			t.Errorf("after release the user sees %v servers", mine.Body["size"])
		}
		r = e.must(http.StatusOK, "GET", biDCI+"/server?where=(owner_email+IS+null)%20AND%20is_new+EQ+false", e.admin, nil)
		if r.Body["size"] != float64(2) {
			t.Errorf("free servers: %v", r.Body["size"])
		}
		// Releasing a free server is harmless; an unknown one is 404.
		e.must(http.StatusOK, "DELETE", own, e.admin, nil)
		e.must(http.StatusNotFound, "DELETE", biDCI+"/server/999999/owner", e.admin, nil)
		e.must(http.StatusNotFound, "POST", biDCI+"/server/999999/owner", e.admin, map[string]any{"owner": uid})
		// Only admins assign.
		e.must(http.StatusForbidden, "POST", own, uTok, map[string]any{"owner": uid})
		e.must(http.StatusForbidden, "DELETE", own, uTok, nil)
		// Deleting the owner frees the server.
		e.must(http.StatusOK, "POST", own, e.admin, map[string]any{"owner": uid})
		e.must(http.StatusOK, "DELETE", biDCI+"/user/"+itoa(uid), e.admin, nil)
		r = e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(s), e.admin, nil)
		srvCheckValues(t, "owner deleted", r.Body, map[string]any{"owner": nil, "owner_email": ""})
	})
}

func TestServerSwitchConnections(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		w := e.srvWorld()
		s1 := e.create(biDCI+"/server", map[string]any{"name": "s1"})
		s2 := e.create(biDCI+"/server", map[string]any{"name": "s2"})
		sc := func(s int64) string { return biDCI + "/server/" + itoa(s) + "/switch_connection" }
		conns := func(s int64) []any {
			r := e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(s), e.admin, nil)
			return r.Body["switch_connection"].([]any)
		}
		c1 := e.create(sc(s1), map[string]any{"switch_port_id": w.port1})
		if l := conns(s1); len(l) != 1 || l[0].(map[string]any)["connection_id"] != float64(c1) ||
			l[0].(map[string]any)["id"] != float64(w.port1) || l[0].(map[string]any)["switch"] != float64(w.sw) {
			t.Errorf("after add: %v", l)
		}
		// A port already connected (to another server or the same) is a conflict.
		for _, s := range []int64{s2, s1} {
			r := e.do("POST", sc(s), e.admin, map[string]any{"switch_port_id": w.port1})
			if p := biCheckErr(t, r, http.StatusConflict, "", ""); p != "" {
				t.Errorf("port taken, server %d: %s", s, p)
			}
		}
		if l := conns(s2); len(l) != 0 {
			t.Errorf("s2 got a connection: %v", l)
		}
		c2 := e.create(sc(s1), map[string]any{"switch_port_id": w.port2, "is_ipmi_connection": true})
		if l := conns(s1); len(l) != 2 {
			t.Errorf("two connections: %v", l)
		}
		// Remove: only through its own server.
		e.must(http.StatusNotFound, "DELETE", sc(s2)+"/"+itoa(c1), e.admin, nil)
		r := e.must(http.StatusOK, "DELETE", sc(s1)+"/"+itoa(c1), e.admin, nil)
		if r.Body["id"] != float64(c1) {
			t.Errorf("remove answered %s", r.Raw)
		}
		if l := conns(s1); len(l) != 1 || l[0].(map[string]any)["connection_id"] != float64(c2) ||
			l[0].(map[string]any)["is_ipmi_connection"] != true {
			t.Errorf("after remove: %v", l)
		}
		e.must(http.StatusNotFound, "DELETE", sc(s1)+"/"+itoa(c1), e.admin, nil)
		// The freed port can be connected elsewhere.
		e.create(sc(s2), map[string]any{"switch_port_id": w.port1})
		if l := conns(s2); len(l) != 1 {
			t.Errorf("s2 after reconnect: %v", l)
		}
		// Deleting a server frees its ports.
		e.must(http.StatusOK, "DELETE", biDCI+"/server/"+itoa(s2), e.admin, nil)
		e.create(sc(s1), map[string]any{"switch_port_id": w.port1})
	})
}

func TestServerPDUConnection(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		w := e.srvWorld()
		a := e.create(biDCI+"/server", map[string]any{"name": "a"})
		b := e.create(biDCI+"/server", map[string]any{"name": "b"})
		pc := func(s int64) string { return biDCI + "/server/" + itoa(s) + "/pdu_connection" }
		outlet := func(s int64) any {
			r := e.must(http.StatusOK, "GET", biDCI+"/server/"+itoa(s), e.admin, nil)
			if r.Body["pdu_connection"] == nil {
				return nil
			}
			return r.Body["pdu_connection"].(map[string]any)["port_id"]
		}
		e.create(pc(a), map[string]any{"pdu_port_id": w.outlet1})
		if o := outlet(a); o != float64(w.outlet1) {
			t.Errorf("set: outlet %v", o)
		}
		// Replace.
		e.create(pc(a), map[string]any{"pdu_port_id": w.outlet2})
		if o := outlet(a); o != float64(w.outlet2) {
			t.Errorf("replace: outlet %v", o)
		}
		// The first outlet is free again; the second is taken.
		e.create(pc(b), map[string]any{"pdu_port_id": w.outlet1})
		r := e.do("POST", pc(b), e.admin, map[string]any{"pdu_port_id": w.outlet2})
		if p := biCheckErr(t, r, http.StatusConflict, "", ""); p != "" {
			t.Errorf("outlet taken: %s", p)
		}
		if oa, ob := outlet(a), outlet(b); oa != float64(w.outlet2) || ob != float64(w.outlet1) {
			t.Errorf("after a refused replace: a on %v, b on %v", oa, ob)
		}
		// Setting the same outlet again is fine.
		e.create(pc(a), map[string]any{"pdu_port_id": w.outlet2})
		// Remove.
		r = e.must(http.StatusOK, "DELETE", pc(a), e.admin, nil)
		if r.Body["id"] != float64(a) {
			t.Errorf("remove answered %s", r.Raw)
		}
		if o := outlet(a); o != nil {
			t.Errorf("after remove: %v", o)
		}
		e.must(http.StatusNotFound, "DELETE", pc(a), e.admin, nil)
		if o := outlet(b); o != float64(w.outlet1) {
			t.Errorf("b lost its outlet: %v", o)
		}
	})
}

func TestServerStateSettingsMAC(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		s := e.create(biDCI+"/server", map[string]any{"name": "s", "mac": "52-54-00-AB-CD-EF", "domain": "s.example.com"})
		one := biDCI + "/server/" + itoa(s)
		get := func() map[string]any { return e.must(http.StatusOK, "GET", one, e.admin, nil).Body }
		srvCheckValues(t, "new server", get(), map[string]any{"state": "ok", "state_info": "", "is_new": false,
			"mac": "52:54:00:ab:cd:ef", "settings": map[string]any{"efi": false}})
		// settings.efi, alone.
		e.must(http.StatusOK, "POST", one, e.admin, map[string]any{"settings": map[string]any{"efi": true}})
		srvCheckValues(t, "efi on", get(), map[string]any{"settings": map[string]any{"efi": true}, "name": "s",
			"domain": "s.example.com", "mac": "52:54:00:ab:cd:ef"})
		e.must(http.StatusOK, "POST", one, e.admin, map[string]any{"settings": map[string]any{}})
		srvCheckValues(t, "empty settings", get(), map[string]any{"settings": map[string]any{"efi": true}})
		e.must(http.StatusOK, "POST", one, e.admin, map[string]any{"settings": map[string]any{"efi": false}, "is_new": true})
		srvCheckValues(t, "efi off", get(), map[string]any{"settings": map[string]any{"efi": false}, "is_new": true})
		// MACs in any usual spelling are stored one way.
		for in, want := range map[string]string{"5254.00ab.cd01": "52:54:00:ab:cd:01", "52:54:00:AB:CD:02": "52:54:00:ab:cd:02",
			"52-54-00-ab-cd-03": "52:54:00:ab:cd:03", "": ""} {
			e.must(http.StatusOK, "POST", one, e.admin, map[string]any{"mac": in})
			srvCheckValues(t, "mac "+in, get(), map[string]any{"mac": want})
		}
		e.must(http.StatusOK, "POST", one, e.admin, map[string]any{"mac": "52:54:00:ab:cd:ef"})
		r := e.must(http.StatusOK, "GET", biDCI+"/server?where=mac+EQ+'52:54:00:ab:cd:ef'", e.admin, nil)
		if r.Body["size"] != float64(1) {
			t.Errorf("where mac: %s", r.Raw)
		}
		for _, bad := range []string{"52:54:00:ab:cd", "52:54:00:ab:cd:ef:01:02", "zz:54:00:ab:cd:ef", "not a mac"} {
			r := e.do("POST", biDCI+"/server", e.admin, map[string]any{"name": "x", "mac": bad})
			if p := biCheckErr(t, r, http.StatusBadRequest, "mac", ""); p != "" {
				t.Errorf("mac %q: %s", bad, p)
			}
		}
		// The same MAC in another spelling is taken.
		r = e.do("POST", biDCI+"/server", e.admin, map[string]any{"name": "y", "mac": "52-54-00-AB-CD-EF"})
		if p := biCheckErr(t, r, http.StatusConflict, "", ""); p != "" {
			t.Errorf("duplicate mac: %s", p)
		}
		// Servers without a MAC do not clash.
		e.create(biDCI+"/server", map[string]any{"name": "m1"})
		e.create(biDCI+"/server", map[string]any{"name": "m2", "mac": ""})
		srvCheckValues(t, "unchanged", get(), map[string]any{"state": "ok", "name": "s", "domain": "s.example.com"})
	})
}
