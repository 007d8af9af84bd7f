package api

// The route × role table: every registered route with what no session, a
// @user and an @admin get, on SQLite and PostgreSQL, plus the proof that
// the table misses no route and that a @user cannot learn whether objects
// outside its reach exist.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dcimd/dcimd/internal/server"
)

// Who calls.
const (
	asNone = iota
	asUser
	asAdmin
)

var roleNames = [3]string{"no session", "@user", "@admin"}

// roleCase is one row of the table.
type roleCase struct {
	route string   // "METHOD /api/pattern" exactly as registered
	args  []string // values for the pattern's parameters, in order
	// argsFor, when set, gives the values per call (fresh keys, the
	// caller's own token or id).
	argsFor func(who int, tok string) []string
	body    any // a JSON-encodable value, a raw string, or func() any for a fresh body per call
	// bodyFor, when set, gives the body per caller.
	bodyFor func(who int) any
	want    [3]int
	fresh   bool // the call ends its session: use a new one each time
}

// roleFill puts args into pattern's :params.
func roleFill(t *testing.T, pattern string, args []string) string {
	t.Helper()
	segs := strings.Split(pattern, "/")
	n := 0
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			if n >= len(args) {
				t.Fatalf("%s: too few arguments %v", pattern, args)
			}
			segs[i] = args[n]
			n++
		}
	}
	if n != len(args) {
		t.Fatalf("%s: %d parameters, %d arguments", pattern, n, len(args))
	}
	return strings.Join(segs, "/")
}

// roleMissing replaces every argument by one naming no object.
func roleMissing(args []string, bad string) []string {
	out := make([]string, len(args))
	for i := range out {
		out[i] = bad
	}
	return out
}

// roleExtra is inventory beyond e.fixture(): objects to edit and objects
// whose only purpose is to be deleted by the table.
type roleExtra struct {
	chassis, bmc, osTemplate, spare, port2, outlet2, victim                                      int64
	delLocation, delRack, delPlatform, delChassis, delSwitch, delPort, delPDU, delOutlet, delBMC int64
	delOSTemplate, delServer, delUser, conn                                                      int64
	ipA, ipB, ipFree                                                                             int64
	ipnet, delNet, pool, delPool, delRange                                                       int64
	ipMove, ipDel, delPlace                                                                      int64
}

func roleSetup(t *testing.T, e *env, f fixture) roleExtra {
	t.Helper()
	var x roleExtra
	sw, pdu := "/api/dci/v3/switch/"+itoa(f.sw)+"/port", "/api/dci/v3/pdu/"+itoa(f.pdu)+"/port"
	x.chassis = e.create("/api/dci/v3/chassis", map[string]any{"name": "ch1", "size": 2, "server_slot_count": 4})
	x.osTemplate = e.create("/api/dci/v3/os_template", map[string]any{"name": "debian12", "kind": "image"})
	x.spare = e.create("/api/dci/v3/server", map[string]any{"name": "spare"})
	x.bmc = e.create("/api/dci/v3/ipmi", map[string]any{"server_id": f.servers[0], "address": "10.0.0.10", "user": "ADMIN", "password": "pw"})
	x.port2 = e.create(sw, map[string]any{"identity": "2"})
	connPort := e.create(sw, map[string]any{"identity": "3"})
	x.delPort = e.create(sw, map[string]any{"identity": "4"})
	x.outlet2 = e.create(pdu, map[string]any{"identity": "2"})
	connOutlet := e.create(pdu, map[string]any{"identity": "3"})
	x.delOutlet = e.create(pdu, map[string]any{"identity": "4"})
	x.conn = e.create("/api/dci/v3/server/"+itoa(x.spare)+"/switch_connection", map[string]any{"switch_port_id": connPort})
	e.create("/api/dci/v3/server/"+itoa(x.spare)+"/pdu_connection", map[string]any{"pdu_port_id": connOutlet})
	x.victim = e.create("/api/dci/v3/user", map[string]any{"email": "victim@example.com", "password": "user-password-1", "role": "@user"})

	x.delLocation = e.create("/api/dci/v3/location", map[string]any{"name": "DC-del"})
	x.delRack = e.create("/api/dci/v3/rack", map[string]any{"name": "R-del", "location_id": f.location})
	x.delPlatform = e.create("/api/dci/v3/platform", map[string]any{"name": "P-del"})
	x.delChassis = e.create("/api/dci/v3/chassis", map[string]any{"name": "ch-del"})
	x.delSwitch = e.create("/api/dci/v3/switch", map[string]any{"name": "sw-del", "address": "127.0.0.9"})
	x.delPDU = e.create("/api/dci/v3/pdu", map[string]any{"name": "pdu-del", "address": "127.0.0.9"})
	x.delBMC = e.create("/api/dci/v3/ipmi", map[string]any{"address": "10.0.0.99"})
	x.delOSTemplate = e.create("/api/dci/v3/os_template", map[string]any{"name": "del-me"})
	x.delServer = e.create("/api/dci/v3/server", map[string]any{"name": "del-me"})
	x.delUser = e.create("/api/dci/v3/user", map[string]any{"email": "del@example.com", "password": "user-password-1", "role": "@user"})

	// Addresses: there is no API to assign them yet, so they are written
	// directly: one on the user's server, one on another, one free.
	ctx := context.Background()
	var net int64
	if err := e.db.SQL().QueryRowContext(ctx, `INSERT INTO ipnets (name, family, prefix_len, gateway, created_at, updated_at)
		VALUES ('192.0.2.0/24', 4, 24, '192.0.2.1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`).Scan(&net); err != nil {
		t.Fatal(err)
	}
	ip := func(name, srv string) int64 {
		var id int64
		q := fmt.Sprintf(`INSERT INTO ips (name, family, ipnet_id, server_id, domain, created_at, updated_at)
			VALUES ('%s', 4, %d, %s, 'host.example.com', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`, name, net, srv)
		if err := e.db.SQL().QueryRowContext(ctx, q).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	x.ipA = ip("192.0.2.10", itoa(f.servers[0]))
	x.ipB = ip("192.0.2.11", itoa(f.servers[1]))
	x.ipFree = ip("192.0.2.12", "NULL")
	x.ipMove = ip("192.0.2.13", "NULL")
	x.ipDel = ip("192.0.2.14", "NULL")
	x.ipnet = net
	x.delNet = e.create("/api/ip/v3/ipnet", map[string]any{"name": "198.51.100.0/24"})
	x.pool = e.create("/api/ip/v3/ippool", map[string]any{"name": "pool1", "ranges": []string{"192.0.2.100-192.0.2.110"}})
	x.delPool = e.create("/api/ip/v3/ippool", map[string]any{"name": "pool-del", "ranges": []string{"192.0.2.120-192.0.2.130"}})
	x.delRange = e.create("/api/ip/v3/ippool/"+itoa(x.pool)+"/range", map[string]any{"name": "192.0.2.140-192.0.2.150"})
	x.delPlace = e.create("/api/ip/v3/ippool/"+itoa(x.pool)+"/place", map[string]any{"rack": f.rack})
	return x
}

// roleCases is the table. Deletions come last, on objects made for them.
func roleCases(t *testing.T, e *env, f fixture, x roleExtra) []roleCase {
	s := func(ids ...int64) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = itoa(id)
		}
		return out
	}
	const ok, created, found = http.StatusOK, http.StatusCreated, http.StatusFound
	const unauth, forbidden, missing = http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound
	admin := [3]int{unauth, forbidden, ok} // admin-only
	anyone := [3]int{unauth, ok, ok}       // any session
	public := func(st int) [3]int { return [3]int{st, st, st} }
	key := func() string {
		_, k, err := e.auth.IssueKey(context.Background(), "user@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	own := func(who int, tok string) []string { // the caller's own id
		switch who {
		case asUser:
			return s(f.userID)
		case asAdmin:
			return s(e.adminID)
		}
		return s(f.userID)
	}
	samePassword := func(who int) any { // one's own password, set to what it is
		if who == asAdmin {
			return map[string]string{"password": adminPass}
		}
		return map[string]string{"password": "user-password-1"}
	}
	ownToken := func(who int, tok string) []string {
		if tok == "" {
			return []string{"no-such-token"}
		}
		return []string{tok}
	}
	mine, theirs := itoa(f.servers[0]), itoa(f.servers[1])
	return []roleCase{
		// health
		{route: "GET /healthz", want: public(ok)},
		{route: "GET /readyz", want: public(ok)},

		// auth v4: public
		{route: "POST /api/auth/v4/public/token", body: map[string]string{"email": "user@example.com", "password": "user-password-1"}, want: public(created)},
		{route: "POST /api/auth/v4/public/key", body: func() any { return map[string]string{"key": key()} }, want: public(created)},
		{route: "GET /api/auth/key-v4/:key", argsFor: func(int, string) []string { return []string{key()} }, want: public(found)},
		// auth v4: sessions
		{route: "GET /api/auth/v4/whoami", want: anyone},
		{route: "GET /api/auth/v4/user", want: admin},
		{route: "POST /api/auth/v4/user/:ref/key", args: s(f.userID), body: "", want: admin},
		{route: "POST /api/auth/v4/user/:ref/key", args: []string{"user@example.com"}, body: "", want: admin},
		{route: "POST /api/auth/v4/user/:ref/password", args: s(x.victim), body: map[string]string{"password": "victim-password-2"}, want: admin},
		{route: "POST /api/auth/v4/user/:ref/password", args: []string{"victim@example.com"}, body: map[string]string{"password": "victim-password-3"}, want: admin},
		{route: "POST /api/auth/v4/user/:ref/password", argsFor: own, bodyFor: samePassword, want: anyone},
		{route: "GET /api/auth/v4/setting/token_ttl", want: admin},
		{route: "POST /api/auth/v4/setting/token_ttl", body: map[string]string{"value": "60"}, want: admin},
		{route: "POST /api/auth/v4/logout", fresh: true, want: anyone},
		{route: "DELETE /api/auth/v4/token/:token", fresh: true, argsFor: ownToken, want: anyone},
		{route: "DELETE /api/auth/v4/token/:token", args: []string{"0123456789abcdef"}, want: admin},

		// servers: what a @user may see
		{route: "GET /api/dci/v3/server", want: anyone},
		{route: "GET /api/dci/v3/server/configuration", want: admin}, // counts servers the user does not own
		{route: "GET /api/dci/v3/server/:id", args: []string{mine}, want: anyone},
		{route: "GET /api/dci/v3/server/:id", args: []string{theirs}, want: [3]int{unauth, missing, ok}},
		{route: "GET /api/dci/v3/server/:id/ip", args: []string{mine}, want: anyone},
		{route: "GET /api/dci/v3/server/:id/ip", args: []string{theirs}, want: [3]int{unauth, missing, ok}},
		{route: "GET /api/dci/v3/ip", want: anyone},
		{route: "GET /api/dci/v3/ipmgr/ip", want: anyone},
		{route: "GET /api/ip/v3/ip", want: anyone},
		// servers: admin only, on owned and unowned ones alike
		{route: "POST /api/dci/v3/server", body: map[string]any{"name": "srv-new", "configuration": "i9-64Gb"}, want: admin},
		{route: "POST /api/dci/v3/server/:id", args: []string{mine}, body: map[string]any{"domain": "edited.example.com"}, want: admin},
		{route: "POST /api/dci/v3/server/:id", args: []string{theirs}, body: map[string]any{"configuration": "e5-32Gb"}, want: admin},
		{route: "POST /api/dci/v3/server/:id/owner", args: s(x.spare), body: map[string]any{"owner": x.victim}, want: admin},
		{route: "POST /api/dci/v3/server/:id/switch_connection", args: s(f.servers[2]), body: map[string]any{"switch_port_id": x.port2}, want: admin},
		{route: "POST /api/dci/v3/server/:id/pdu_connection", args: s(f.servers[2]), body: map[string]any{"pdu_port_id": x.outlet2}, want: admin},

		// users
		{route: "GET /api/dci/v3/user", want: admin},
		{route: "POST /api/dci/v3/user", body: map[string]any{"email": "new@example.com", "password": "user-password-1", "role": "@user"}, want: admin},
		{route: "GET /api/dci/v3/user/:id", args: s(f.userID), want: admin},
		{route: "GET /api/dci/v3/user/:id", args: s(e.adminID), want: admin},
		{route: "POST /api/dci/v3/user/:id", args: s(x.victim), body: map[string]any{"full_name": "Victim"}, want: admin},

		// inventory
		{route: "GET /api/dci/v3/location", want: admin},
		{route: "POST /api/dci/v3/location", body: map[string]any{"name": "DC2"}, want: admin},
		{route: "GET /api/dci/v3/location/:id", args: s(f.location), want: admin},
		{route: "POST /api/dci/v3/location/:id", args: s(f.location), body: map[string]any{"geolocation": "2nd Street"}, want: admin},
		{route: "GET /api/dci/v3/rack", want: admin},
		{route: "POST /api/dci/v3/rack", body: map[string]any{"name": "R2", "location_id": f.location}, want: admin},
		{route: "GET /api/dci/v3/rack/:id", args: s(f.rack), want: admin},
		{route: "POST /api/dci/v3/rack/:id", args: s(f.rack), body: map[string]any{"size": 47}, want: admin},
		{route: "GET /api/dci/v3/platform", want: admin},
		{route: "POST /api/dci/v3/platform", body: map[string]any{"name": "R740", "size": 2}, want: admin},
		{route: "GET /api/dci/v3/platform/:id", args: s(f.platform), want: admin},
		{route: "POST /api/dci/v3/platform/:id", args: s(f.platform), body: map[string]any{"name": "R640xd"}, want: admin},
		{route: "GET /api/dci/v3/chassis", want: admin},
		{route: "POST /api/dci/v3/chassis", body: map[string]any{"name": "ch2", "location_id": f.location, "rack_id": f.rack, "unit": 10}, want: admin},
		{route: "GET /api/dci/v3/chassis/:id", args: s(x.chassis), want: admin},
		{route: "POST /api/dci/v3/chassis/:id", args: s(x.chassis), body: map[string]any{"server_slot_count": 8}, want: admin},
		{route: "GET /api/dci/v3/switch", want: admin},
		{route: "POST /api/dci/v3/switch", body: map[string]any{"name": "sw2", "address": "127.0.0.2", "snmp_community": "c"}, want: admin},
		{route: "GET /api/dci/v3/switch/:id", args: s(f.sw), want: admin},
		{route: "POST /api/dci/v3/switch/:id", args: s(f.sw), body: map[string]any{"read_only": true}, want: admin},
		{route: "GET /api/dci/v3/switch/:id/port", args: s(f.sw), want: admin},
		{route: "POST /api/dci/v3/switch/:id/port", args: s(f.sw), body: map[string]any{"identity": "48"}, want: admin},
		{route: "GET /api/dci/v3/switch/:id/port/:item_id", args: s(f.sw, f.port), want: admin},
		{route: "POST /api/dci/v3/switch/:id/port/:item_id", args: s(f.sw, f.port), body: map[string]any{"description": "uplink"}, want: admin},
		{route: "GET /api/dci/v3/pdu", want: admin},
		{route: "POST /api/dci/v3/pdu", body: map[string]any{"name": "pdu2", "address": "127.0.0.3"}, want: admin},
		{route: "GET /api/dci/v3/pdu/:id", args: s(f.pdu), want: admin},
		{route: "POST /api/dci/v3/pdu/:id", args: s(f.pdu), body: map[string]any{"profile": "apc-spdu"}, want: admin},
		{route: "GET /api/dci/v3/pdu/:id/port", args: s(f.pdu), want: admin},
		{route: "POST /api/dci/v3/pdu/:id/port", args: s(f.pdu), body: map[string]any{"identity": "24"}, want: admin},
		{route: "GET /api/dci/v3/pdu/:id/port/:item_id", args: s(f.pdu, f.outlet), want: admin},
		{route: "POST /api/dci/v3/pdu/:id/port/:item_id", args: s(f.pdu, f.outlet), body: map[string]any{"name": "A1"}, want: admin},
		{route: "GET /api/dci/v3/ipmi", want: admin},
		{route: "POST /api/dci/v3/ipmi", body: map[string]any{"server_id": f.servers[2], "address": "10.0.0.12", "type": "IPMI v1.5/v2"}, want: admin},
		{route: "GET /api/dci/v3/ipmi/:id", args: s(x.bmc), want: admin},
		{route: "POST /api/dci/v3/ipmi/:id", args: s(x.bmc), body: map[string]any{"cipher_suite": 3}, want: admin},
		{route: "GET /api/dci/v3/os_template", want: admin},
		{route: "POST /api/dci/v3/os_template", body: map[string]any{"name": "alma9", "kind": "kickstart", "tags": []string{"linux"}}, want: admin},
		{route: "GET /api/dci/v3/os_template/:id", args: s(x.osTemplate), want: admin},
		{route: "POST /api/dci/v3/os_template/:id", args: s(x.osTemplate), body: map[string]any{"efi": false}, want: admin},

		// IP address management
		{route: "GET /api/ip/v3/ipnet", want: admin},
		{route: "POST /api/ip/v3/ipnet", body: map[string]any{"name": "203.0.113.0/24", "gateway": "203.0.113.1"}, want: admin},
		{route: "GET /api/ip/v3/ipnet/:id", args: s(x.ipnet), want: admin},
		{route: "POST /api/ip/v3/ipnet/:id", args: s(x.ipnet), body: map[string]any{"note": "edited"}, want: admin},
		{route: "GET /api/ip/v3/ippool", want: admin},
		{route: "POST /api/ip/v3/ippool", body: map[string]any{"name": "pool2", "is_public": true}, want: admin},
		{route: "GET /api/ip/v3/ippool/:id", args: s(x.pool), want: admin},
		{route: "POST /api/ip/v3/ippool/:id", args: s(x.pool), body: map[string]any{"note": "edited"}, want: admin},
		{route: "POST /api/ip/v3/ippool/:id/range", args: s(x.pool), body: map[string]any{"name": "192.0.2.200-192.0.2.210"}, want: admin},

		{route: "GET /api/ip/v3/ipnet/:id/free", args: s(x.ipnet), want: admin},
		{route: "POST /api/ip/v3/ip", body: map[string]any{"ip_net": x.ipnet, "note": "held for the router"}, want: admin},
		{route: "GET /api/ip/v3/ip/:id", args: s(x.ipFree), want: admin},
		{route: "POST /api/ip/v3/ip/:id", args: s(x.ipFree), body: map[string]any{"note": "edited"}, want: admin},
		{route: "POST /api/ip/v3/ip/:id/move", args: s(x.ipMove), body: map[string]any{"server": f.servers[1]}, want: admin},
		{route: "POST /api/ip/v3/ippool/:id/place", args: s(x.pool), body: map[string]any{"location": f.location}, want: admin},
		// deletions, last
		{route: "DELETE /api/ip/v3/ip/:id", args: s(x.ipDel), want: admin},
		{route: "DELETE /api/ip/v3/ippool/:id/place/:pid", args: s(x.pool, x.delPlace), want: admin},
		{route: "DELETE /api/ip/v3/ippool/:id/range/:rid", args: s(x.pool, x.delRange), want: admin},
		{route: "DELETE /api/ip/v3/ippool/:id", args: s(x.delPool), want: admin},
		{route: "DELETE /api/ip/v3/ipnet/:id", args: s(x.delNet), want: admin},
		{route: "DELETE /api/dci/v3/server/:id/owner", args: s(x.spare), want: admin},
		{route: "DELETE /api/dci/v3/server/:id/switch_connection/:cid", args: s(x.spare, x.conn), want: admin},
		{route: "DELETE /api/dci/v3/server/:id/pdu_connection", args: s(x.spare), want: admin},
		{route: "DELETE /api/dci/v3/server/:id", args: s(x.delServer), want: admin},
		{route: "DELETE /api/dci/v3/user/:id", args: s(x.delUser), want: admin},
		{route: "DELETE /api/dci/v3/ipmi/:id", args: s(x.delBMC), want: admin},
		{route: "DELETE /api/dci/v3/os_template/:id", args: s(x.delOSTemplate), want: admin},
		{route: "DELETE /api/dci/v3/switch/:id/port/:item_id", args: s(f.sw, x.delPort), want: admin},
		{route: "DELETE /api/dci/v3/pdu/:id/port/:item_id", args: s(f.pdu, x.delOutlet), want: admin},
		{route: "DELETE /api/dci/v3/switch/:id", args: s(x.delSwitch), want: admin},
		{route: "DELETE /api/dci/v3/pdu/:id", args: s(x.delPDU), want: admin},
		{route: "DELETE /api/dci/v3/chassis/:id", args: s(x.delChassis), want: admin},
		{route: "DELETE /api/dci/v3/platform/:id", args: s(x.delPlatform), want: admin},
		{route: "DELETE /api/dci/v3/rack/:id", args: s(x.delRack), want: admin},
		{route: "DELETE /api/dci/v3/location/:id", args: s(x.delLocation), want: admin},
	}
}

// roleRegistered lists the engine's routes as "METHOD path".
func roleRegistered(t *testing.T, e *env) map[string]bool {
	t.Helper()
	h, err := New(Deps{Auth: e.auth, Inventory: server.NewService(e.db.Inventory()), IPs: e.db.IPs(), DB: e.db, IPAM: e.db.IPAM()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range h.Routes() {
		out[r.Method+" "+r.Path] = true
	}
	return out
}

// roleCheckCoverage fails for any registered route without a row, any row
// for an unregistered route, and any /api route without its bare twin.
func roleCheckCoverage(t *testing.T, registered map[string]bool, cases []roleCase) {
	t.Helper()
	inTable := map[string]bool{}
	for _, c := range cases {
		if !registered[c.route] {
			t.Errorf("table row %q is not a registered route", c.route)
		}
		inTable[c.route] = true
	}
	var missingRows []string
	for r := range registered {
		method, path, _ := strings.Cut(r, " ")
		if rest, ok := strings.CutPrefix(path, "/api/"); ok {
			if !registered[method+" /"+rest] {
				t.Errorf("%s has no twin without the /api prefix", r)
			}
			if !inTable[r] {
				missingRows = append(missingRows, r)
			}
			continue
		}
		if registered[method+" /api"+path] {
			continue // the bare twin of an /api route, called by the table too
		}
		if !inTable[r] {
			missingRows = append(missingRows, r)
		}
	}
	sort.Strings(missingRows)
	for _, r := range missingRows {
		t.Errorf("route %s has no row in the route × role table", r)
	}
}

// errPattern is an error body with the ids in its message made generic, so
// that "server 2 not found" and "server 999999 not found" compare equal.
var digits = regexp.MustCompile(`[0-9]+`)

func errPattern(r resp) string {
	eo, _ := r.Body["error"].(map[string]any)
	return fmt.Sprintf("%d %v %s %v", r.Status, eo["code"], digits.ReplaceAllString(fmt.Sprint(eo["msg"]), "N"), eo["value"])
}

func TestRoutesByRole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		f := e.fixture()
		x := roleSetup(t, e, f)
		roleCheckScope(t, e, f, x)

		cases := roleCases(t, e, f, x)
		roleCheckCoverage(t, roleRegistered(t, e), cases)

		tokens := [3]string{"", f.userToken, e.admin}
		login := [3]func() string{
			func() string { return "" },
			func() string { tok, _ := e.login("user@example.com", "user-password-1"); return tok },
			func() string { tok, _ := e.login(adminEmail, adminPass); return tok },
		}
		call := func(c roleCase, who int, path string) resp {
			t.Helper()
			method, _, _ := strings.Cut(c.route, " ")
			body := c.body
			if fn, ok := body.(func() any); ok {
				body = fn()
			}
			if c.bodyFor != nil {
				body = c.bodyFor(who)
			}
			tok := tokens[who]
			if c.fresh {
				tok = login[who]()
			}
			args := c.args
			if c.argsFor != nil {
				args = c.argsFor(who, tok)
			}
			p := roleFill(t, path, args)
			var rd string
			switch b := body.(type) {
			case nil:
			case string:
				rd = b
			default:
				js, err := json.Marshal(b)
				if err != nil {
					t.Fatal(err)
				}
				rd = string(js)
			}
			return authSend(t, authRequest(t, e, method, p, rd, authOpts{xsrf: tok}))
		}
		for i, c := range cases {
			_, pattern, _ := strings.Cut(c.route, " ")
			forms := []string{pattern}
			if bare, ok := strings.CutPrefix(pattern, "/api"); ok {
				forms = append(forms, bare)
			}
			for who := range 3 {
				paths := forms
				if who == asAdmin && len(forms) == 2 { // one stateful call, in either form
					paths = forms[i%2 : i%2+1]
				}
				for _, p := range paths {
					r := call(c, who, p)
					label := fmt.Sprintf("%s as %s via %s", c.route, roleNames[who], p)
					if r.Status != c.want[who] {
						t.Errorf("%s: status %d, want %d: %s", label, r.Status, c.want[who], r.Raw)
						continue
					}
					if r.Status >= 400 {
						authErr(t, r, r.Status, "")
					}
					// a refusal must not depend on whether the objects exist
					// (checked on the /api form; the bare one routes the same)
					hasArgs := len(c.args) > 0 && c.argsFor == nil && p == pattern
					if hasArgs && (r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden) {
						for _, bad := range []string{"999999", "not-an-id"} {
							m := c
							m.args = roleMissing(c.args, bad)
							rm := call(m, who, p)
							if rm.Status != r.Status || string(rm.Raw) != string(r.Raw) {
								t.Errorf("%s: for ids %v %d %s, for existing ones %d %s", label, m.args, rm.Status, rm.Raw, r.Status, r.Raw)
							}
						}
					}
					if hasArgs && who == asUser && r.Status == http.StatusNotFound {
						m := c
						m.args = roleMissing(c.args, "999999")
						rm := call(m, who, p)
						if errPattern(rm) != errPattern(r) {
							t.Errorf("%s: a server the user does not own answers %s, a missing one %s", label, r.Raw, rm.Raw)
						}
					}
				}
			}
		}
		// The admin really did it: the deleted objects are gone.
		for _, p := range []string{"/api/dci/v3/server/" + itoa(x.delServer), "/api/dci/v3/location/" + itoa(x.delLocation),
			"/api/dci/v3/switch/" + itoa(f.sw) + "/port/" + itoa(x.delPort), "/api/dci/v3/user/" + itoa(x.delUser)} {
			authErr(t, e.do("GET", p, e.admin, nil), http.StatusNotFound, "")
		}
	})
}

// roleCheckScope: a @user's lists hold only its server and that server's
// addresses, whatever where= it sends; an admin sees everything.
func roleCheckScope(t *testing.T, e *env, f fixture, x roleExtra) {
	t.Helper()
	ids := func(r resp) []int64 {
		t.Helper()
		list, ok := r.Body["list"].([]any)
		if !ok {
			t.Fatalf("not a list: %s", r.Raw)
		}
		var out []int64
		for _, it := range list {
			out = append(out, int64(it.(map[string]any)["id"].(float64)))
		}
		if size, _ := r.Body["size"].(float64); int(size) != len(out) {
			t.Fatalf("size %v for %d items: %s", r.Body["size"], len(out), r.Raw)
		}
		return out
	}
	expect := func(tok, path string, want ...int64) {
		t.Helper()
		for _, p := range []string{path, strings.TrimPrefix(path, "/api")} {
			got := ids(e.must(http.StatusOK, "GET", p, tok, nil))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("GET %s: ids %v, want %v", p, got, want)
			}
		}
	}
	u, mine, theirs := f.userToken, itoa(f.servers[0]), itoa(f.servers[1])
	all := append([]int64{}, f.servers...)
	all = append(all, x.spare, x.delServer)

	expect(u, "/api/dci/v3/server", f.servers[0])
	expect(u, "/api/dci/v3/server?where=id+EQ+"+theirs)
	expect(u, "/api/dci/v3/server?where=id+EQ+"+theirs+"+OR+id+EQ+"+mine, f.servers[0])
	expect(u, "/api/dci/v3/server?where=(owner_email+IS+null)+OR+id+NE+0", f.servers[0])
	expect(u, "/api/dci/v3/server?where=owner_email+IS+null")
	expect(u, "/api/dci/v3/server?where=NOT+id+EQ+"+mine)
	expect(e.admin, "/api/dci/v3/server", all...)
	for _, p := range []string{"/api/dci/v3/ip", "/api/dci/v3/ipmgr/ip", "/api/ip/v3/ip", "/api/dci/v3/server/" + mine + "/ip"} {
		expect(u, p, x.ipA)
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		expect(u, p+sep+"where=server+EQ+"+theirs+"+OR+server+IS+null+OR+id+EQ+"+itoa(x.ipB))
	}
	for _, p := range []string{"/api/dci/v3/ip", "/api/dci/v3/ipmgr/ip", "/api/ip/v3/ip"} {
		expect(e.admin, p, x.ipA, x.ipB, x.ipFree, x.ipMove, x.ipDel)
	}
	expect(e.admin, "/api/dci/v3/server/"+theirs+"/ip", x.ipB)
	expect(e.admin, "/api/dci/v3/server/"+mine+"/ip?where=id+EQ+"+itoa(x.ipB)+"+OR+id+EQ+"+itoa(x.ipA), x.ipA)

	// the user's server in its own view, with its address
	r := e.must(http.StatusOK, "GET", "/api/dci/v3/server/"+mine, u, nil)
	if ips, _ := r.Body["ip"].([]any); len(ips) != 1 || int64(ips[0].(map[string]any)["id"].(float64)) != x.ipA {
		t.Errorf("the user's server shows ip %v, want [%d]", r.Body["ip"], x.ipA)
	}
	// another's server, and its addresses, look exactly like missing ones
	for _, p := range []string{"/server/%s", "/server/%s/ip"} {
		for _, pfx := range []string{"/api/dci/v3", "/dci/v3"} {
			other := e.do("GET", pfx+fmt.Sprintf(p, theirs), u, nil)
			none := e.do("GET", pfx+fmt.Sprintf(p, "999999"), u, nil)
			authErr(t, other, http.StatusNotFound, "")
			authErr(t, none, http.StatusNotFound, "")
			if errPattern(other) != errPattern(none) || strings.Contains(string(other.Raw), "own") {
				t.Errorf("GET %s: another's server answers %s, a missing one %s", p, other.Raw, none.Raw)
			}
		}
	}
}

// A role or state change applies to open sessions at once.
func TestRoleChangeAppliesToOpenSessions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id := e.create("/api/dci/v3/user", map[string]any{"email": "ops@example.com", "password": "user-password-1", "role": "@admin"})
		tok, _ := e.login("ops@example.com", "user-password-1")
		e.must(http.StatusOK, "GET", "/api/dci/v3/user", tok, nil)
		e.must(http.StatusOK, "POST", "/api/dci/v3/user/"+itoa(id), e.admin, map[string]any{"role": "@user"})
		authErr(t, e.do("GET", "/api/dci/v3/user", tok, nil), http.StatusForbidden, "")
		authErr(t, e.do("POST", "/auth/v4/user/"+itoa(id)+"/key", tok, ""), http.StatusForbidden, "")
		r := e.must(http.StatusOK, "GET", "/auth/v4/whoami", tok, nil)
		if roles, _ := r.Body["roles"].([]any); len(roles) != 1 || roles[0] != "@user" {
			t.Fatalf("whoami after demotion: %s", r.Raw)
		}
		e.must(http.StatusOK, "POST", "/api/dci/v3/user/"+itoa(id), e.admin, map[string]any{"role": "@admin"})
		tok, _ = e.login("ops@example.com", "user-password-1")
		e.must(http.StatusOK, "GET", "/api/dci/v3/user", tok, nil)
		// disabled: its sessions end and it cannot log in
		e.must(http.StatusOK, "POST", "/api/dci/v3/user/"+itoa(id), e.admin, map[string]any{"state": "disabled"})
		authErr(t, e.do("GET", "/auth/v4/whoami", tok, nil), http.StatusUnauthorized, "")
		authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON("ops@example.com", "user-password-1")), http.StatusUnauthorized, "")
		authErr(t, e.do("POST", "/auth/v4/user/"+itoa(id)+"/key", e.admin, ""), http.StatusConflict, "")
		// deleted: the same
		e.must(http.StatusOK, "POST", "/api/dci/v3/user/"+itoa(id), e.admin, map[string]any{"state": "active"})
		tok, _ = e.login("ops@example.com", "user-password-1")
		e.must(http.StatusOK, "DELETE", "/api/dci/v3/user/"+itoa(id), e.admin, nil)
		authErr(t, e.do("GET", "/auth/v4/whoami", tok, nil), http.StatusUnauthorized, "")
	})
}
