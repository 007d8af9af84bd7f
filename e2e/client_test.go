package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// client talks to a daemon as a billing client does: plain net/http, the
// session both as x-xsrf-token and as the ses6 cookie, isp-box-instance.
type client struct {
	t     *testing.T
	base  string
	token string // empty: no session
	hc    *http.Client
}

func newClient(t *testing.T, d *daemon) *client {
	return &client{t: t, base: d.url, hc: &http.Client{Timeout: 30 * time.Second}}
}

// as is a copy of c using another session.
func (c *client) as(token string) *client {
	cp := *c
	cp.token = token
	return &cp
}

// call sends a request; pathAndQuery goes on the wire as written (so a test
// controls how spaces are encoded). body is marshalled to JSON unless it is
// nil; POST bodies go as `curl -d` sends them, form-urlencoded, since real
// clients do exactly that with JSON in them.
func (c *client) call(method, pathAndQuery string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+pathAndQuery, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.token != "" {
		req.Header.Set("x-xsrf-token", c.token)
		req.Header.Set("Cookie", "ses6="+c.token+"; lang6=ru")
		req.Header.Set("isp-box-instance", "true")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", method, pathAndQuery, err)
	}
	if ct := resp.Header.Get("Content-Type"); len(b) > 0 && !strings.HasPrefix(ct, "application/json") {
		c.t.Errorf("%s %s: Content-Type %q, want application/json", method, pathAndQuery, ct)
	}
	return resp.StatusCode, b
}

// expect sends a request, requires the status and returns the JSON answer
// decoded with numbers kept as json.Number (to tell 1 from "1").
func (c *client) expect(method, pathAndQuery string, body any, status int) map[string]any {
	c.t.Helper()
	got, b := c.call(method, pathAndQuery, body)
	if got != status {
		c.t.Fatalf("%s %s: status %d, want %d; body: %s", method, pathAndQuery, got, status, b)
	}
	return decode(c.t, b)
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, b)
	}
	if v == nil {
		t.Fatalf("answer is null")
	}
	return v
}

// login posts the credentials with no Content-Type at all (as some
// clients do) and checks the seed's answer: 201
// {confirmed, expires_at, id (string), token}. It returns the token and
// the user id.
func (c *client) login(email, password string) (token, id string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequest(http.MethodPost, c.base+"/auth/v4/public/token", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	if _, set := req.Header["Content-Type"]; set {
		c.t.Fatal("the login request must go without a Content-Type")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("login as %s: status %d, want 201; body: %s", email, resp.StatusCode, body)
	}
	v := decode(c.t, body)
	checkShape(c.t, "login", v, obj{"confirmed": isBool, "expires_at": nullable{isStr}, "id": isStr, "token": isStr})
	if v["confirmed"] != true {
		c.t.Errorf("login: confirmed = %v, want true", v["confirmed"])
	}
	if s, ok := v["expires_at"].(string); ok {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			c.t.Errorf("login: expires_at %q is not RFC 3339", s)
		}
	}
	token, _ = v["token"].(string)
	id, _ = v["id"].(string)
	if token == "" || id == "" {
		c.t.Fatalf("login: empty token or id: %s", body)
	}
	return token, id
}

// errorBody checks the error shape {"error":{"code","msg","value"}}.
func errorBody(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	v := decode(t, b)
	checkShape(t, what, v, obj{"error": obj{"code": isInt, "msg": isStr, "value": anything}})
	e, _ := v["error"].(map[string]any)
	if msg, _ := e["msg"].(string); msg == "" {
		t.Errorf("%s: empty error msg", what)
	}
	return e
}

// Shapes: what a JSON answer must look like, key by key.
type (
	kind     int
	obj      map[string]any // every key present, each value of its shape; extra keys allowed
	nullable struct{ of any }
	listOf   struct{ of any }
)

const (
	isInt    kind = iota // a JSON number without fraction (ids, counts)
	isStr                // a string, never null
	isBool               // true or false
	isObject             // any object, never null
	anything             // any value, null included
)

// checkShape reports every difference between v and the shape s.
func checkShape(t testing.TB, path string, v any, s any) {
	t.Helper()
	switch s := s.(type) {
	case nullable:
		if v != nil {
			checkShape(t, path, v, s.of)
		}
	case listOf:
		l, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %s, want a list", path, describe(v))
			return
		}
		for i, e := range l {
			checkShape(t, fmt.Sprintf("%s[%d]", path, i), e, s.of)
		}
	case obj:
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %s, want an object", path, describe(v))
			return
		}
		for k, ks := range s {
			kv, present := m[k]
			if !present {
				t.Errorf("%s.%s: missing", path, k)
				continue
			}
			checkShape(t, path+"."+k, kv, ks)
		}
	case kind:
		ok := false
		switch s {
		case isInt:
			n, isNum := v.(json.Number)
			_, err := n.Int64()
			ok = isNum && err == nil
		case isStr:
			_, ok = v.(string)
		case isBool:
			_, ok = v.(bool)
		case isObject:
			_, ok = v.(map[string]any)
		case anything:
			ok = true
		}
		if !ok {
			t.Errorf("%s: %s, want %s", path, describe(v), [...]string{"an integer", "a string", "a boolean", "an object", "anything"}[s])
		}
	default:
		t.Fatalf("bad shape %T at %s", s, path)
	}
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case json.Number:
		return "number " + v.String()
	case string:
		return fmt.Sprintf("string %q", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any:
		return fmt.Sprintf("list of %d", len(v))
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// num is v as an int64, failing unless it is a JSON integer.
func num(t *testing.T, what string, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s: %s, want a number", what, describe(v))
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return i
}

// list checks {"list":[...],"size":n} and returns the items as objects.
func list(t *testing.T, what string, v map[string]any, item any) ([]map[string]any, int64) {
	t.Helper()
	checkShape(t, what, v, obj{"list": listOf{item}, "size": isInt})
	raw, _ := v["list"].([]any)
	items := make([]map[string]any, 0, len(raw))
	for _, e := range raw {
		m, _ := e.(map[string]any)
		items = append(items, m)
	}
	return items, num(t, what+".size", v["size"])
}

// field checks one value of an answer.
func field(t *testing.T, what string, m map[string]any, key string, want any) {
	t.Helper()
	got, ok := m[key]
	if !ok {
		t.Errorf("%s.%s: missing", what, key)
		return
	}
	if n, isNum := got.(json.Number); isNum {
		if w, wantInt := toInt64(want); wantInt {
			if i, err := n.Int64(); err != nil || i != w {
				t.Errorf("%s.%s = %s, want %d", what, key, n, w)
			}
			return
		}
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("%s.%s = %s, want %#v", what, key, describe(got), want)
	}
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// id is the "id" number of an answer such as {"id": 3}.
func id(t *testing.T, what string, v map[string]any) int64 {
	t.Helper()
	checkShape(t, what, v, obj{"id": isInt})
	return num(t, what+".id", v["id"])
}
