package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// The inventory resources under /api/dci/v3: create, read one, list with the
// list conventions, edit (only the given fields change), clear a nullable
// reference with null, delete; credentials never shown.

// invSpec describes one inventory resource for the generic test.
type invSpec struct {
	name   string
	coll   string    // collection path under /api/dci/v3
	key    string    // the field that names objects (where, orderby)
	keys   [3]string // its values for the three objects, in ascending order
	create func(i int) map[string]any
	// secrets are write-only body fields: never in an answer.
	secrets []string
	has     []string // has_* flags that must be true after create
	edit    map[string]any
	// nullable references; object 2 is created without them.
	nullable []string
	// spaceWhere is a where expression with spaces in a quoted value that
	// matches object spaceWant only (default: key EQ keys[1]).
	spaceWhere string
	spaceWant  int
}

// invNorm makes a body comparable with a decoded answer.
func invNorm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// invMixSpaces encodes a query value with its spaces alternately as + and %20.
func invMixSpaces(s string) string {
	enc := url.QueryEscape(s) // spaces as +
	var b strings.Builder
	n := 0
	for _, r := range enc {
		if r == '+' {
			if n%2 == 1 {
				b.WriteString("%20")
			} else {
				b.WriteByte('+')
			}
			n++
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

type invSetup struct {
	loc, loc2, rack, sw, pdu int64
	servers                  []int64
}

func (e *env) invSetup() invSetup {
	e.t.Helper()
	var s invSetup
	s.loc = e.create(biDCI+"/location", map[string]any{"name": "Setup DC", "geolocation": "somewhere"})
	s.loc2 = e.create(biDCI+"/location", map[string]any{"name": "Setup DC 2"})
	s.rack = e.create(biDCI+"/rack", map[string]any{"name": "Setup rack", "location_id": s.loc})
	s.sw = e.create(biDCI+"/switch", map[string]any{"name": "Setup switch", "address": "10.7.0.1", "snmp_community": "setup-SECRET"})
	s.pdu = e.create(biDCI+"/pdu", map[string]any{"name": "Setup pdu", "address": "10.7.0.2", "snmp_community": "setup-SECRET"})
	for i := 0; i < 3; i++ {
		s.servers = append(s.servers, e.create(biDCI+"/server", map[string]any{"name": fmt.Sprintf("setup srv %d", i)}))
	}
	return s
}

func invNames(prefix string) [3]string {
	return [3]string{prefix + " alpha one", prefix + " beta two", prefix + " gamma three"}
}

func (s invSetup) specs() []invSpec {
	id := itoa
	placed := func(body map[string]any, i int) map[string]any {
		if i < 2 {
			body["location_id"], body["rack_id"], body["unit"] = s.loc, s.rack, 10+i
		}
		return body
	}
	specs := []invSpec{
		{name: "location", coll: "/location", key: "name", keys: invNames("loc"),
			edit: map[string]any{"geolocation": "New Street, 1"}},
		{name: "rack", coll: "/rack", key: "name", keys: invNames("rack"),
			edit: map[string]any{"size": 48, "location_id": s.loc2}},
		{name: "platform", coll: "/platform", key: "name", keys: invNames("plat"),
			edit: map[string]any{"type": "server"}},
		{name: "chassis", coll: "/chassis", key: "name", keys: invNames("chassis"),
			edit: map[string]any{"server_slot_count": 8}, nullable: []string{"location_id", "rack_id", "unit"}},
		{name: "switch", coll: "/switch", key: "name", keys: invNames("switch"),
			secrets: []string{"snmp_community", "snmp_auth_password", "snmp_priv_password"},
			has:     []string{"has_snmp_community", "has_snmp_auth_password", "has_snmp_priv_password"},
			edit:    map[string]any{"read_only": false, "snmp_port": 2161}, nullable: []string{"location_id", "rack_id", "unit"}},
		{name: "switch port", coll: "/switch/" + id(s.sw) + "/port", key: "name", keys: invNames("port"),
			edit: map[string]any{"description": "new description", "admin_status": "down"}},
		{name: "pdu", coll: "/pdu", key: "name", keys: invNames("pdu"),
			secrets: []string{"snmp_community"}, has: []string{"has_snmp_community"},
			edit: map[string]any{"profile": "apc-spdu"}, nullable: []string{"location_id", "rack_id", "unit"}},
		{name: "pdu port", coll: "/pdu/" + id(s.pdu) + "/port", key: "name", keys: invNames("outlet"),
			edit: map[string]any{"identity": "42"}},
		{name: "ipmi", coll: "/ipmi", key: "address", keys: [3]string{"10.9.0.1", "10.9.0.2", "10.9.0.3"},
			secrets: []string{"password"}, has: []string{"has_password"},
			edit: map[string]any{"cipher_suite": 17, "user": "admin"}, nullable: []string{"server_id"},
			spaceWhere: "type EQ 'IPMI v1.5/v2' AND address CP '10.9.0.%'", spaceWant: 2},
		{name: "os template", coll: "/os_template", key: "name", keys: invNames("os"),
			edit: map[string]any{"tags": []string{"bsd"}, "access": "all"}},
	}
	bodies := map[string]func(sp *invSpec, i int) map[string]any{
		"location": func(sp *invSpec, i int) map[string]any {
			return map[string]any{"name": sp.keys[i], "geolocation": fmt.Sprintf("Street %d", i), "userspace": 2}
		},
		"rack": func(sp *invSpec, i int) map[string]any {
			return map[string]any{"name": sp.keys[i], "size": 47, "location_id": s.loc}
		},
		"platform": func(sp *invSpec, i int) map[string]any {
			return map[string]any{"name": sp.keys[i], "size": 2, "type": "blade"}
		},
		"chassis": func(sp *invSpec, i int) map[string]any {
			return placed(map[string]any{"name": sp.keys[i], "size": 10, "server_slot_count": 16}, i)
		},
		"switch": func(sp *invSpec, i int) map[string]any {
			return placed(map[string]any{"name": sp.keys[i], "address": fmt.Sprintf("10.8.0.%d", i+1), "snmp_port": 1161,
				"snmp_version": "v3", "snmp_v3_user": "monitor", "snmp_auth_protocol": "SHA", "snmp_priv_protocol": "AES",
				"snmp_community": fmt.Sprintf("comm-SECRET-%d", i), "snmp_auth_password": fmt.Sprintf("auth-SECRET-%d", i),
				"snmp_priv_password": fmt.Sprintf("priv-SECRET-%d", i), "profile": "generic", "read_only": true}, i)
		},
		"switch port": func(sp *invSpec, i int) map[string]any {
			return map[string]any{"identity": fmt.Sprintf("%d", i+1), "name": sp.keys[i], "description": fmt.Sprintf("srv%d eth0", i),
				"admin_status": "up", "oper_status": "testing", "speed": 10000}
		},
		"pdu": func(sp *invSpec, i int) map[string]any {
			return placed(map[string]any{"name": sp.keys[i], "address": fmt.Sprintf("10.8.1.%d", i+1), "snmp_port": 161,
				"snmp_version": "v2c", "snmp_community": fmt.Sprintf("pdu-SECRET-%d", i), "profile": "apc"}, i)
		},
		"pdu port": func(sp *invSpec, i int) map[string]any {
			return map[string]any{"identity": fmt.Sprintf("%d", i+1), "name": sp.keys[i]}
		},
		"ipmi": func(sp *invSpec, i int) map[string]any {
			b := map[string]any{"address": sp.keys[i], "port": 6230 + i, "user": "root", "password": fmt.Sprintf("ipmi-SECRET-%d", i),
				"type": "IPMI v2(lanplus)", "cipher_suite": 3, "privilege": "operator", "web_url": "https://" + sp.keys[i] + "/"}
			if i < 2 {
				b["server_id"] = s.servers[i]
			} else {
				b["type"] = "IPMI v1.5/v2"
			}
			return b
		},
		"os template": func(sp *invSpec, i int) map[string]any {
			return map[string]any{"name": sp.keys[i], "tags": []string{"linux", fmt.Sprintf("t%d", i)}, "kind": "kickstart",
				"access": "admin", "efi": true, "legacy": false, "kernel": "http://mirror/vmlinuz", "initrd": "http://mirror/initrd.img",
				"image": "", "macros": []map[string]any{{"name": "ntp", "value": "pool.ntp.org"}}}
		},
	}
	for i := range specs {
		sp := &specs[i]
		f := bodies[sp.name]
		sp.create = func(i int) map[string]any { return f(sp, i) }
		if sp.spaceWhere == "" {
			sp.spaceWhere, sp.spaceWant = sp.key+" EQ '"+sp.keys[1]+"'", 1
		}
	}
	return specs
}

// invList gets a list and checks its shape.
func (e *env) invList(t *testing.T, path string) (items []map[string]any, size int, raw []byte) {
	t.Helper()
	r := e.do("GET", path, e.admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, r.Status, r.Raw)
	}
	list, ok := r.Body["list"].([]any)
	sz, ok2 := r.Body["size"].(float64)
	if !ok || !ok2 || len(r.Body) != 2 {
		t.Fatalf("GET %s: not {list,size}: %s", path, r.Raw)
	}
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			t.Fatalf("GET %s: list item is not an object: %s", path, r.Raw)
		}
		items = append(items, m)
	}
	return items, int(sz), r.Raw
}

func invIDs(items []map[string]any) []int64 {
	out := []int64{}
	for _, m := range items {
		out = append(out, int64(m["id"].(float64)))
	}
	return out
}

func TestInventoryResources(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		s := e.invSetup()
		for _, sp := range s.specs() {
			t.Run(strings.ReplaceAll(sp.name, " ", "_"), func(t *testing.T) {
				e := e.biWithT(t)
				e.invResource(t, sp)
			})
		}
	})
}

// biWithT is the env reporting to another test (a subtest).
func (e *env) biWithT(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// invNoSecrets fails when an answer shows a credential.
func invNoSecrets(t *testing.T, what string, raw []byte) {
	t.Helper()
	if bytes.Contains(raw, []byte("SECRET")) {
		t.Errorf("%s shows a credential: %s", what, raw)
	}
}

// invSame checks that the object shows every field of body as sent,
// except secrets.
func invSame(t *testing.T, what string, got map[string]any, body map[string]any, secrets []string) {
	t.Helper()
	for k, v := range body {
		if contains(secrets, k) {
			if _, has := got[k]; has {
				t.Errorf("%s: write-only field %q is in the answer", what, k)
			}
			continue
		}
		if g, ok := got[k]; !ok {
			t.Errorf("%s: field %q is missing: %v", what, k, got)
		} else if !reflect.DeepEqual(g, invNorm(v)) {
			t.Errorf("%s: %s = %v, want %v", what, k, biJSON(g), biJSON(v))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *env) invResource(t *testing.T, sp invSpec) {
	coll := biDCI + sp.coll
	_, base, _ := e.invList(t, coll)
	// Create.
	var ids [3]int64
	for i := 0; i < 3; i++ {
		r := e.must(http.StatusOK, "POST", coll, e.admin, sp.create(i))
		if len(r.Body) != 1 {
			t.Errorf("create answered %s, want {\"id\"}", r.Raw)
		}
		ids[i] = int64(r.Body["id"].(float64))
		invNoSecrets(t, "create answer", r.Raw)
	}
	one := func(i int) string { return coll + "/" + itoa(ids[i]) }
	// GET one and GET list show the fields as created.
	r := e.must(http.StatusOK, "GET", one(0), e.admin, nil)
	invNoSecrets(t, "GET one", r.Raw)
	invSame(t, "GET one", r.Body, sp.create(0), sp.secrets)
	if r.Body["id"] != float64(ids[0]) {
		t.Errorf("GET one: id %v, want %d", r.Body["id"], ids[0])
	}
	for _, h := range sp.has {
		if r.Body[h] != true {
			t.Errorf("GET one: %s = %v, want true", h, r.Body[h])
		}
	}
	items, size, raw := e.invList(t, coll)
	invNoSecrets(t, "GET list", raw)
	if size != base+3 || len(items) != base+3 {
		t.Errorf("list: size %d with %d items, want %d", size, len(items), base+3)
	}
	found := false
	for _, it := range items {
		if it["id"] == float64(ids[0]) {
			found = true
			if !reflect.DeepEqual(it, r.Body) {
				t.Errorf("list item differs from GET one:\n%v\n%v", biJSON(it), string(r.Raw))
			}
		}
	}
	if !found {
		t.Errorf("list does not show %d: %s", ids[0], raw)
	}

	// List conventions.
	// mine selects the three objects (not those of the setup).
	mine := sp.key + " CP '" + strings.Fields(sp.keys[0])[0] + " %'"
	if sp.name == "ipmi" {
		mine = "address CP '10.9.0.%'"
	}
	q := func(where, orderby, limit string) string {
		v := []string{}
		if where != "" {
			v = append(v, "where="+invMixSpaces(where))
		}
		if orderby != "" {
			v = append(v, "orderby="+invMixSpaces(orderby))
		}
		if limit != "" {
			v = append(v, "limit="+url.QueryEscape(limit))
		}
		return coll + "?" + strings.Join(v, "&")
	}
	type lc struct {
		where, orderby, limit string
		want                  []int // objects in order (nil: any order)
		size                  int
	}
	cases := []lc{
		{where: sp.key + " EQ '" + sp.keys[1] + "'", want: []int{1}, size: 1},
		{where: sp.spaceWhere, want: []int{sp.spaceWant}, size: 1},
		{where: sp.key + " CP '" + sp.keys[2] + "'", want: []int{2}, size: 1}, // CP without % finds the exact name
		{where: sp.key + " CP '" + strings.ToUpper(sp.keys[2]) + "'", want: []int{2}, size: 1},
		{where: "(" + mine + ") AND " + sp.key + " NE '" + sp.keys[1] + "'", orderby: sp.key + " asc", want: []int{0, 2}, size: 2},
		{where: sp.key + " NE '" + sp.keys[1] + "'", size: base + 2},
		{where: mine, orderby: sp.key + " asc", want: []int{0, 1, 2}, size: 3},
		{where: mine, orderby: sp.key + " desc", want: []int{2, 1, 0}, size: 3},
		{where: mine, orderby: "id desc", want: []int{2, 1, 0}, size: 3},
		{where: mine, orderby: sp.key + " asc", limit: "1,1", want: []int{1}, size: 3},
		{where: mine, orderby: sp.key + " desc", limit: "2", want: []int{2, 1}, size: 3},
		{where: mine, orderby: sp.key + " asc", limit: " 2 , 5 ", want: []int{2}, size: 3},
		{where: mine, limit: "0", want: []int{}, size: 3},
		{where: mine, limit: "10,5", want: []int{}, size: 3},
		{where: "NOT (" + sp.key + " CP '%" + strings.Fields(sp.keys[1])[len(strings.Fields(sp.keys[1]))-1] + "') AND " + mine,
			orderby: "id asc", want: []int{0, 2}, size: 2},
		{where: "id EQ " + itoa(ids[0]) + " OR id EQ '" + itoa(ids[2]) + "'", orderby: "id asc", want: []int{0, 2}, size: 2},
		{where: sp.key + " IS null", want: []int{}, size: 0},
		{where: sp.key + " IS NOT null AND " + mine, size: 3},
	}
	for _, f := range sp.nullable {
		cases = append(cases,
			lc{where: f + " IS null AND " + mine, want: []int{2}, size: 1},
			lc{where: f + " IS NOT null AND " + mine, orderby: "id asc", want: []int{0, 1}, size: 2})
	}
	for _, c := range cases {
		path := q(c.where, c.orderby, c.limit)
		items, size, raw := e.invList(t, path)
		invNoSecrets(t, "list "+path, raw)
		if size != c.size {
			t.Errorf("GET %s: size %d, want %d: %s", path, size, c.size, raw)
		}
		if c.want != nil {
			want := []int64{}
			for _, i := range c.want {
				want = append(want, ids[i])
			}
			if got := invIDs(items); !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s: ids %v, want %v", path, got, want)
			}
		}
	}
	// The same with the list fields spelled out by hand, raw spaces and all.
	if sp.key == "name" {
		raw := coll + "?where=" + strings.ReplaceAll(url.PathEscape(sp.key+" EQ '"+sp.keys[0]+"'"), "%20", "+") +
			"&orderby=name%20desc&limit=0%2C1"
		if items, size, _ := e.invList(t, raw); size != 1 || len(items) != 1 || items[0]["id"] != float64(ids[0]) {
			t.Errorf("GET %s: %d items, size %d", raw, len(items), size)
		}
	}

	// Edit changes only the given fields.
	e.must(http.StatusOK, "POST", one(0), e.admin, sp.edit)
	r = e.must(http.StatusOK, "GET", one(0), e.admin, nil)
	want := sp.create(0)
	for k, v := range sp.edit {
		want[k] = v
	}
	invSame(t, "after edit", r.Body, want, sp.secrets)
	for _, h := range sp.has {
		if r.Body[h] != true {
			t.Errorf("after edit: %s = %v, want true (credentials kept)", h, r.Body[h])
		}
	}
	// A new credential is stored, and not shown either.
	for _, k := range sp.secrets {
		e.must(http.StatusOK, "POST", one(1), e.admin, map[string]any{k: "new-SECRET"})
		r := e.must(http.StatusOK, "GET", one(1), e.admin, nil)
		invNoSecrets(t, "GET after a new "+k, r.Raw)
		invSame(t, "after a new "+k, r.Body, sp.create(1), sp.secrets)
	}
	// Other objects did not change.
	r = e.must(http.StatusOK, "GET", one(2), e.admin, nil)
	invSame(t, "untouched object", r.Body, sp.create(2), sp.secrets)

	// Nullable references clear with null.
	if len(sp.nullable) > 0 {
		clear := map[string]any{}
		for _, f := range sp.nullable {
			clear[f] = nil
		}
		e.must(http.StatusOK, "POST", one(1), e.admin, clear)
		r := e.must(http.StatusOK, "GET", one(1), e.admin, nil)
		for _, f := range sp.nullable {
			if r.Body[f] != float64(0) {
				t.Errorf("after clearing %s: %v, want 0", f, r.Body[f])
			}
			if _, size, _ := e.invList(t, q(f+" IS null AND id EQ "+itoa(ids[1]), "", "")); size != 1 {
				t.Errorf("after clearing %s: where %s IS null does not find it", f, f)
			}
		}
		invSame(t, "after clearing", r.Body, biWithout(sp.create(1), sp.nullable...), sp.secrets)
	}

	// Delete.
	r = e.must(http.StatusOK, "DELETE", one(0), e.admin, nil)
	if r.Body["id"] != float64(ids[0]) || len(r.Body) != 1 {
		t.Errorf("delete answered %s", r.Raw)
	}
	for _, m := range []string{"GET", "DELETE", "POST"} {
		r = e.do(m, one(0), e.admin, nil)
		if p := biCheckErr(t, r, http.StatusNotFound, "", ""); p != "" {
			t.Errorf("%s after delete: %s", m, p)
		}
	}
	if _, size, _ := e.invList(t, coll); size != base+2 {
		t.Errorf("after delete: size %d, want %d", size, base+2)
	}
}

// Nested collections show only their parent's objects.
func TestInventoryNestedPorts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		sw1 := e.create(biDCI+"/switch", map[string]any{"name": "a", "address": "10.0.0.1"})
		sw2 := e.create(biDCI+"/switch", map[string]any{"name": "b", "address": "10.0.0.2"})
		p1 := e.create(biDCI+"/switch/"+itoa(sw1)+"/port", map[string]any{"identity": "1"})
		p2 := e.create(biDCI+"/switch/"+itoa(sw2)+"/port", map[string]any{"identity": "1"})
		items, size, _ := e.invList(t, biDCI+"/switch/"+itoa(sw1)+"/port")
		if size != 1 || len(items) != 1 || items[0]["id"] != float64(p1) || items[0]["switch"] != float64(sw1) {
			t.Errorf("ports of switch %d: %v", sw1, items)
		}
		// A where that names the other switch cannot widen the list.
		items, size, _ = e.invList(t, biDCI+"/switch/"+itoa(sw1)+"/port?where=switch_id+EQ+"+itoa(sw2)+"+OR+id+EQ+"+itoa(p2))
		if size != 0 || len(items) != 0 {
			t.Errorf("where widened the ports of switch %d: %v", sw1, items)
		}
		r := e.must(http.StatusOK, "GET", biDCI+"/switch/"+itoa(sw1)+"/port/"+itoa(p1), e.admin, nil)
		if r.Body["name"] != "1" {
			t.Errorf("a port without a name is named by its identity: %s", r.Raw)
		}
		// Deleting a switch deletes its ports.
		e.must(http.StatusOK, "DELETE", biDCI+"/switch/"+itoa(sw2), e.admin, nil)
		e.must(http.StatusNotFound, "GET", biDCI+"/switch/"+itoa(sw2)+"/port/"+itoa(p2), e.admin, nil)
		e.must(http.StatusNotFound, "GET", biDCI+"/switch/"+itoa(sw2)+"/port", e.admin, nil)

		pdu1 := e.create(biDCI+"/pdu", map[string]any{"name": "p", "address": "10.0.0.3"})
		pdu2 := e.create(biDCI+"/pdu", map[string]any{"name": "q", "address": "10.0.0.4"})
		o1 := e.create(biDCI+"/pdu/"+itoa(pdu1)+"/port", map[string]any{"identity": "1"})
		e.create(biDCI+"/pdu/"+itoa(pdu2)+"/port", map[string]any{"identity": "1"})
		items, size, _ = e.invList(t, biDCI+"/pdu/"+itoa(pdu1)+"/port")
		if size != 1 || len(items) != 1 || items[0]["id"] != float64(o1) || items[0]["pdu"] != float64(pdu1) ||
			items[0]["power_status"] != "unknown" {
			t.Errorf("outlets of pdu %d: %v", pdu1, items)
		}
	})
}

// Credentials stay out of every answer, and out of where/orderby.
func TestInventoryCredentialsHidden(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Parallel()
		srv := e.create(biDCI+"/server", map[string]any{"name": "s"})
		sw := e.create(biDCI+"/switch", map[string]any{"name": "sw", "address": "10.0.0.1", "snmp_community": "sw-SECRET-c"})
		pdu := e.create(biDCI+"/pdu", map[string]any{"name": "pdu", "address": "10.0.0.2", "snmp_version": "v3", "snmp_v3_user": "u",
			"snmp_auth_protocol": "md5", "snmp_auth_password": "pdu-SECRET-a", "snmp_priv_protocol": "aes", "snmp_priv_password": "pdu-SECRET-p"})
		bmc := e.create(biDCI+"/ipmi", map[string]any{"server_id": srv, "address": "10.0.0.3", "user": "root", "password": "ipmi-SECRET"})
		paths := []string{"/switch", "/switch/" + itoa(sw), "/pdu", "/pdu/" + itoa(pdu), "/ipmi", "/ipmi/" + itoa(bmc),
			"/server", "/server/" + itoa(srv), "/ipmi?where=server_id+EQ+" + itoa(srv)}
		for _, p := range paths {
			r := e.must(http.StatusOK, "GET", biDCI+p, e.admin, nil)
			invNoSecrets(t, "GET "+p, r.Raw)
		}
		r := e.must(http.StatusOK, "GET", biDCI+"/pdu/"+itoa(pdu), e.admin, nil)
		if r.Body["snmp_auth_protocol"] != "MD5" || r.Body["snmp_priv_protocol"] != "AES" || r.Body["has_snmp_auth_password"] != true ||
			r.Body["has_snmp_community"] != false {
			t.Errorf("pdu: %s", r.Raw)
		}
		for _, p := range []string{"/switch?where=snmp_community+EQ+'sw-SECRET-c'", "/switch?where=community_enc+CP+'%25'",
			"/ipmi?where=password+EQ+'ipmi-SECRET'", "/ipmi?orderby=password_enc+asc", "/pdu?orderby=snmp_auth_password"} {
			param := "where"
			if strings.Contains(p, "orderby") {
				param = "orderby"
			}
			r := e.do("GET", biDCI+p, e.admin, nil)
			if msg := biCheckErr(t, r, http.StatusBadRequest, "", param); msg != "" {
				t.Errorf("GET %s: %s", p, msg)
			}
			invNoSecrets(t, "GET "+p, r.Raw)
		}
		// An error that names the credential's field does not echo it.
		r = e.do("POST", biDCI+"/ipmi/"+itoa(bmc), e.admin, map[string]any{"password": "too-long-SECRET-xxxxxxxxxxxxxxxx"})
		if p := biCheckErr(t, r, http.StatusBadRequest, "password", ""); p != "" {
			t.Error(p)
		}
		invNoSecrets(t, "error answer", r.Raw)
	})
}
