package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/migrations"
)

// Bad input on every write route: each request must answer the right 4xx in
// the error format, say nothing about Go or SQL, and change nothing in the
// database.

const biDCI = "/api/dci/v3"

// biInternals may not appear in any error answer (compared lower-case).
var biInternals = []string{"sql", "sqlstate", "gorm", "pq:", "runtime", "panic", "goroutine", ".go:"}

// ---------------------------------------------------------------------------
// database snapshot

var biCreateTable = regexp.MustCompile(`(?m)^CREATE TABLE (\w+)`)

// biTables are the tables of the foundation migration, except sessions
// (whose last_seen_at moves on every authenticated request).
func biTables(t *testing.T) []string {
	t.Helper()
	src, err := migrations.FS.ReadFile("sqlite/00001_foundation.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range biCreateTable.FindAllStringSubmatch(string(src), -1) {
		if m[1] != "sessions" {
			out = append(out, m[1])
		}
	}
	if len(out) < 15 {
		t.Fatalf("found only %d tables in the migration: %v", len(out), out)
	}
	return out
}

// dbSnapshot is every row of every table, rendered as text, per table.
type dbSnapshot map[string][]string

// snapshot dumps every table (SELECT * ordered by id; settings, which has no
// id, by name) into a comparable value.
func snapshot(t *testing.T, db *store.DB) dbSnapshot {
	t.Helper()
	if db.IsPostgres() {
		return biSnapshotPostgres(t, db)
	}
	snap := dbSnapshot{}
	for _, table := range biTables(t) {
		rows, err := db.SQL().Query("SELECT * FROM " + table + " ORDER BY " + biOrder(table))
		if err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		snap[table] = biRows(t, table, rows)
	}
	return snap
}

func biOrder(table string) string {
	if table == "settings" {
		return "name"
	}
	return "id"
}

func biRows(t *testing.T, table string, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(cols[i])
			b.WriteByte('=')
			switch x := v.(type) {
			case nil:
				b.WriteString("NULL")
			case []byte:
				fmt.Fprintf(&b, "%q", x)
			case string:
				fmt.Fprintf(&b, "%q", x)
			case time.Time:
				b.WriteString(x.UTC().Format(time.RFC3339Nano))
			default:
				fmt.Fprint(&b, x)
			}
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("snapshot %s: %v", table, err)
	}
	return out
}

// biSnapshotPostgres is the same dump in one statement (SELECT * of each
// table as a JSON array), one round trip instead of one per table.
func biSnapshotPostgres(t *testing.T, db *store.DB) dbSnapshot {
	t.Helper()
	var parts []string
	for _, table := range biTables(t) {
		parts = append(parts, fmt.Sprintf(`SELECT '%s' AS t, (SELECT COALESCE(json_agg(x ORDER BY %s)::text, '[]') FROM (SELECT * FROM %s) x) AS j`,
			table, biOrder(table), table))
	}
	rows, err := db.SQL().Query(strings.Join(parts, " UNION ALL "))
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer rows.Close()
	snap := dbSnapshot{}
	for rows.Next() {
		var table, js string
		if err := rows.Scan(&table, &js); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		var list []json.RawMessage
		if err := json.Unmarshal([]byte(js), &list); err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		out := make([]string, len(list))
		for i, r := range list {
			out[i] = string(r)
		}
		snap[table] = out
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return snap
}

// biWriteProbe tells whether anything may have been committed since its
// last call. On SQLite it reads PRAGMA data_version on a connection of its
// own (the value moves when any other connection commits); elsewhere it
// always answers true, so that a full snapshot is compared.
func biWriteProbe(t *testing.T, db *store.DB) func() bool {
	t.Helper()
	if db.IsPostgres() {
		return func() bool { return true }
	}
	ctx := context.Background()
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	version := func() int64 {
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatalf("data_version: %v", err)
		}
		return v
	}
	last := version()
	return func() bool {
		v := version()
		changed := v != last
		last = v
		return changed
	}
}

// diff describes how b differs from a ("" when equal).
func (a dbSnapshot) diff(b dbSnapshot) string {
	var out []string
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, table := range names {
		ra, rb := a[table], b[table]
		in := map[string]int{}
		for _, r := range ra {
			in[r]++
		}
		for _, r := range rb {
			in[r]--
		}
		for _, r := range ra {
			if in[r] > 0 {
				out = append(out, fmt.Sprintf("  %s: - %s", table, r))
				in[r]--
			}
		}
		for _, r := range rb {
			if in[r] < 0 {
				out = append(out, fmt.Sprintf("  %s: + %s", table, r))
				in[r]++
			}
		}
	}
	return strings.Join(out, "\n")
}

// ---------------------------------------------------------------------------
// checking an error answer

// biCheckErr checks an answer is the error format with the given status, that
// its text has no internals, and (when given) that value names field/param.
// It returns a problem description, or "".
func biCheckErr(t *testing.T, r resp, status int, field, param string) string {
	t.Helper()
	if r.Status != status {
		return fmt.Sprintf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	eo, ok := r.Body["error"].(map[string]any)
	if !ok {
		return fmt.Sprintf("not an error body: %s", r.Raw)
	}
	code, ok1 := eo["code"].(float64)
	msg, ok2 := eo["msg"].(string)
	val, has := eo["value"]
	if !ok1 || !ok2 || !has || msg == "" || len(r.Body) != 1 {
		return fmt.Sprintf("malformed error body: %s", r.Raw)
	}
	if want := float64(status); status != http.StatusUnauthorized && code != want {
		return fmt.Sprintf("error code %v, want %d: %s", code, status, r.Raw)
	}
	low := strings.ToLower(string(r.Raw))
	for _, w := range biInternals {
		if strings.Contains(low, w) {
			return fmt.Sprintf("answer shows internals (%q): %s", w, r.Raw)
		}
	}
	if field != "" || param != "" {
		vm, _ := val.(map[string]any)
		if field != "" && vm["field"] != field {
			return fmt.Sprintf("value.field = %v, want %q: %s", vm["field"], field, r.Raw)
		}
		if param != "" && vm["param"] != param {
			return fmt.Sprintf("value.param = %v, want %q: %s", vm["param"], param, r.Raw)
		}
	}
	return ""
}

// biCase is one bad request.
type biCase struct {
	name   string
	method string
	path   string
	body   any // nil, a raw string/[]byte, or a value to encode
	status int
	field  string // value.field the answer must name, if any
	param  string // value.param the answer must name, if any
}

// runBad sends each case as admin and checks the answer and that the database
// is the same before and after.
// The snapshot after one request is the one before the next. On SQLite a
// write probe says when nothing was committed, and the dump is then compared
// only every few requests (and after the last), which keeps the many cases
// fast; the probe is checked against those dumps too.
func (e *env) runBad(t *testing.T, cases []biCase) {
	t.Helper()
	probe := biWriteProbe(t, e.db)
	before := snapshot(t, e.db)
	for i, c := range cases {
		r := e.do(c.method, c.path, e.admin, c.body)
		if p := biCheckErr(t, r, c.status, c.field, c.param); p != "" {
			t.Errorf("%s (%s %s): %s", c.name, c.method, c.path, p)
		}
		written := probe()
		if !written && i%20 != 19 && i != len(cases)-1 {
			continue
		}
		after := snapshot(t, e.db)
		if d := before.diff(after); d != "" {
			t.Errorf("%s (%s %s): the database changed:\n%s", c.name, c.method, c.path, d)
			if !written {
				t.Errorf("the write probe missed that change")
			}
			before = after
		}
	}
}

// ---------------------------------------------------------------------------
// body helpers

func biWith(base map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func biWithout(base map[string]any, keys ...string) map[string]any {
	out := biWith(base)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// biWrongTypes are values of the wrong JSON type for a field holding v.
func biWrongTypes(v any) []any {
	switch v.(type) {
	case int, int64, float64:
		return []any{"abc", "", 1.5, json.RawMessage("1e3"), map[string]any{}, true, []any{1}}
	case string:
		return []any{5, map[string]any{}, true, []any{"x"}}
	case bool:
		return []any{map[string]any{}, "yes", "true", 1, []any{}}
	case []any, []string, []map[string]any:
		return []any{"x", map[string]any{}, 5, true}
	case map[string]any:
		return []any{"x", []any{}, 5, true}
	}
	panic(fmt.Sprintf("no wrong types for %T", v))
}

func biJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// biBodyShapes are bodies that are not a JSON object, or not JSON at all.
func biBodyShapes(name, method, path string) []biCase {
	raws := []string{`{"name":`, `{name:"x"}`, `{"name":"x",}`, `{"name":"x"} {}`, `{"name":"x"}x`, `[]`, `[{"name":"x"}]`,
		`"name"`, `42`, `true`, `not json`, "{\"name\":\"\x01\"}", `{"name":"\ud800"`}
	var out []biCase
	for _, raw := range raws {
		out = append(out, biCase{name: name + " body " + raw, method: method, path: path, body: raw, status: http.StatusBadRequest})
	}
	return out
}

// biTooLarge are bodies of 1 MiB + 1 byte: one valid JSON, one garbage.
func biTooLarge(name, method, path string) []biCase {
	n := maxBody + 1
	js := `{"name":"` + strings.Repeat("a", n-len(`{"name":""}`)) + `"}`
	garbage := bytes.Repeat([]byte{'x'}, n)
	return []biCase{
		{name: name + " 1MiB+1 JSON", method: method, path: path, body: []byte(js), status: http.StatusRequestEntityTooLarge},
		{name: name + " 1MiB+1 garbage", method: method, path: path, body: garbage, status: http.StatusRequestEntityTooLarge},
	}
}

// biBadIDs are path ids that are not ids, or of no object.
var biBadIDs = []string{"999999", "0", "-1", "abc", "1.5", "1e3", "0x1", "99999999999999999999", "9223372036854775807",
	"%20", "1%3BDROP%20TABLE%20servers"}

// ---------------------------------------------------------------------------
// the world the bad requests are sent to

type biWorld struct {
	fixture
	chassis, bmc, bmc2, tpl, port2, outlet2, conn, sw2, pdu2 int64
}

func (e *env) biWorld() biWorld {
	e.t.Helper()
	w := biWorld{fixture: e.fixture()}
	id := itoa
	w.chassis = e.create(biDCI+"/chassis", map[string]any{"name": "CH1", "size": 10, "server_slot_count": 8,
		"location_id": w.location, "rack_id": w.rack, "unit": 30})
	w.tpl = e.create(biDCI+"/os_template", map[string]any{"name": "Debian 12", "tags": []string{"linux"}, "kind": "debian-preseed"})
	w.bmc = e.create(biDCI+"/ipmi", map[string]any{"server_id": w.servers[1], "address": "10.0.1.2", "user": "admin", "password": "ipmi-pass"})
	w.bmc2 = e.create(biDCI+"/ipmi", map[string]any{"server_id": w.servers[0], "address": "10.0.1.1"})
	w.port2 = e.create(biDCI+"/switch/"+id(w.sw)+"/port", map[string]any{"identity": "2"})
	w.outlet2 = e.create(biDCI+"/pdu/"+id(w.pdu)+"/port", map[string]any{"identity": "2"})
	w.sw2 = e.create(biDCI+"/switch", map[string]any{"name": "sw2", "address": "127.0.0.2"})
	w.pdu2 = e.create(biDCI+"/pdu", map[string]any{"name": "pdu2", "address": "127.0.0.3"})
	w.conn = e.create(biDCI+"/server/"+id(w.servers[0])+"/switch_connection", map[string]any{"switch_port_id": w.port})
	e.must(http.StatusOK, "POST", biDCI+"/server/"+id(w.servers[0])+"/pdu_connection", e.admin, map[string]any{"pdu_port_id": w.outlet})
	e.must(http.StatusOK, "POST", biDCI+"/server/"+id(w.servers[1]), e.admin, map[string]any{"chassis_id": w.chassis, "slot": 1,
		"os_template_id": w.tpl})
	return w
}

// biRes describes one writable collection for generated bad input.
type biRes struct {
	name     string
	coll     string         // the collection (POST creates)
	one      string         // an existing object (POST edits, DELETE removes)
	create   map[string]any // a valid create body (checked to work at the end)
	required []string
	long     []string         // string fields refused at 300 characters
	veryLong []string         // string fields (URLs) refused at 3000 characters
	ranges   map[string][]any // field → values out of range
	enums    map[string]any   // field → a value not allowed
	refs     []string         // fields naming other objects
	dup      []map[string]any // create bodies that clash with an existing object (409)
	dupEdit  map[string]any   // an edit that clashes (409)
}

func (w biWorld) resources() []biRes {
	id := itoa
	loc, rack := w.location, w.rack
	return []biRes{
		{name: "location", coll: "/location", one: "/location/" + id(loc),
			create:   map[string]any{"name": "BadLoc", "geolocation": "2nd Street", "userspace": 1},
			required: []string{"name"}, long: []string{"name", "geolocation"},
			ranges: map[string][]any{"userspace": {0, -1, 3000000000}},
			dup:    []map[string]any{{"name": "DC1"}, {"name": " DC1 "}}, dupEdit: map[string]any{"name": "BadLoc2"}},
		{name: "rack", coll: "/rack", one: "/rack/" + id(rack),
			create:   map[string]any{"name": "BadRack", "size": 42, "location_id": loc},
			required: []string{"name", "location_id"}, long: []string{"name"},
			ranges: map[string][]any{"size": {0, -1, 101, 3000000000}}, refs: []string{"location_id"},
			dup: []map[string]any{{"name": "R1", "location_id": loc}}, dupEdit: map[string]any{"name": "R2"}},
		{name: "platform", coll: "/platform", one: "/platform/" + id(w.platform),
			create:   map[string]any{"name": "BadPlat", "size": 2, "type": "server"},
			required: []string{"name"}, long: []string{"name", "type"},
			ranges: map[string][]any{"size": {0, -1, 101}},
			dup:    []map[string]any{{"name": "R640"}}, dupEdit: map[string]any{"name": "P2"}},
		{name: "chassis", coll: "/chassis", one: "/chassis/" + id(w.chassis),
			create: map[string]any{"name": "BadCh", "size": 2, "server_slot_count": 4, "location_id": loc, "rack_id": rack,
				"unit": 10},
			required: []string{"name"}, long: []string{"name"},
			ranges: map[string][]any{"size": {0, -1, 101}, "server_slot_count": {0, -1, 1025}, "unit": {0, -1, 101}},
			refs:   []string{"location_id", "rack_id"},
			dup:    []map[string]any{{"name": "CH1"}}, dupEdit: map[string]any{"name": "CH2"}},
		{name: "switch", coll: "/switch", one: "/switch/" + id(w.sw),
			create: map[string]any{"name": "BadSw", "address": "10.0.0.9", "snmp_port": 161, "snmp_version": "v2c",
				"snmp_community": "c0mm", "profile": "generic", "read_only": false, "location_id": loc, "rack_id": rack, "unit": 11},
			required: []string{"name", "address"},
			long:     []string{"name", "address", "profile", "snmp_community", "snmp_v3_user"},
			ranges:   map[string][]any{"snmp_port": {0, -1, 70000}, "unit": {0, 101}},
			enums:    map[string]any{"snmp_version": "v4", "profile": ""},
			refs:     []string{"location_id", "rack_id"},
			dup:      []map[string]any{{"name": "sw1", "address": "10.0.0.1"}}, dupEdit: map[string]any{"name": "sw2"}},
		{name: "switch port", coll: "/switch/" + id(w.sw) + "/port", one: "/switch/" + id(w.sw) + "/port/" + id(w.port2),
			create: map[string]any{"identity": "99", "name": "Gi0/99", "description": "uplink", "admin_status": "up",
				"oper_status": "down", "speed": 1000},
			required: []string{"identity"}, long: []string{"identity", "name", "description"},
			ranges: map[string][]any{"speed": {-1, 3000000000}},
			enums:  map[string]any{"admin_status": "sideways", "oper_status": "UP"},
			dup:    []map[string]any{{"identity": "1"}, {"identity": " 1"}}, dupEdit: map[string]any{"identity": "1"}},
		{name: "pdu", coll: "/pdu", one: "/pdu/" + id(w.pdu),
			create: map[string]any{"name": "BadPdu", "address": "10.0.0.10", "snmp_port": 161, "snmp_version": "v1",
				"snmp_community": "c0mm", "profile": "apc", "location_id": loc, "rack_id": rack, "unit": 12},
			required: []string{"name", "address"}, long: []string{"name", "address", "profile", "snmp_community"},
			ranges: map[string][]any{"snmp_port": {0, 70000}, "unit": {0, 101}},
			enums:  map[string]any{"snmp_version": "v9"},
			refs:   []string{"location_id", "rack_id"},
			dup:    []map[string]any{{"name": "pdu1", "address": "10.0.0.1"}}, dupEdit: map[string]any{"name": "pdu2"}},
		{name: "pdu port", coll: "/pdu/" + id(w.pdu) + "/port", one: "/pdu/" + id(w.pdu) + "/port/" + id(w.outlet2),
			create:   map[string]any{"identity": "99", "name": "outlet 99"},
			required: []string{"identity"}, long: []string{"identity", "name"},
			dup: []map[string]any{{"identity": "1"}}, dupEdit: map[string]any{"identity": "1"}},
		{name: "ipmi", coll: "/ipmi", one: "/ipmi/" + id(w.bmc),
			create: map[string]any{"server_id": w.servers[2], "address": "10.0.1.3", "port": 623, "user": "admin",
				"password": "pw", "type": "IPMI v1.5/v2", "cipher_suite": 3, "privilege": "operator", "web_url": "https://10.0.1.3/"},
			required: []string{"address"}, long: []string{"address"}, veryLong: []string{"web_url"},
			ranges:  map[string][]any{"port": {0, -1, 70000}, "cipher_suite": {18, -1}},
			enums:   map[string]any{"type": "IPMI v3", "privilege": "root", "user": strings.Repeat("u", 17), "password": strings.Repeat("p", 21)},
			refs:    []string{"server_id"},
			dup:     []map[string]any{{"server_id": w.servers[1], "address": "10.0.9.9"}},
			dupEdit: map[string]any{"server_id": w.servers[0]}},
		{name: "os template", coll: "/os_template", one: "/os_template/" + id(w.tpl),
			create: map[string]any{"name": "BadOS", "tags": []string{"linux"}, "kind": "image", "access": "all", "efi": true,
				"legacy": false, "kernel": "", "initrd": "", "image": "http://mirror/img.raw", "macros": []map[string]any{{"name": "a", "value": "b"}}},
			required: []string{"name"}, long: []string{"name"}, veryLong: []string{"image", "kernel", "initrd"},
			enums: map[string]any{"kind": "floppy", "access": "everyone", "legacy": false, "tags": []string{"ok", " "},
				"macros": []map[string]any{{"name": "", "value": "b"}}},
			dup: []map[string]any{{"name": "Debian 12"}}, dupEdit: map[string]any{"name": "Debian 13"}},
	}
}

// biResCases generates the bad input for one collection.
func biResCases(r biRes) []biCase {
	var cs []biCase
	c, one := biDCI+r.coll, biDCI+r.one
	bad := func(name, method, path string, body any, status int, field string) {
		cs = append(cs, biCase{name: r.name + " " + name, method: method, path: path, body: body, status: status, field: field})
	}
	// Body shapes and size, on create and edit.
	for _, p := range []string{c, one} {
		cs = append(cs, biBodyShapes(r.name, "POST", p)...)
		cs = append(cs, biTooLarge(r.name, "POST", p)...)
	}
	bad("create empty body", "POST", c, "", 400, r.required[0])
	bad("create {}", "POST", c, "{}", 400, r.required[0])
	bad("create null", "POST", c, "null", 400, r.required[0])
	bad("create unknown field", "POST", c, biWith(r.create, "bogus", 1), 400, "bogus")
	bad("create field in wrong case", "POST", c, biWith(r.create, "Name", "x"), 400, "Name")
	bad("edit unknown field", "POST", one, map[string]any{"bogus": 1}, 400, "bogus")
	bad("edit nul in key", "POST", one, "{\"na\\u0000me\":\"x\"}", 400, "")
	// Wrong types for every field, on create and edit.
	keys := make([]string, 0, len(r.create))
	for k := range r.create {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range biWrongTypes(r.create[k]) {
			bad(fmt.Sprintf("create %s=%s", k, biJSON(v)), "POST", c, biWith(r.create, k, v), 400, k)
			bad(fmt.Sprintf("edit %s=%s", k, biJSON(v)), "POST", one, map[string]any{k: v}, 400, k)
		}
		if s, ok := r.create[k].(string); ok && s != "" {
			bad("create NUL in "+k, "POST", c, biWith(r.create, k, "a\x00b"), 400, k)
		}
	}
	for _, k := range r.required {
		bad("create without "+k, "POST", c, biWithout(r.create, k), 400, k)
	}
	// Empty and blank names; too long strings.
	for _, v := range []string{"", "   ", "\t\n"} {
		bad(fmt.Sprintf("create %s=%q", r.required[0], v), "POST", c, biWith(r.create, r.required[0], v), 400, r.required[0])
		bad(fmt.Sprintf("edit %s=%q", r.required[0], v), "POST", one, map[string]any{r.required[0]: v}, 400, r.required[0])
	}
	for _, k := range r.long {
		v := strings.Repeat("x", 300)
		bad("create 300 chars "+k, "POST", c, biWith(r.create, k, v), 400, k)
		bad("edit 300 chars "+k, "POST", one, map[string]any{k: v}, 400, k)
	}
	for _, k := range r.veryLong {
		v := "http://x/" + strings.Repeat("x", 3000)
		bad("create 3000 chars "+k, "POST", c, biWith(r.create, k, v), 400, k)
		bad("edit 3000 chars "+k, "POST", one, map[string]any{k: v}, 400, k)
	}
	for k, vs := range r.ranges {
		for _, v := range vs {
			bad(fmt.Sprintf("create %s=%v", k, v), "POST", c, biWith(r.create, k, v), 400, k)
			bad(fmt.Sprintf("edit %s=%v", k, v), "POST", one, map[string]any{k: v}, 400, k)
		}
	}
	for k, v := range r.enums {
		field := k
		if k == "legacy" {
			field = "efi" // a template needs EFI or legacy boot: efi is named
			bad("create efi=false legacy=false", "POST", c, biWith(r.create, "efi", false, "legacy", false), 400, field)
			continue
		}
		bad(fmt.Sprintf("create %s=%s", k, biJSON(v)), "POST", c, biWith(r.create, k, v), 400, field)
		bad(fmt.Sprintf("edit %s=%s", k, biJSON(v)), "POST", one, map[string]any{k: v}, 400, field)
	}
	for _, k := range r.refs {
		for _, v := range []any{999999, 0, -1, "999999", int64(9223372036854775807)} {
			body := biWith(r.create, k, v)
			if k == "location_id" && body["rack_id"] != nil {
				delete(body, "rack_id") // the rack check would name rack_id
			}
			bad(fmt.Sprintf("create %s=%v", k, v), "POST", c, body, 400, k)
			edit := map[string]any{k: v}
			if k == "location_id" && r.create["rack_id"] != nil {
				edit["rack_id"] = nil
			}
			bad(fmt.Sprintf("edit %s=%v", k, v), "POST", one, edit, 400, k)
		}
	}
	for i, d := range r.dup {
		bad(fmt.Sprintf("create duplicate %d", i), "POST", c, biWith(r.create, mapPairs(d)...), 409, "")
	}
	// Path ids: edit, get and delete of nothing.
	for _, bid := range biBadIDs {
		bad("edit id "+bid, "POST", c+"/"+bid, map[string]any{}, 404, "")
		bad("get id "+bid, "GET", c+"/"+bid, nil, 404, "")
		bad("delete id "+bid, "DELETE", c+"/"+bid, nil, 404, "")
	}
	return cs
}

func mapPairs(m map[string]any) []any {
	var kv []any
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}

// biListCases are bad where/orderby/limit on a list route.
func biListCases(name, path string) []biCase {
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return path + "?" + v.Encode()
	}
	type lc struct {
		query, param, field string
	}
	cases := []lc{
		{q("where", "bogus EQ 1"), "where", "bogus"},
		{q("where", "community_enc EQ 'x'"), "where", "community_enc"},
		{q("where", "password_hash CP '%'"), "where", "password_hash"},
		{q("where", "id EQ"), "where", ""},
		{q("where", "id EQ 1 AND"), "where", ""},
		{q("where", "(id EQ 1"), "where", ""},
		{q("where", "id EQ 1)"), "where", ""},
		{q("where", "id LIKE 1"), "where", "id"},
		{q("where", "id EQ 'abc"), "where", ""},
		{q("where", "id EQ 'it''s"), "where", ""},
		{q("where", "id EQ 1.5"), "where", ""},
		{q("where", "id EQ 99999999999999999999"), "where", ""},
		{q("where", "id EQ 'abc'"), "where", "id"},
		{q("where", "id; DROP TABLE servers"), "where", ""},
		{q("where", "id EQ 1; DROP TABLE servers;--"), "where", ""},
		{q("where", "id EQ '\x00'"), "where", ""},
		{q("where", "id EQ '\xff'"), "where", ""},
		{q("where", strings.Repeat("(", 5000)), "where", ""},
		{q("orderby", "bogus asc"), "orderby", "bogus"},
		{q("orderby", "id sideways"), "orderby", "id"},
		{q("orderby", "id; DROP TABLE servers"), "orderby", ""},
		{q("orderby", "id asc extra"), "orderby", ""},
		{q("limit", "-1"), "limit", ""},
		{q("limit", "a,b"), "limit", ""},
		{q("limit", "1,"), "limit", ""},
		{q("limit", "1,-5"), "limit", ""},
		{q("limit", "99999999999999999999"), "limit", ""},
		{path + "?where=bogus+EQ%20'a+b'", "where", "bogus"},
	}
	var out []biCase
	for _, c := range cases {
		out = append(out, biCase{name: name + " list " + c.query, method: "GET", path: c.query, status: 400, param: c.param, field: c.field})
	}
	return out
}

func TestBadInputInventory(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		w := e.biWorld()
		var cases []biCase
		for _, r := range w.resources() {
			cases = append(cases, biResCases(r)...)
			cases = append(cases, biListCases(r.name, biDCI+r.coll)...)
		}
		id := itoa
		// Nested collections under parents that do not exist, and objects
		// under the wrong parent.
		for _, p := range []string{"switch", "pdu"} {
			for _, bid := range biBadIDs {
				cases = append(cases,
					biCase{name: p + " port list under " + bid, method: "GET", path: biDCI + "/" + p + "/" + bid + "/port", status: 404},
					biCase{name: p + " port create under " + bid, method: "POST", path: biDCI + "/" + p + "/" + bid + "/port",
						body: map[string]any{"identity": "77"}, status: 404})
			}
		}
		cases = append(cases,
			biCase{name: "switch port under the wrong switch (get)", method: "GET", path: biDCI + "/switch/" + id(w.sw2) + "/port/" + id(w.port), status: 404},
			biCase{name: "switch port under the wrong switch (edit)", method: "POST", path: biDCI + "/switch/" + id(w.sw2) + "/port/" + id(w.port),
				body: map[string]any{"description": "x"}, status: 404},
			biCase{name: "switch port under the wrong switch (delete)", method: "DELETE", path: biDCI + "/switch/" + id(w.sw2) + "/port/" + id(w.port), status: 404},
			biCase{name: "pdu port under the wrong pdu (edit)", method: "POST", path: biDCI + "/pdu/" + id(w.pdu2) + "/port/" + id(w.outlet),
				body: map[string]any{"name": "x"}, status: 404},
			biCase{name: "pdu port under the wrong pdu (delete)", method: "DELETE", path: biDCI + "/pdu/" + id(w.pdu2) + "/port/" + id(w.outlet), status: 404},
		)
		// Placement that does not add up.
		loc2 := e.create(biDCI+"/location", map[string]any{"name": "DC2"})
		for _, p := range []string{"/chassis", "/switch", "/pdu"} {
			base := map[string]any{"name": "Misplaced", "address": "10.1.1.1"}
			if p == "/chassis" {
				delete(base, "address")
			}
			cases = append(cases, biCase{name: p + " rack not in location", method: "POST", path: biDCI + p,
				body: biWith(base, "location_id", loc2, "rack_id", w.rack), status: 400, field: "rack_id"})
		}
		// Edits that clash with another object.
		for _, r := range w.resources() {
			if r.dupEdit == nil {
				continue
			}
			// create the object the edit clashes with where needed
			cases = append(cases, biCase{name: r.name + " edit clash", method: "POST", path: biDCI + r.one, body: r.dupEdit, status: 409})
		}
		e.create(biDCI+"/location", map[string]any{"name": "BadLoc2"})
		e.create(biDCI+"/rack", map[string]any{"name": "R2", "location_id": w.location})
		e.create(biDCI+"/platform", map[string]any{"name": "P2"})
		e.create(biDCI+"/chassis", map[string]any{"name": "CH2"})
		e.create(biDCI+"/os_template", map[string]any{"name": "Debian 13"})
		// SNMP v3 needs a user and good protocols and passwords.
		v3 := map[string]any{"name": "v3sw", "address": "10.2.2.2", "snmp_version": "v3", "snmp_v3_user": "u",
			"snmp_auth_protocol": "SHA", "snmp_auth_password": "auth-pass-1", "snmp_priv_protocol": "AES", "snmp_priv_password": "priv-pass-1"}
		for _, p := range []string{"/switch", "/pdu"} {
			cases = append(cases,
				biCase{name: p + " v3 without user", method: "POST", path: biDCI + p, body: biWithout(v3, "snmp_v3_user"), status: 400, field: "snmp_v3_user"},
				biCase{name: p + " v3 bad auth protocol", method: "POST", path: biDCI + p, body: biWith(v3, "snmp_auth_protocol", "ROT13"), status: 400, field: "snmp_auth_protocol"},
				biCase{name: p + " v3 short auth password", method: "POST", path: biDCI + p, body: biWith(v3, "snmp_auth_password", "short"), status: 400, field: "snmp_auth_password"},
				biCase{name: p + " v3 bad priv protocol", method: "POST", path: biDCI + p, body: biWith(v3, "snmp_priv_protocol", "ROT13"), status: 400, field: "snmp_priv_protocol"},
				biCase{name: p + " v3 short priv password", method: "POST", path: biDCI + p, body: biWith(v3, "snmp_priv_password", "short"), status: 400, field: "snmp_priv_password"},
				biCase{name: p + " v3 priv without auth", method: "POST", path: biDCI + p, body: biWithout(v3, "snmp_auth_protocol"), status: 400, field: "snmp_priv_protocol"},
				biCase{name: p + " 300 chars auth password", method: "POST", path: biDCI + p, body: biWith(v3, "snmp_auth_password", strings.Repeat("p", 300)), status: 400, field: "snmp_auth_password"},
			)
		}
		// Nested unknown fields and wrong nested types.
		cases = append(cases,
			biCase{name: "os template macro with unknown field", method: "POST", path: biDCI + "/os_template",
				body: map[string]any{"name": "M", "macros": []map[string]any{{"name": "a", "value": "b", "bogus": 1}}}, status: 400, field: "macros"},
			biCase{name: "os template macro value not a string", method: "POST", path: biDCI + "/os_template",
				body: map[string]any{"name": "M", "macros": []map[string]any{{"name": "a", "value": 5}}}, status: 400, field: "macros"},
			biCase{name: "os template tag not a string", method: "POST", path: biDCI + "/os_template",
				body: map[string]any{"name": "M", "tags": []any{5}}, status: 400, field: "tags"},
			biCase{name: "os template 300 chars tag", method: "POST", path: biDCI + "/os_template",
				body: map[string]any{"name": "M", "tags": []string{strings.Repeat("t", 300)}}, status: 400, field: "tags"},
		)
		// Deleting what is still in use.
		cases = append(cases,
			biCase{name: "delete location with racks", method: "DELETE", path: biDCI + "/location/" + id(w.location), status: 409},
			biCase{name: "delete rack with servers", method: "DELETE", path: biDCI + "/rack/" + id(w.rack), status: 409},
			biCase{name: "delete platform with servers", method: "DELETE", path: biDCI + "/platform/" + id(w.platform), status: 409},
			biCase{name: "delete chassis with servers", method: "DELETE", path: biDCI + "/chassis/" + id(w.chassis), status: 409},
			biCase{name: "delete connected switch port", method: "DELETE", path: biDCI + "/switch/" + id(w.sw) + "/port/" + id(w.port), status: 409},
			biCase{name: "delete switch with a connected port", method: "DELETE", path: biDCI + "/switch/" + id(w.sw), status: 409},
			biCase{name: "delete connected pdu port", method: "DELETE", path: biDCI + "/pdu/" + id(w.pdu) + "/port/" + id(w.outlet), status: 409},
			biCase{name: "delete pdu with a connected outlet", method: "DELETE", path: biDCI + "/pdu/" + id(w.pdu), status: 409},
		)
		e.runBad(t, cases)

		// Every valid base body does work (so each case above failed for its
		// one bad part), and an empty edit is a no-op.
		for _, r := range w.resources() {
			before := e.must(http.StatusOK, "GET", biDCI+r.one, e.admin, nil)
			for _, body := range []any{nil, "", "{}", "null", " \n "} {
				e.must(http.StatusOK, "POST", biDCI+r.one, e.admin, body)
			}
			after := e.must(http.StatusOK, "GET", biDCI+r.one, e.admin, nil)
			if !bytes.Equal(before.Raw, after.Raw) {
				t.Errorf("%s: an empty edit changed the object:\n%s\n%s", r.name, before.Raw, after.Raw)
			}
			e.must(http.StatusOK, "POST", biDCI+r.coll, e.admin, r.create)
		}
	})
}

func TestBadInputServers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		w := e.biWorld()
		id := itoa
		c := biDCI + "/server"
		one := c + "/" + id(w.servers[2])
		base := map[string]any{"name": "BadSrv", "domain": "bad.example.com", "mac": "52:54:00:00:00:99", "configuration": "cfg",
			"location_id": w.location, "rack_id": w.rack, "unit": 20, "platform_id": w.platform, "chassis_id": w.chassis, "slot": 2,
			"os_template_id": w.tpl, "is_new": false, "settings": map[string]any{"efi": true}, "hardware_info": map[string]any{"cpu": "x"}}
		r := biRes{name: "server", coll: "/server", one: "/server/" + id(w.servers[2]), create: base,
			required: []string{"name"}, long: []string{"name", "domain", "configuration"},
			ranges: map[string][]any{"unit": {0, -1, 101}, "slot": {0, -1, 9, 1025}},
			enums:  map[string]any{"mac": "zz:zz:zz:zz:zz:zz"},
			refs:   []string{"location_id", "rack_id", "platform_id", "chassis_id", "os_template_id"},
			dup:    []map[string]any{{"name": "srv1"}, {"name": " srv1"}}, dupEdit: map[string]any{"name": "srv1"}}
		cases := biResCases(r)
		// The path helpers above also check GET one and DELETE; the server
		// specifics follow.
		for _, m := range []string{"52:54:00:12:34", "52:54:00:12:34:56:78:9a", "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
			"52:54:00:12:34:5g", "5254.0012.345", "52 54 00 12 34 56", "not a mac"} {
			cases = append(cases, biCase{name: "server mac " + m, method: "POST", path: c, body: biWith(base, "mac", m), status: 400, field: "mac"},
				biCase{name: "server edit mac " + m, method: "POST", path: one, body: map[string]any{"mac": m}, status: 400, field: "mac"})
		}
		cases = append(cases,
			biCase{name: "server slot without chassis", method: "POST", path: c, body: biWithout(base, "chassis_id"), status: 400, field: "slot"},
			biCase{name: "server rack without location", method: "POST", path: c, body: biWithout(base, "location_id"), status: 400, field: "location_id"},
			biCase{name: "server edit clear location keeps rack", method: "POST", path: biDCI + "/server/" + id(w.servers[0]),
				body: map[string]any{"location_id": nil}, status: 400, field: "location_id"},
			biCase{name: "server duplicate mac", method: "POST", path: c, body: biWith(base, "mac", "52-54-00-AA-BB-CC"), status: 409},
			biCase{name: "server settings efi not bool", method: "POST", path: c, body: biWith(base, "settings", map[string]any{"efi": "yes"}), status: 400, field: "settings"},
			biCase{name: "server settings unknown field", method: "POST", path: c, body: biWith(base, "settings", map[string]any{"efi": true, "bogus": 1}), status: 400, field: "settings"},
		)
		e.must(http.StatusOK, "POST", biDCI+"/server/"+id(w.servers[1]), e.admin, map[string]any{"mac": "52:54:00:aa:bb:cc"})
		loc2 := e.create(biDCI+"/location", map[string]any{"name": "DC2"})
		cases = append(cases, biCase{name: "server rack not in location", method: "POST", path: c,
			body: biWith(base, "location_id", loc2), status: 400, field: "rack_id"})
		cases = append(cases, biListCases("server", c)...)
		cases = append(cases, biListCases("server ip", c+"/"+id(w.servers[0])+"/ip")...)
		for _, p := range []string{"/ip", "/ipmgr/ip"} {
			cases = append(cases, biListCases(p, biDCI+p)...)
		}
		cases = append(cases, biListCases("ip v3", "/api/ip/v3/ip")...)
		for _, bid := range biBadIDs {
			cases = append(cases, biCase{name: "server ips of " + bid, method: "GET", path: c + "/" + bid + "/ip", status: 404})
		}

		// Owner.
		own := c + "/" + id(w.servers[1]) + "/owner"
		cases = append(cases, biBodyShapes("owner", "POST", own)...)
		cases = append(cases, biTooLarge("owner", "POST", own)...)
		for _, b := range []any{nil, "", "{}", "null", `{"owner":null}`} {
			cases = append(cases, biCase{name: fmt.Sprintf("owner body %v", b), method: "POST", path: own, body: b, status: 400, field: "owner"})
		}
		for _, v := range []any{999999, 0, -1, "999999", int64(9223372036854775807)} {
			cases = append(cases, biCase{name: fmt.Sprintf("owner %v", v), method: "POST", path: own, body: map[string]any{"owner": v}, status: 400, field: "owner"})
		}
		for _, v := range biWrongTypes(1) {
			cases = append(cases, biCase{name: "owner " + biJSON(v), method: "POST", path: own, body: map[string]any{"owner": v}, status: 400, field: "owner"})
		}
		cases = append(cases, biCase{name: "owner unknown field", method: "POST", path: own, body: map[string]any{"owner": w.userID, "bogus": 1}, status: 400, field: "bogus"})
		// Switch connections.
		sc := c + "/" + id(w.servers[1]) + "/switch_connection"
		cases = append(cases, biBodyShapes("switch connection", "POST", sc)...)
		cases = append(cases, biTooLarge("switch connection", "POST", sc)...)
		cases = append(cases,
			biCase{name: "switch connection without port", method: "POST", path: sc, body: "{}", status: 400, field: "switch_port_id"},
			biCase{name: "switch connection empty body", method: "POST", path: sc, body: "", status: 400, field: "switch_port_id"},
			biCase{name: "switch connection unknown port", method: "POST", path: sc, body: map[string]any{"switch_port_id": 999999}, status: 400, field: "switch_port_id"},
			biCase{name: "switch connection port 0", method: "POST", path: sc, body: map[string]any{"switch_port_id": 0}, status: 400, field: "switch_port_id"},
			biCase{name: "switch connection port taken", method: "POST", path: sc, body: map[string]any{"switch_port_id": w.port}, status: 409},
			biCase{name: "switch connection port taken by itself", method: "POST", path: c + "/" + id(w.servers[0]) + "/switch_connection",
				body: map[string]any{"switch_port_id": w.port}, status: 409},
			biCase{name: "switch connection unknown field", method: "POST", path: sc, body: map[string]any{"switch_port_id": w.port2, "bogus": true}, status: 400, field: "bogus"},
			biCase{name: "remove switch connection of another server", method: "DELETE", path: sc + "/" + id(w.conn), status: 404},
		)
		for _, k := range []string{"switch_port_id", "is_ipmi_connection", "do_not_collect_traffic"} {
			var sample any = true
			if k == "switch_port_id" {
				sample = 1
			}
			for _, v := range biWrongTypes(sample) {
				cases = append(cases, biCase{name: "switch connection " + k + "=" + biJSON(v), method: "POST", path: sc,
					body: map[string]any{"switch_port_id": w.port2, k: v}, status: 400, field: k})
			}
		}
		// PDU connections.
		pc := c + "/" + id(w.servers[1]) + "/pdu_connection"
		cases = append(cases, biBodyShapes("pdu connection", "POST", pc)...)
		cases = append(cases, biTooLarge("pdu connection", "POST", pc)...)
		cases = append(cases,
			biCase{name: "pdu connection without port", method: "POST", path: pc, body: "{}", status: 400, field: "pdu_port_id"},
			biCase{name: "pdu connection unknown port", method: "POST", path: pc, body: map[string]any{"pdu_port_id": 999999}, status: 400, field: "pdu_port_id"},
			biCase{name: "pdu connection outlet taken", method: "POST", path: pc, body: map[string]any{"pdu_port_id": w.outlet}, status: 409},
			biCase{name: "remove missing pdu connection", method: "DELETE", path: pc, status: 404},
		)
		for _, v := range biWrongTypes(1) {
			cases = append(cases, biCase{name: "pdu connection " + biJSON(v), method: "POST", path: pc, body: map[string]any{"pdu_port_id": v}, status: 400, field: "pdu_port_id"})
		}
		// Unknown and non-numeric servers and connections in paths.
		for _, bid := range biBadIDs {
			sp := c + "/" + bid
			cases = append(cases,
				biCase{name: "owner of server " + bid, method: "POST", path: sp + "/owner", body: map[string]any{"owner": w.userID}, status: 404},
				biCase{name: "release server " + bid, method: "DELETE", path: sp + "/owner", status: 404},
				biCase{name: "switch connection of server " + bid, method: "POST", path: sp + "/switch_connection", body: map[string]any{"switch_port_id": w.port2}, status: 404},
				biCase{name: "remove switch connection of server " + bid, method: "DELETE", path: sp + "/switch_connection/" + id(w.conn), status: 404},
				biCase{name: "pdu connection of server " + bid, method: "POST", path: sp + "/pdu_connection", body: map[string]any{"pdu_port_id": w.outlet2}, status: 404},
				biCase{name: "remove pdu connection of server " + bid, method: "DELETE", path: sp + "/pdu_connection", status: 404},
				biCase{name: "remove switch connection " + bid, method: "DELETE", path: c + "/" + id(w.servers[0]) + "/switch_connection/" + bid, status: 404},
			)
		}
		// A body on a DELETE is not read, but 1 MiB + 1 is still too large.
		for _, p := range []string{c + "/" + id(w.servers[2]), c + "/" + id(w.servers[0]) + "/owner",
			c + "/" + id(w.servers[0]) + "/pdu_connection", c + "/" + id(w.servers[0]) + "/switch_connection/" + id(w.conn),
			biDCI + "/location/" + id(w.location), biDCI + "/user/" + id(w.userID)} {
			cases = append(cases, biTooLarge("delete", "DELETE", p)...)
		}
		e.runBad(t, cases)

		// The base body works, an empty edit is a no-op, and SQL-looking
		// text is only text.
		before := e.must(http.StatusOK, "GET", one, e.admin, nil)
		for _, body := range []any{nil, "", "{}", "null"} {
			e.must(http.StatusOK, "POST", one, e.admin, body)
		}
		if after := e.must(http.StatusOK, "GET", one, e.admin, nil); !bytes.Equal(before.Raw, after.Raw) {
			t.Errorf("an empty edit changed the server:\n%s\n%s", before.Raw, after.Raw)
		}
		e.must(http.StatusOK, "POST", c, e.admin, base)
	})
}

func TestBadInputUsersAndSettings(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		f := e.fixture()
		id := itoa
		c := biDCI + "/user"
		one := c + "/" + id(f.userID)
		base := map[string]any{"email": "new@example.com", "full_name": "New User", "password": "user-password-2",
			"phone_number": "+1 555 0100", "role": "@user", "state": "active", "vlans_per_user": 5}
		r := biRes{name: "user", coll: "/user", one: "/user/" + id(f.userID), create: base,
			required: []string{"email", "password"}, long: []string{"email", "full_name", "phone_number", "password"},
			ranges:  map[string][]any{"vlans_per_user": {-1, 4095}},
			enums:   map[string]any{"role": "@root", "state": "banned", "email": "not-an-email", "password": "short"},
			dup:     []map[string]any{{"email": "user@example.com"}, {"email": "USER@example.com"}, {"email": " admin@example.com "}},
			dupEdit: map[string]any{"email": adminEmail}}
		cases := biResCases(r)
		// biResCases checks an empty name with the first required field:
		// emails are checked too.
		for _, em := range []string{"a@", "@b", "a b@example.com", "Name <a@example.com>", "a@@example.com"} {
			cases = append(cases, biCase{name: "user email " + em, method: "POST", path: c, body: biWith(base, "email", em), status: 400, field: "email"})
		}
		// The last admin stays an active admin.
		admin := c + "/" + id(e.adminID)
		cases = append(cases,
			biCase{name: "demote the last admin", method: "POST", path: admin, body: map[string]any{"role": "@user"}, status: 409},
			biCase{name: "disable the last admin", method: "POST", path: admin, body: map[string]any{"state": "disabled"}, status: 409},
		)
		cases = append(cases, biListCases("user", c)...)
		cases = append(cases, biListCases("auth user", "/auth/v4/user")...)

		// Auth settings and passwords.
		ttl := "/auth/v4/setting/token_ttl"
		cases = append(cases, biBodyShapes("token_ttl", "POST", ttl)...)
		cases = append(cases, biTooLarge("token_ttl", "POST", ttl)...)
		for _, b := range []any{"", "{}", `{"value":null}`} {
			cases = append(cases, biCase{name: fmt.Sprintf("token_ttl body %v", b), method: "POST", path: ttl, body: b, status: 400, field: "value"})
		}
		for _, v := range []any{"abc", "0", "-1", "525601", "1.5", "", "99999999999999999999", 5, true, map[string]any{}, []any{"5"}} {
			cases = append(cases, biCase{name: "token_ttl " + biJSON(v), method: "POST", path: ttl, body: map[string]any{"value": v}, status: 400, field: "value"})
		}
		cases = append(cases, biCase{name: "token_ttl unknown field", method: "POST", path: ttl, body: map[string]any{"value": "60", "bogus": 1}, status: 400, field: "bogus"})
		pw := "/auth/v4/user/" + id(f.userID) + "/password"
		cases = append(cases, biBodyShapes("password", "POST", pw)...)
		cases = append(cases, biTooLarge("password", "POST", pw)...)
		for _, b := range []any{"", "{}"} {
			cases = append(cases, biCase{name: fmt.Sprintf("password body %v", b), method: "POST", path: pw, body: b, status: 400, field: "password"})
		}
		for _, v := range []any{"short", strings.Repeat("p", 300), 12345678, true, map[string]any{}} {
			cases = append(cases, biCase{name: "password " + biJSON(v), method: "POST", path: pw, body: map[string]any{"password": v}, status: 400, field: "password"})
		}
		for _, ref := range []string{"999999", "nobody@example.com", "%00", "%FF", "abc"} {
			cases = append(cases,
				biCase{name: "password of " + ref, method: "POST", path: "/auth/v4/user/" + ref + "/password",
					body: map[string]any{"password": "long-enough-1"}, status: 404},
				biCase{name: "key of " + ref, method: "POST", path: "/auth/v4/user/" + ref + "/key", status: 404})
		}
		// Last, as it would lock everyone out if it worked.
		cases = append(cases, biCase{name: "delete the last admin", method: "DELETE", path: admin, status: 409})
		e.runBad(t, cases)

		before := e.must(http.StatusOK, "GET", one, e.admin, nil)
		for _, body := range []any{nil, "", "{}", "null"} {
			e.must(http.StatusOK, "POST", one, e.admin, body)
		}
		if after := e.must(http.StatusOK, "GET", one, e.admin, nil); !bytes.Equal(before.Raw, after.Raw) {
			t.Errorf("an empty edit changed the user:\n%s\n%s", before.Raw, after.Raw)
		}
		e.must(http.StatusOK, "POST", c, e.admin, base)
		e.must(http.StatusOK, "POST", ttl, e.admin, map[string]any{"value": "60"})
	})
}

// SQL-looking text is stored as text and found as text.
func TestBadInputSQLText(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		evil := []string{`'; DROP TABLE servers;--`, `x' OR '1'='1`, `"); DELETE FROM users; --`, `\'; --`, `%_%`, `Robert'); DROP TABLE users;--`}
		for i, name := range evil {
			lid := e.create(biDCI+"/location", map[string]any{"name": name, "geolocation": name})
			sid := e.create(biDCI+"/server", map[string]any{"name": name, "domain": "d" + itoa(int64(i)), "configuration": name})
			for _, p := range []string{"/location/" + itoa(lid), "/server/" + itoa(sid)} {
				r := e.must(http.StatusOK, "GET", biDCI+p, e.admin, nil)
				if r.Body["name"] != name {
					t.Errorf("%s: name %q, want %q", p, r.Body["name"], name)
				}
			}
			q := url.Values{"where": {"name EQ '" + strings.ReplaceAll(name, "'", "''") + "'"}}
			r := e.must(http.StatusOK, "GET", biDCI+"/server?"+q.Encode(), e.admin, nil)
			if r.Body["size"] != float64(1) {
				t.Errorf("where name EQ %q: size %v: %s", name, r.Body["size"], r.Raw)
			}
		}
		r := e.must(http.StatusOK, "GET", biDCI+"/server", e.admin, nil)
		if r.Body["size"] != float64(len(evil)) {
			t.Errorf("servers: size %v, want %d", r.Body["size"], len(evil))
		}
		e.must(http.StatusOK, "GET", biDCI+"/user", e.admin, nil)
		// A user with a quote in the email and in the name.
		e.create(biDCI+"/user", map[string]any{"email": "o'brien@example.com", "full_name": `'; DROP TABLE users;--`, "password": "long-enough-1"})
		e.login("o'brien@example.com", "long-enough-1")
	})
}

// Unknown routes are 404 and wrong methods 405, both in the error format and
// whether or not the caller is logged in.
func TestBadInputRoutes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		f := e.fixture()
		s1 := itoa(f.servers[0])
		type rc struct{ method, path string }
		notFound := []rc{{"GET", "/api/dci/v3/nothing"}, {"POST", "/api/dci/v3/nothing"}, {"GET", "/api/dci/v4/server"},
			{"GET", "/api/dci/v3/server/" + s1 + "/bogus"}, {"POST", "/api/dci/v3/server/" + s1 + "/bogus"},
			{"DELETE", "/api/dci/v3/server/" + s1 + "/bogus/1"}, {"GET", "/api/nothing"}, {"GET", "/"}, {"GET", "/api/dci/v3/location/1/2"},
			{"GET", "/api/ip/v3/nothing"}, {"GET", "/auth/v4/nothing"}}
		notAllowed := []rc{{"PUT", "/api/dci/v3/server"}, {"PATCH", "/api/dci/v3/server/" + s1}, {"PUT", "/dci/v3/server"},
			{"DELETE", "/api/dci/v3/server"}, {"PUT", "/api/dci/v3/location/1"}, {"DELETE", "/api/dci/v3/location"},
			{"GET", "/api/dci/v3/server/" + s1 + "/owner"}, {"GET", "/auth/v4/public/token"}, {"PUT", "/api/dci/v3/user/1"},
			{"DELETE", "/api/dci/v3/server/" + s1 + "/switch_connection"}, {"GET", "/auth/v4/logout"}}
		var cases []biCase
		for _, x := range notFound {
			cases = append(cases, biCase{name: "unknown route", method: x.method, path: x.path, status: 404})
		}
		for _, x := range notAllowed {
			cases = append(cases, biCase{name: "wrong method", method: x.method, path: x.path, status: 405})
		}
		e.runBad(t, cases)
		for _, c := range cases {
			r := e.do(c.method, c.path, "", nil)
			if p := biCheckErr(t, r, c.status, "", ""); p != "" {
				t.Errorf("%s without a session (%s %s): %s", c.name, c.method, c.path, p)
			}
		}
	})
}
