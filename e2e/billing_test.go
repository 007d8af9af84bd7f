package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
	configBig     = "i9-9900K-64Gb-2x1024NVMe"
	configSmall   = "E3-1230-16Gb-2x480SSD"
)

// Seed 003 shapes. Ids and counts are numbers, strings are never null,
// relation objects are null when absent and lists are [] when empty.
var (
	ipShape = obj{"domain": isStr, "family": isStr, "gateway": isStr, "id": isInt, "name": isStr, "network": isStr,
		"status": isStr, "status_info": isObject}
	serverShape = obj{
		"operation":     nullable{obj{"id": isInt, "status": isStr, "status_info": isObject, "progress_info": listOf{anything}}},
		"domain":        isStr,
		"id":            isInt,
		"os_template":   nullable{obj{"id": isInt, "name": isStr, "tags": listOf{isStr}}},
		"hardware_info": isObject, "perform_info": isObject,
		"configuration": isStr,
		"settings":      obj{"efi": isBool},
		"state":         isStr, "state_info": isStr,
		"ip": listOf{ipShape},
		"switch_connection": listOf{obj{"id": isInt, "switch": isInt, "connection_id": isInt, "description": isStr,
			"admin_status": isStr, "oper_status": isStr, "do_not_collect_traffic": isBool, "is_ipmi_connection": isBool}},
		"pdu_connection": nullable{obj{"port_id": isInt, "port_identity": isStr, "pdu_id": isInt, "pdu_name": isStr,
			"connection_id": isInt, "power_status": isStr}},
		"ipmi": nullable{obj{"address": isStr, "id": isInt, "status": isStr, "status_info": isObject, "type": isStr,
			"web_url": isStr}},
		"intel_amt": nullable{obj{"address": isStr, "id": isInt, "status": isStr, "status_info": isObject,
			"protocol": isStr}},
		"location":    nullable{obj{"geolocation": isStr, "id": isInt, "name": isStr, "userspace": isInt}},
		"location_id": isInt,
		"mac":         isStr, "main_ipv4": isInt, "main_ipv6": isInt, "name": isStr,
		"platform":     nullable{obj{"id": isInt, "name": isStr, "size": isInt, "type": isStr}},
		"rack":         nullable{obj{"id": isInt, "name": isStr, "size": isInt}},
		"unit":         isInt,
		"chassis":      nullable{obj{"id": isInt, "name": isStr, "size": isInt, "server_slot_count": isInt}},
		"slot":         isInt,
		"owner":        nullable{obj{"id": isInt, "email": isStr}},
		"owner_email":  isStr,
		"diag_error":   listOf{obj{"type": isStr, "info": isStr}},
		"is_new":       isBool,
		"power_status": isStr,
	}
	userShape = obj{"id": isInt, "email": isStr, "server_count": isInt, "roles": isStr, "vlans_per_user": isInt}
)

func TestBillingFlow(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		billingFlow(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		billingFlow(t, pgtest.URL(t))
	})
}

// place is the inventory the servers stand in.
type place struct {
	locationID, rackID, platformID int64
}

// serverSpec is one server created by the flow.
type serverSpec struct {
	id                        int64
	name, domain, mac, config string
	unit                      int
}

func billingFlow(t *testing.T, dbURL string) {
	d := startDaemon(t, config{dataDir: t.TempDir(), databaseURL: dbURL, adminEmail: adminEmail, adminPassword: adminPassword})
	c := newClient(t, d)
	adminToken, adminID := c.login(adminEmail, adminPassword)
	admin := c.as(adminToken)
	if adminID == "" {
		t.Fatal("no admin id")
	}

	// A customer account, as BILLmanager creates it.
	const userEmail, userPassword = "client1@example.com", "client-password-1"
	userID := id(t, "POST /user", admin.expect(http.MethodPost, "/api/dci/v3/user", map[string]any{
		"email": userEmail, "full_name": "Иван Петров", "password": userPassword, "phone_number": "+7 900 000-00-00",
		"role": "@user"}, http.StatusOK))
	checkUsers(t, admin, userID, userEmail, 0)

	pl := createPlace(t, admin)
	servers := []serverSpec{
		{name: "srv-1", domain: "srv-1.example.com", mac: "52:54:00:00:00:01", config: configBig, unit: 1},
		{name: "srv-2", domain: "srv-2.example.com", mac: "52:54:00:00:00:02", config: configBig, unit: 2},
		{name: "srv-3", domain: "srv-3.example.com", mac: "52:54:00:00:00:03", config: configSmall, unit: 3},
	}
	for i := range servers {
		s := &servers[i]
		s.id = id(t, "POST /server", admin.expect(http.MethodPost, "/api/dci/v3/server", map[string]any{
			"name": s.name, "domain": s.domain, "mac": s.mac, "configuration": s.config, "location_id": pl.locationID,
			"rack_id": pl.rackID, "unit": s.unit, "platform_id": pl.platformID, "settings": map[string]any{"efi": true}},
			http.StatusOK))
	}
	if !(servers[0].id < servers[1].id && servers[1].id < servers[2].id) {
		t.Fatalf("server ids are not increasing: %d %d %d", servers[0].id, servers[1].id, servers[2].id)
	}

	// BILLmanager looks for free servers; spaces arrive as a mix of + and %20.
	const freeQuery = "/api/dci/v3/server?where=(owner_email+IS%20null)%20AND+is_new+EQ%20false&orderby=id%20desc&limit=0,2"
	items, size := list(t, "free servers", admin.expect(http.MethodGet, freeQuery, nil, http.StatusOK), serverShape)
	if size != 3 || len(items) != 2 {
		t.Fatalf("free servers: size %d with %d items, want size 3 with 2 items", size, len(items))
	}
	for i, want := range []serverSpec{servers[2], servers[1]} { // id desc
		checkServer(t, fmt.Sprintf("free servers[%d]", i), items[i], want, pl, nil)
	}
	checkConfigurations(t, admin, map[string]int64{configBig: 2, configSmall: 1})

	// Sell srv-1 to the customer.
	sold, other := servers[0], servers[1]
	field(t, "POST /server/{id}/owner", admin.expect(http.MethodPost, fmt.Sprintf("/api/dci/v3/server/%d/owner", sold.id),
		map[string]any{"owner": userID}, http.StatusOK), "id", sold.id)
	checkConfigurations(t, admin, map[string]int64{configBig: 1, configSmall: 1})
	checkUsers(t, admin, userID, userEmail, 1)
	_, size = list(t, "free servers", admin.expect(http.MethodGet, freeQuery, nil, http.StatusOK), serverShape)
	if size != 2 {
		t.Errorf("free servers after the sale: size %d, want 2", size)
	}

	// The customer sees only its server, with its owner, under both URL forms.
	userToken, loginID := c.login(userEmail, userPassword)
	if loginID != fmt.Sprint(userID) {
		t.Errorf("login id %q, want %d", loginID, userID)
	}
	user := c.as(userToken)
	own := &owner{id: userID, email: userEmail}
	for _, path := range []string{"/api/dci/v3/server", "/dci/v3/server"} {
		items, size = list(t, "GET "+path+" as the user", user.expect(http.MethodGet, path, nil, http.StatusOK), serverShape)
		if size != 1 || len(items) != 1 {
			t.Fatalf("GET %s as the user: size %d with %d items, want 1", path, size, len(items))
		}
		checkServer(t, "user's server", items[0], sold, pl, own)
	}
	one := user.expect(http.MethodGet, fmt.Sprintf("/api/dci/v3/server/%d", sold.id), nil, http.StatusOK)
	checkShape(t, "GET /server/{id}", one, serverShape)
	checkServer(t, "GET /server/{id}", one, sold, pl, own)
	status, body := user.call(http.MethodGet, fmt.Sprintf("/api/dci/v3/server/%d", other.id), nil)
	if status != http.StatusNotFound {
		t.Errorf("the user reads another's server: status %d, want 404; %s", status, body)
	} else {
		field(t, "404", errorBody(t, "GET another's server", body), "code", http.StatusNotFound)
	}
	if status, body := user.call(http.MethodGet, "/api/dci/v3/user", nil); status != http.StatusForbidden {
		t.Errorf("the user lists users: status %d, want 403; %s", status, body)
	}
	if status, body := user.call(http.MethodPost, fmt.Sprintf("/api/dci/v3/server/%d/owner", other.id),
		map[string]any{"owner": userID}); status != http.StatusForbidden {
		t.Errorf("the user takes a server: status %d, want 403; %s", status, body)
	}

	// The service ends: the server is released.
	field(t, "DELETE /server/{id}/owner", admin.expect(http.MethodDelete, fmt.Sprintf("/api/dci/v3/server/%d/owner", sold.id),
		nil, http.StatusOK), "id", sold.id)
	items, size = list(t, "the user's servers after release",
		user.expect(http.MethodGet, "/api/dci/v3/server", nil, http.StatusOK), serverShape)
	if size != 0 || len(items) != 0 {
		t.Errorf("after release the user sees size %d with %d items, want an empty list", size, len(items))
	}
	if status, _ := user.call(http.MethodGet, fmt.Sprintf("/api/dci/v3/server/%d", sold.id), nil); status != http.StatusNotFound {
		t.Errorf("after release the user reads the server: status %d, want 404", status)
	}
	checkServer(t, "released server", admin.expect(http.MethodGet, fmt.Sprintf("/api/dci/v3/server/%d", sold.id), nil,
		http.StatusOK), sold, pl, nil)
	checkConfigurations(t, admin, map[string]int64{configBig: 2, configSmall: 1})
	checkUsers(t, admin, userID, userEmail, 0)

	// Without a session: 401 with the platform's code.
	status, body = c.call(http.MethodGet, "/api/dci/v3/server", nil)
	if status != http.StatusUnauthorized {
		t.Fatalf("no session: status %d, want 401; %s", status, body)
	}
	field(t, "401", errorBody(t, "no session", body), "code", 3001)
}

// createPlace makes a location, a rack in it and a platform.
func createPlace(t *testing.T, admin *client) place {
	t.Helper()
	var p place
	p.locationID = id(t, "POST /location", admin.expect(http.MethodPost, "/api/dci/v3/location",
		map[string]any{"name": "Moscow-1", "geolocation": "1st Street, 25"}, http.StatusOK))
	p.rackID = id(t, "POST /rack", admin.expect(http.MethodPost, "/api/dci/v3/rack",
		map[string]any{"name": "A-01", "size": 42, "location_id": p.locationID}, http.StatusOK))
	p.platformID = id(t, "POST /platform", admin.expect(http.MethodPost, "/api/dci/v3/platform",
		map[string]any{"name": "Supermicro 1U", "size": 1, "type": "server"}, http.StatusOK))
	return p
}

type owner struct {
	id    int64
	email string
}

// checkServer checks a server object field by field against what was
// created; o is its owner, or nil.
func checkServer(t *testing.T, what string, s map[string]any, want serverSpec, pl place, o *owner) {
	t.Helper()
	checkShape(t, what, s, serverShape)
	field(t, what, s, "id", want.id)
	field(t, what, s, "name", want.name)
	field(t, what, s, "domain", want.domain)
	field(t, what, s, "mac", want.mac)
	field(t, what, s, "configuration", want.config)
	field(t, what, s, "settings", map[string]any{"efi": true})
	field(t, what, s, "state", "ok")
	field(t, what, s, "state_info", "")
	field(t, what, s, "is_new", false)
	field(t, what, s, "location_id", pl.locationID)
	field(t, what, s, "unit", want.unit)
	field(t, what, s, "slot", 0)
	field(t, what, s, "main_ipv4", 0)
	field(t, what, s, "main_ipv6", 0)
	for _, k := range []string{"ip", "switch_connection", "diag_error"} {
		field(t, what, s, k, []any{})
	}
	for _, k := range []string{"pdu_connection", "ipmi", "intel_amt", "chassis", "os_template", "operation"} {
		field(t, what, s, k, nil)
	}
	field(t, what, s, "hardware_info", map[string]any{})
	if ps, _ := s["power_status"].(string); !slices.Contains([]string{"on", "off", "unknown"}, ps) {
		t.Errorf("%s.power_status = %q, want on, off or unknown", what, ps)
	}
	if loc, ok := s["location"].(map[string]any); ok {
		field(t, what+".location", loc, "id", pl.locationID)
		field(t, what+".location", loc, "name", "Moscow-1")
		field(t, what+".location", loc, "geolocation", "1st Street, 25")
	} else {
		t.Errorf("%s.location: %s, want the location", what, describe(s["location"]))
	}
	if r, ok := s["rack"].(map[string]any); ok {
		field(t, what+".rack", r, "id", pl.rackID)
		field(t, what+".rack", r, "name", "A-01")
		field(t, what+".rack", r, "size", 42)
	} else {
		t.Errorf("%s.rack: %s, want the rack", what, describe(s["rack"]))
	}
	if p, ok := s["platform"].(map[string]any); ok {
		field(t, what+".platform", p, "id", pl.platformID)
		field(t, what+".platform", p, "name", "Supermicro 1U")
		field(t, what+".platform", p, "size", 1)
		field(t, what+".platform", p, "type", "server")
	} else {
		t.Errorf("%s.platform: %s, want the platform", what, describe(s["platform"]))
	}
	if o == nil {
		field(t, what, s, "owner", nil)
		field(t, what, s, "owner_email", "")
		return
	}
	if ow, ok := s["owner"].(map[string]any); ok {
		field(t, what+".owner", ow, "id", o.id)
		field(t, what+".owner", ow, "email", o.email)
	} else {
		t.Errorf("%s.owner: %s, want the owner", what, describe(s["owner"]))
	}
	field(t, what, s, "owner_email", o.email)
}

// checkConfigurations checks GET /server/configuration: the free count of
// each configuration.
func checkConfigurations(t *testing.T, admin *client, want map[string]int64) {
	t.Helper()
	items, _ := list(t, "GET /server/configuration", admin.expect(http.MethodGet, "/api/dci/v3/server/configuration", nil,
		http.StatusOK), obj{"configuration": isStr, "free_server_count": isInt})
	got := map[string]int64{}
	for _, it := range items {
		cfg, _ := it["configuration"].(string)
		got[cfg] = num(t, "free_server_count", it["free_server_count"])
	}
	for cfg, n := range want {
		if got[cfg] != n {
			t.Errorf("free servers of %s: %d, want %d (all: %v)", cfg, got[cfg], n, got)
		}
	}
}

// checkUsers checks GET /user lists the user as the seed shows it.
func checkUsers(t *testing.T, admin *client, userID int64, email string, servers int) {
	t.Helper()
	items, size := list(t, "GET /user", admin.expect(http.MethodGet, "/api/dci/v3/user", nil, http.StatusOK), userShape)
	if size != int64(len(items)) || size != 2 {
		t.Errorf("GET /user: size %d with %d items, want the admin and the user", size, len(items))
	}
	for _, u := range items {
		if num(t, "user id", u["id"]) != userID {
			field(t, "admin in GET /user", u, "roles", "[@admin]")
			continue
		}
		field(t, "GET /user", u, "email", email)
		field(t, "GET /user", u, "roles", "[@user]")
		field(t, "GET /user", u, "server_count", servers)
		return
	}
	t.Errorf("GET /user does not list user %d", userID)
}
