package api

// Tests of the auth v4 contract (api-compat.md §2, §3 and §9) on SQLite and
// PostgreSQL: login shapes, every way a session may travel, one-time keys,
// passwords, the inactivity timeout, logout, sessions across a restart and
// login throttling.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// authOpts says how a hand-built request carries its session and body.
type authOpts struct {
	xsrf    string         // x-xsrf-token header
	cookie  string         // ses6 cookie
	ctype   string         // Content-Type; none at all when empty
	cookies []*http.Cookie // other cookies, which must be ignored
	header  http.Header    // other headers
}

// authRequest builds a request exactly as described by o: unlike e.do it
// can send cookies, a chosen Content-Type or none.
func authRequest(t *testing.T, e *env, method, path, body string, o authOpts) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if o.ctype != "" {
		req.Header.Set("Content-Type", o.ctype)
	}
	if o.xsrf != "" {
		req.Header.Set("X-Xsrf-Token", o.xsrf)
	}
	if o.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "ses6", Value: o.cookie})
	}
	for _, c := range o.cookies {
		req.AddCookie(c)
	}
	for k, vs := range o.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

// authNoFollow does not follow redirects, so a 302 is seen as such.
var authNoFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authSend performs req without following redirects.
func authSend(t *testing.T, req *http.Request) resp {
	t.Helper()
	res, err := authNoFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// authCall sends a hand-built request and checks its status.
func authCall(t *testing.T, e *env, status int, method, path, body string, o authOpts) resp {
	t.Helper()
	r := authSend(t, authRequest(t, e, method, path, body, o))
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	return r
}

// authErr checks an error answer: status, the ISPsystem error shape, the
// code (3001 for 401, else the status) and, when field is set, the field
// named in value. It returns the message.
func authErr(t *testing.T, r resp, status int, field string) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	code, msg := errBody(t, r)
	want := status
	if status == http.StatusUnauthorized {
		want = 3001
	}
	if code != want {
		t.Fatalf("error code %d, want %d: %s", code, want, r.Raw)
	}
	if field != "" {
		v, _ := r.Body["error"].(map[string]any)["value"].(map[string]any)
		if v["field"] != field {
			t.Fatalf("error value does not name field %q: %s", field, r.Raw)
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	return msg
}

// loginJSON is a login body.
func loginJSON(email, pass string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pass})
	return string(b)
}

// checkSession checks a login answer: 201 and exactly confirmed, expires_at
// (now + ttl on the test clock, RFC3339), id (the user id as a string) and
// a token. It returns the token.
func checkSession(t *testing.T, e *env, r resp, uid int64, ttl time.Duration) string {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("login: status %d, want 201: %s", r.Status, r.Raw)
	}
	keys := make([]string, 0, len(r.Body))
	for k := range r.Body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "confirmed,expires_at,id,token" {
		t.Fatalf("login body keys %v, want confirmed, expires_at, id, token: %s", keys, r.Raw)
	}
	if r.Body["confirmed"] != true {
		t.Fatalf("confirmed = %v: %s", r.Body["confirmed"], r.Raw)
	}
	exp, ok := r.Body["expires_at"].(string)
	if !ok {
		t.Fatalf("expires_at is not a string: %s", r.Raw)
	}
	at, err := time.Parse(time.RFC3339, exp)
	if err != nil {
		t.Fatalf("expires_at %q is not RFC3339: %v", exp, err)
	}
	if want := e.clock.Now().Add(ttl).Truncate(time.Second); !at.Equal(want) {
		t.Fatalf("expires_at %s, want %s", at, want.UTC())
	}
	if id, ok := r.Body["id"].(string); !ok || id != itoa(uid) {
		t.Fatalf("id = %#v, want the string %q: %s", r.Body["id"], itoa(uid), r.Raw)
	}
	tok, ok := r.Body["token"].(string)
	if !ok || tok == "" {
		t.Fatalf("token missing: %s", r.Raw)
	}
	return tok
}

// whoamiEmail answers the email of the session's user (the session must work).
func whoamiEmail(t *testing.T, e *env, path, tok string) string {
	t.Helper()
	r := e.must(http.StatusOK, "GET", path, tok, nil)
	s, _ := r.Body["email"].(string)
	return s
}

func TestAuthLoginShape(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		creds := loginJSON(adminEmail, adminPass)
		seen := map[string]bool{e.admin: true}
		for _, tc := range []struct{ path, ctype string }{
			{"/auth/v4/public/token", ""}, // real clients post without a Content-Type
			{"/auth/v4/public/token", "application/octet-stream"},
			{"/auth/v4/public/token", "application/json"},
			{"/api/auth/v4/public/token", ""},
			{"/api/auth/v4/public/token", "application/octet-stream"},
			{"/api/auth/v4/public/token", "application/json; charset=utf-8"},
			{"/auth/v4/public/token", "application/x-www-form-urlencoded"}, // still parsed as JSON
		} {
			req := authRequest(t, e, "POST", tc.path, creds, authOpts{ctype: tc.ctype})
			if got := req.Header.Get("Content-Type"); got != tc.ctype {
				t.Fatalf("request Content-Type %q, want %q", got, tc.ctype)
			}
			r := authSend(t, req)
			tok := checkSession(t, e, r, e.adminID, time.Hour)
			if seen[tok] {
				t.Fatalf("%s (%q): token reused", tc.path, tc.ctype)
			}
			seen[tok] = true
			if got := whoamiEmail(t, e, "/auth/v4/whoami", tok); got != adminEmail {
				t.Fatalf("whoami after login via %s (%q): %q", tc.path, tc.ctype, got)
			}
		}
		// The email is matched case-insensitively, with spaces trimmed.
		checkSession(t, e, e.do("POST", "/auth/v4/public/token", "", loginJSON("  Admin@Example.COM ", adminPass)), e.adminID, time.Hour)
	})
}

func TestAuthLoginFailures(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.create("/api/dci/v3/user", map[string]any{"email": "off@example.com", "password": "user-password-1", "role": "@user", "state": "disabled"})
		var msgs []string
		for _, creds := range []string{
			loginJSON(adminEmail, "wrong-password"),
			loginJSON("nobody@example.com", "wrong-password"),
			loginJSON("nobody@example.com", adminPass),
			loginJSON("off@example.com", "user-password-1"), // disabled: the same answer
		} {
			for _, path := range []string{"/auth/v4/public/token", "/api/auth/v4/public/token"} {
				r := e.do("POST", path, "", creds)
				msg := authErr(t, r, http.StatusUnauthorized, "")
				if strings.Contains(r.Header.Get("Set-Cookie"), "ses6=") {
					t.Fatalf("failed login sets a session cookie: %v", r.Header)
				}
				msgs = append(msgs, msg)
			}
		}
		for _, m := range msgs {
			if m != msgs[0] {
				t.Fatalf("failed logins answer different messages (user enumeration): %q", msgs)
			}
		}
		// A successful login clears the account's failures, so the admin
		// (with one wrong password above) is not throttled by the next test.
		e.login(adminEmail, adminPass)

		for _, tc := range []struct{ body, field string }{
			{"", "email"},
			{"{}", "email"},
			{"null", "email"},
			{`{"password":"x"}`, "email"},
			{`{"email":"","password":"x"}`, "email"},
			{`{"email":null,"password":"x"}`, "email"},
			{`{"email":"admin@example.com"}`, "password"},
			{`{"email":"admin@example.com","password":""}`, "password"},
			{`{"email":"admin@example.com","password":7}`, "password"},
		} {
			for _, path := range []string{"/auth/v4/public/token", "/api/auth/v4/public/token"} {
				r := authSend(t, authRequest(t, e, "POST", path, tc.body, authOpts{}))
				authErr(t, r, http.StatusBadRequest, tc.field)
			}
		}
		authErr(t, e.do("POST", "/auth/v4/public/token", "", `{"email":`), http.StatusBadRequest, "")
		authErr(t, e.do("POST", "/auth/v4/public/token", "", `["admin@example.com"]`), http.StatusBadRequest, "")
	})
}

func TestAuthSessionForms(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok := e.admin
		other, _ := e.login(adminEmail, adminPass)
		browser := []*http.Cookie{{Name: "lang6", Value: "ru"}, {Name: "isp-box-instance", Value: "true"}, {Name: "_ga", Value: "GA1.2.3"}}
		boxHeader := http.Header{"Isp-Box-Instance": {"true"}}
		for _, pfx := range []string{"", "/api"} {
			who := pfx + "/auth/v4/whoami"
			// header alone
			authCall(t, e, http.StatusOK, "GET", who, "", authOpts{xsrf: tok})
			// cookie alone on GET, as a script from a logged-in browser tab sends it
			r := authCall(t, e, http.StatusOK, "GET", who, "", authOpts{cookie: tok, cookies: browser, header: boxHeader})
			if r.Body["email"] != adminEmail {
				t.Fatalf("cookie session is not the admin: %s", r.Raw)
			}
			authCall(t, e, http.StatusOK, "GET", who, "", authOpts{cookie: tok})
			// both, equal
			authCall(t, e, http.StatusOK, "GET", who, "", authOpts{xsrf: tok, cookie: tok, cookies: browser, header: boxHeader})
			// both, different (even when both are valid sessions)
			authErr(t, authCall(t, e, http.StatusUnauthorized, "GET", who, "", authOpts{xsrf: tok, cookie: other}), 401, "")
			authErr(t, authCall(t, e, http.StatusUnauthorized, "GET", who, "", authOpts{xsrf: "garbage", cookie: tok}), 401, "")
			authErr(t, authCall(t, e, http.StatusUnauthorized, "GET", who, "", authOpts{xsrf: tok, cookie: "garbage"}), 401, "")

			// no session at all, and with only the unrelated cookies
			for _, o := range []authOpts{{}, {cookies: browser, header: boxHeader}} {
				r := authCall(t, e, http.StatusUnauthorized, "GET", who, "", o)
				if msg := authErr(t, r, 401, ""); msg != "Unauthorized" {
					t.Fatalf("no session: msg %q, want Unauthorized", msg)
				}
			}
			// garbage tokens
			for _, g := range []string{"garbage", strings.Repeat("a", 64), strings.Repeat("f", 300), tok + "x", tok[:len(tok)-1]} {
				authErr(t, authCall(t, e, http.StatusUnauthorized, "GET", who, "", authOpts{xsrf: g}), 401, "")
				authErr(t, authCall(t, e, http.StatusUnauthorized, "GET", who, "", authOpts{cookie: g}), 401, "")
			}

			// A cookie alone may not change anything (double-submit CSRF).
			ttl := pfx + "/auth/v4/setting/token_ttl"
			authErr(t, authCall(t, e, http.StatusForbidden, "POST", ttl, `{"value":"30"}`, authOpts{cookie: tok, cookies: browser, header: boxHeader}), 403, "")
			if v := e.must(http.StatusOK, "GET", ttl, tok, nil).Body["value"]; v != "60" {
				t.Fatalf("token_ttl changed by a cookie-only POST: %v", v)
			}
			authCall(t, e, http.StatusOK, "POST", ttl, `{"value":"60"}`, authOpts{cookie: tok, xsrf: tok, cookies: browser, header: boxHeader})
			authCall(t, e, http.StatusOK, "POST", ttl, `{"value":"60"}`, authOpts{xsrf: tok})
			authErr(t, authCall(t, e, http.StatusForbidden, "POST", pfx+"/auth/v4/logout", "", authOpts{cookie: tok}), 403, "")

			victim, _ := e.login(adminEmail, adminPass)
			del := pfx + "/auth/v4/token/" + victim
			authErr(t, authCall(t, e, http.StatusForbidden, "DELETE", del, "", authOpts{cookie: tok, cookies: browser}), 403, "")
			authErr(t, authCall(t, e, http.StatusForbidden, "DELETE", del, "", authOpts{cookie: victim}), 403, "")
			e.must(http.StatusOK, "GET", who, victim, nil) // still alive
			authCall(t, e, http.StatusOK, "DELETE", del, "", authOpts{cookie: tok, xsrf: tok})
			authErr(t, authCall(t, e, http.StatusUnauthorized, "GET", who, "", authOpts{xsrf: victim}), 401, "")
			// the admin session survived all of this
			authCall(t, e, http.StatusOK, "GET", who, "", authOpts{cookie: tok})
		}
	})
}

func TestAuthWhoami(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		uTok, uid := e.newUser("who@example.com")
		for _, tc := range []struct {
			tok, email, role string
			id               int64
		}{{e.admin, adminEmail, "@admin", e.adminID}, {uTok, "who@example.com", "@user", uid}} {
			for _, path := range []string{"/auth/v4/whoami", "/api/auth/v4/whoami"} {
				r := e.must(http.StatusOK, "GET", path, tc.tok, nil)
				if id, ok := r.Body["id"].(float64); !ok || int64(id) != tc.id {
					t.Fatalf("whoami id = %#v, want the number %d: %s", r.Body["id"], tc.id, r.Raw)
				}
				if r.Body["email"] != tc.email || r.Body["state"] != "active" {
					t.Fatalf("whoami: %s", r.Raw)
				}
				for k := range r.Body {
					if strings.Contains(k, "password") || strings.Contains(k, "hash") {
						t.Fatalf("whoami shows %q: %s", k, r.Raw)
					}
				}
				roles, ok := r.Body["roles"].([]any)
				if !ok || len(roles) != 1 || roles[0] != tc.role {
					t.Fatalf("whoami roles = %#v, want [%q]: %s", r.Body["roles"], tc.role, r.Raw)
				}
			}
		}
		// auth v4 user lists show roles as an array too (§9)
		r := e.must(http.StatusOK, "GET", "/auth/v4/user?where=email+EQ+'who@example.com'", e.admin, nil)
		list, _ := r.Body["list"].([]any)
		if len(list) != 1 {
			t.Fatalf("auth v4 user list: %s", r.Raw)
		}
		if roles, ok := list[0].(map[string]any)["roles"].([]any); !ok || len(roles) != 1 || roles[0] != "@user" {
			t.Fatalf("auth v4 user roles: %s", r.Raw)
		}
	})
}

func TestAuthOneTimeKeys(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, uid := e.newUser("billing+1@example.com")
		// issueKey asks for a key as real clients do: empty body, octet-stream.
		issueKey := func(path string) string {
			t.Helper()
			r := authCall(t, e, http.StatusOK, "POST", path, "", authOpts{xsrf: e.admin, ctype: "application/octet-stream"})
			if len(r.Body) != 2 || r.Body["id"] != itoa(uid) {
				t.Fatalf("key answer %s, want exactly id %q and key", r.Raw, itoa(uid))
			}
			k, ok := r.Body["key"].(string)
			if !ok || k == "" {
				t.Fatalf("no key: %s", r.Raw)
			}
			return k
		}
		var keys []string
		for _, p := range []string{
			"/auth/v4/user/" + itoa(uid) + "/key",
			"/api/auth/v4/user/" + itoa(uid) + "/key",
			"/auth/v4/user/billing+1@example.com/key", // the email raw in the path
			"/api/auth/v4/user/billing+1@example.com/key",
			"/auth/v4/user/Billing+1@Example.com/key",
			"/auth/v4/user/billing%2B1@example.com/key",
		} {
			keys = append(keys, issueKey(p))
		}
		// {} and a JSON body work too
		authCall(t, e, http.StatusOK, "POST", "/auth/v4/user/"+itoa(uid)+"/key", "{}", authOpts{xsrf: e.admin})
		for _, missing := range []string{"999999", "nobody@example.com", "a'b%22c", "99999999999999999999999", strings.Repeat("x", 300) + "@example.com"} {
			authErr(t, authCall(t, e, http.StatusNotFound, "POST", "/auth/v4/user/"+missing+"/key", "", authOpts{xsrf: e.admin, ctype: "application/octet-stream"}), 404, "")
		}

		// POST /auth/v4/public/key: the login body for that user, once.
		for i, k := range keys[:3] {
			path := []string{"/auth/v4/public/key", "/api/auth/v4/public/key"}[i%2]
			body, _ := json.Marshal(map[string]string{"key": k})
			r := authSend(t, authRequest(t, e, "POST", path, string(body), authOpts{})) // no Content-Type
			tok := checkSession(t, e, r, uid, time.Hour)
			if got := whoamiEmail(t, e, "/auth/v4/whoami", tok); got != "billing+1@example.com" {
				t.Fatalf("key session is %q", got)
			}
			authErr(t, e.do("POST", path, "", map[string]string{"key": k}), http.StatusUnauthorized, "")
			authErr(t, authSend(t, authRequest(t, e, "GET", "/auth/key-v4/"+k, "", authOpts{})), http.StatusUnauthorized, "")
		}
		authErr(t, e.do("POST", "/auth/v4/public/key", "", "{}"), http.StatusBadRequest, "key")
		authErr(t, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": ""}), http.StatusBadRequest, "key")
		authErr(t, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": "garbage"}), http.StatusUnauthorized, "")
		authErr(t, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": e.admin}), http.StatusUnauthorized, "") // a token is no key

		// GET /auth/key-v4/<key>: a browser login, cookie and redirect.
		for i, k := range keys[3:5] {
			path := []string{"/auth/key-v4/", "/api/auth/key-v4/"}[i] + k
			r := authSend(t, authRequest(t, e, "GET", path, "", authOpts{}))
			if r.Status != http.StatusFound || r.Header.Get("Location") == "" {
				t.Fatalf("GET %s: status %d location %q, want a 302 redirect: %s", path, r.Status, r.Header.Get("Location"), r.Raw)
			}
			var ses *http.Cookie
			for _, c := range (&http.Response{Header: r.Header}).Cookies() {
				if c.Name == "ses6" {
					ses = c
				}
			}
			if ses == nil || ses.Value == "" || ses.Path != "/" {
				t.Fatalf("GET %s: no ses6 cookie for / in %v", path, r.Header.Values("Set-Cookie"))
			}
			if ses.HttpOnly {
				t.Fatalf("ses6 is HttpOnly: the page cannot echo it as x-xsrf-token")
			}
			// the cookie works alone for GET, as from that browser tab
			r = authCall(t, e, http.StatusOK, "GET", "/auth/v4/whoami", "", authOpts{cookie: ses.Value,
				cookies: []*http.Cookie{{Name: "lang6", Value: "en"}}, header: http.Header{"Isp-Box-Instance": {"true"}}})
			if r.Body["email"] != "billing+1@example.com" {
				t.Fatalf("browser key session: %s", r.Raw)
			}
			// and needs the header to change anything
			authErr(t, authCall(t, e, http.StatusForbidden, "POST", "/auth/v4/logout", "", authOpts{cookie: ses.Value}), 403, "")
			// the key is spent
			authErr(t, authSend(t, authRequest(t, e, "GET", path, "", authOpts{})), http.StatusUnauthorized, "")
			authErr(t, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": k}), http.StatusUnauthorized, "")
		}
		authErr(t, authSend(t, authRequest(t, e, "GET", "/auth/key-v4/garbage", "", authOpts{})), http.StatusUnauthorized, "")

		// A @user may not issue keys, for anyone, existing or not: the same 403.
		uTok, _ := e.login("billing+1@example.com", "user-password-1")
		var forbidden []string
		for _, ref := range []string{itoa(uid), "billing+1@example.com", itoa(e.adminID), adminEmail, "999999"} {
			for _, pfx := range []string{"", "/api"} {
				r := authCall(t, e, http.StatusForbidden, "POST", pfx+"/auth/v4/user/"+ref+"/key", "", authOpts{xsrf: uTok, ctype: "application/octet-stream"})
				authErr(t, r, 403, "")
				forbidden = append(forbidden, string(r.Raw))
			}
		}
		for _, f := range forbidden {
			if f != forbidden[0] {
				t.Fatalf("a @user's key requests answer differently: %q", forbidden)
			}
		}

		// A key works for one hour only: the last one is 61 minutes old.
		old := keys[5]
		old2 := issueKey("/auth/v4/user/" + itoa(uid) + "/key")
		e.clock.Add(61 * time.Minute)
		authErr(t, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": old}), http.StatusUnauthorized, "")
		authErr(t, authSend(t, authRequest(t, e, "GET", "/auth/key-v4/"+old2, "", authOpts{})), http.StatusUnauthorized, "")
		// while a fresh one still works
		e.admin, _ = e.login(adminEmail, adminPass)
		fresh := issueKey("/auth/v4/user/" + itoa(uid) + "/key")
		e.clock.Add(59 * time.Minute)
		checkSession(t, e, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": fresh}), uid, time.Hour)
	})
}

func TestAuthPasswordChange(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const email, pw1, pw2, pw3 = "pw@example.com", "user-password-1", "second-password-2", "third-password-3"
		a, uid := e.newUser(email) // the session that changes the password
		b, _ := e.login(email, pw1)
		otherTok, otherID := e.newUser("other@example.com")
		who := "/auth/v4/whoami"

		// a user for itself, by id
		e.must(http.StatusOK, "POST", "/auth/v4/user/"+itoa(uid)+"/password", a, map[string]string{"password": pw2})
		authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON(email, pw1)), http.StatusUnauthorized, "")
		c, _ := e.login(email, pw2)
		e.must(http.StatusOK, "GET", who, a, nil)                         // the current session survives
		authErr(t, e.do("GET", who, b, nil), http.StatusUnauthorized, "") // others end
		e.must(http.StatusOK, "GET", who, c, nil)                         // opened after the change
		e.must(http.StatusOK, "GET", who, otherTok, nil)                  // other users are untouched
		// by its email, raw in the path, under /api
		e.must(http.StatusOK, "POST", "/api/auth/v4/user/"+email+"/password", a, map[string]string{"password": pw3})
		authErr(t, e.do("GET", who, c, nil), http.StatusUnauthorized, "")
		e.must(http.StatusOK, "GET", who, a, nil)
		a2, _ := e.login(email, pw3)

		// weak or missing passwords change nothing
		for _, body := range []any{map[string]string{"password": "short"}, map[string]string{"password": ""},
			map[string]string{"password": strings.Repeat("x", 257)}, map[string]any{}, "", map[string]any{"password": 12345678}} {
			for _, tok := range []string{a, e.admin} {
				authErr(t, e.do("POST", "/auth/v4/user/"+itoa(uid)+"/password", tok, body), http.StatusBadRequest, "password")
			}
		}
		e.must(http.StatusOK, "GET", who, a2, nil)
		e.login(email, pw3)

		// a user for another user: 403, the same whether that user exists or not
		var bodies []string
		for _, ref := range []string{itoa(otherID), "other@example.com", itoa(e.adminID), adminEmail, "999999", "nobody@example.com"} {
			for _, pfx := range []string{"", "/api"} {
				r := e.do("POST", pfx+"/auth/v4/user/"+ref+"/password", a, map[string]string{"password": "hijacked-password"})
				authErr(t, r, http.StatusForbidden, "")
				bodies = append(bodies, string(r.Raw))
			}
		}
		for _, b := range bodies {
			if b != bodies[0] {
				t.Fatalf("a user's password changes for others answer differently: %q", bodies)
			}
		}
		e.login("other@example.com", "user-password-1")
		e.login(adminEmail, adminPass)

		// an admin for anyone; the user's sessions all end
		e.must(http.StatusOK, "POST", "/auth/v4/user/"+itoa(uid)+"/password", e.admin, map[string]string{"password": pw1})
		authErr(t, e.do("GET", who, a, nil), http.StatusUnauthorized, "")
		authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON(email, pw3)), http.StatusUnauthorized, "")
		e.login(email, pw1)
		e.must(http.StatusOK, "POST", "/api/auth/v4/user/other@example.com/password", e.admin, map[string]string{"password": pw2})
		e.login("other@example.com", pw2)
		authErr(t, e.do("POST", "/auth/v4/user/999999/password", e.admin, map[string]string{"password": pw2}), http.StatusNotFound, "")
		// an admin for itself keeps its session
		adminOther, _ := e.login(adminEmail, adminPass)
		e.must(http.StatusOK, "POST", "/auth/v4/user/"+itoa(e.adminID)+"/password", e.admin, map[string]string{"password": "new-admin-password"})
		e.must(http.StatusOK, "GET", who, e.admin, nil)
		authErr(t, e.do("GET", who, adminOther, nil), http.StatusUnauthorized, "")
		e.login(adminEmail, "new-admin-password")
	})
}

func TestAuthTokenTTL(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ttlPath := "/auth/v4/setting/token_ttl"
		if v := e.must(http.StatusOK, "GET", ttlPath, e.admin, nil).Body["value"]; v != "60" {
			t.Fatalf("default token_ttl %v, want \"60\"", v)
		}
		uTok, uid := e.newUser("ttl@example.com")
		r := e.must(http.StatusOK, "POST", "/api"+ttlPath, e.admin, map[string]string{"value": "5"})
		if r.Body["value"] != "5" {
			t.Fatalf("set token_ttl: %s", r.Raw)
		}
		if v := e.must(http.StatusOK, "GET", ttlPath, e.admin, nil).Body["value"]; v != "5" {
			t.Fatalf("token_ttl %v after setting 5", v)
		}
		// new sessions announce the new timeout
		idle := checkSession(t, e, e.do("POST", "/auth/v4/public/token", "", loginJSON("ttl@example.com", "user-password-1")), uid, 5*time.Minute)
		active := checkSession(t, e, e.do("POST", "/auth/v4/public/token", "", loginJSON("ttl@example.com", "user-password-1")), uid, 5*time.Minute)

		e.clock.Add(4 * time.Minute)
		e.must(http.StatusOK, "GET", "/auth/v4/whoami", active, nil)
		e.clock.Add(2 * time.Minute) // 6 minutes idle
		if msg := authErr(t, e.do("GET", "/auth/v4/whoami", idle, nil), http.StatusUnauthorized, ""); msg != "Unauthorized" {
			t.Fatalf("expired session: msg %q, want Unauthorized", msg)
		}
		authErr(t, e.do("GET", "/auth/v4/whoami", uTok, nil), http.StatusUnauthorized, "")
		authErr(t, e.do("GET", ttlPath, e.admin, nil), http.StatusUnauthorized, "") // the admin idled too
		for range 4 {                                                               // used every 4 minutes: alive at 8, 12, 16, 20
			e.clock.Add(2 * time.Minute)
			e.must(http.StatusOK, "GET", "/api/auth/v4/whoami", active, nil)
			e.clock.Add(2 * time.Minute)
		}
		// idle again: it ends
		e.clock.Add(6 * time.Minute)
		authErr(t, e.do("GET", "/auth/v4/whoami", active, nil), http.StatusUnauthorized, "")
		authErr(t, e.do("GET", "/auth/v4/whoami", active, nil), http.StatusUnauthorized, "") // and stays ended

		e.admin, _ = e.login(adminEmail, adminPass)
		// bad values are refused and change nothing
		for _, body := range []any{map[string]string{"value": "0"}, map[string]string{"value": "abc"}, map[string]string{"value": "-3"},
			map[string]string{"value": ""}, map[string]string{"value": "1.5"}, map[string]string{"value": "525601"},
			map[string]string{"value": "99999999999999999999"}, map[string]any{}, ""} {
			for _, pfx := range []string{"", "/api"} {
				authErr(t, e.do("POST", pfx+ttlPath, e.admin, body), http.StatusBadRequest, "value")
			}
		}
		for _, pfx := range []string{"", "/api"} {
			if v := e.must(http.StatusOK, "GET", pfx+ttlPath, e.admin, nil).Body["value"]; v != "5" {
				t.Fatalf("token_ttl %v after bad values, want \"5\"", v)
			}
		}
		// a user may neither read nor change it
		u2, _ := e.login("ttl@example.com", "user-password-1")
		for _, pfx := range []string{"", "/api"} {
			authErr(t, e.do("GET", pfx+ttlPath, u2, nil), http.StatusForbidden, "")
			authErr(t, e.do("POST", pfx+ttlPath, u2, map[string]string{"value": "600"}), http.StatusForbidden, "")
			authErr(t, e.do("POST", pfx+ttlPath, "", map[string]string{"value": "600"}), http.StatusUnauthorized, "")
		}
		e.clock.Add(6 * time.Second) // past the TTL cache
		if v := e.must(http.StatusOK, "GET", ttlPath, e.admin, nil).Body["value"]; v != "5" {
			t.Fatalf("token_ttl %v after a user's attempt, want \"5\"", v)
		}
		// a longer TTL applies to existing sessions at once
		e.must(http.StatusOK, "POST", ttlPath, e.admin, map[string]string{"value": " 30 "})
		e.clock.Add(20 * time.Minute)
		e.must(http.StatusOK, "GET", "/auth/v4/whoami", u2, nil)
	})
}

func TestAuthLogout(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const email = "bye@example.com"
		login := func() string { tok, _ := e.login(email, "user-password-1"); return tok }
		keep, _ := e.newUser(email)
		who := "/auth/v4/whoami"

		for _, path := range []string{"/auth/v4/logout", "/api/auth/v4/logout"} {
			tok := login()
			r := e.must(http.StatusOK, "POST", path, tok, nil)
			if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "ses6=") {
				t.Fatalf("logout does not clear the cookie: %q", sc)
			}
			authErr(t, e.do("GET", who, tok, nil), http.StatusUnauthorized, "")
			authErr(t, e.do("POST", path, tok, nil), http.StatusUnauthorized, "")
		}
		// logout from a browser: cookie plus header
		tok := login()
		authCall(t, e, http.StatusOK, "POST", "/auth/v4/logout", "", authOpts{cookie: tok, xsrf: tok})
		authErr(t, e.do("GET", who, tok, nil), http.StatusUnauthorized, "")

		// DELETE /auth/v4/token/<token>: one's own
		for _, pfx := range []string{"", "/api"} {
			tok := login()
			e.must(http.StatusOK, "DELETE", pfx+"/auth/v4/token/"+tok, tok, nil)
			authErr(t, e.do("GET", who, tok, nil), http.StatusUnauthorized, "")
		}
		// an admin ends anyone's
		for _, pfx := range []string{"", "/api"} {
			tok := login()
			e.must(http.StatusOK, "DELETE", pfx+"/auth/v4/token/"+tok, e.admin, nil)
			authErr(t, e.do("GET", who, tok, nil), http.StatusUnauthorized, "")
		}
		// a user may not end another's session: 403, even for a token that is no session
		otherTok, _ := e.newUser("other@example.com")
		victimAdmin, _ := e.login(adminEmail, adminPass)
		var bodies []string
		for _, target := range []string{otherTok, victimAdmin, keep + "0", "garbage"} {
			for _, pfx := range []string{"", "/api"} {
				r := e.do("DELETE", pfx+"/auth/v4/token/"+target, keep, nil)
				authErr(t, r, http.StatusForbidden, "")
				bodies = append(bodies, string(r.Raw))
			}
		}
		for _, b := range bodies {
			if b != bodies[0] {
				t.Fatalf("a user's token deletions answer differently: %q", bodies)
			}
		}
		e.must(http.StatusOK, "GET", who, otherTok, nil)
		e.must(http.StatusOK, "GET", who, victimAdmin, nil)
		e.must(http.StatusOK, "GET", who, keep, nil)
		authErr(t, e.do("DELETE", "/auth/v4/token/"+otherTok, "", nil), http.StatusUnauthorized, "")
		authErr(t, e.do("POST", "/auth/v4/logout", "", nil), http.StatusUnauthorized, "")
		// the admin's own session is untouched by all of this
		e.must(http.StatusOK, "GET", who, e.admin, nil)
	})
}

func TestAuthSessionsSurviveRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		uTok, uid := e.newUser("stay@example.com")
		key := func(ex *env) string {
			r := ex.must(http.StatusOK, "POST", "/auth/v4/user/"+itoa(uid)+"/key", ex.admin, "")
			return r.Body["key"].(string)
		}
		k1 := key(e)

		e2 := newEnv(t, db) // a restart, or a second replica
		for _, tok := range []string{uTok, e.admin} {
			e2.must(http.StatusOK, "GET", "/auth/v4/whoami", tok, nil)
		}
		e.must(http.StatusOK, "GET", "/auth/v4/whoami", e2.admin, nil)
		// a key works once across replicas
		checkSession(t, e2, e2.do("POST", "/auth/v4/public/key", "", map[string]string{"key": k1}), uid, time.Hour)
		authErr(t, e.do("POST", "/auth/v4/public/key", "", map[string]string{"key": k1}), http.StatusUnauthorized, "")
		k2 := key(e2)

		// the database keeps no plain token or key, only their hashes
		hashes := func(q string) []string {
			t.Helper()
			rows, err := db.SQL().QueryContext(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var h string
				if err := rows.Scan(&h); err != nil {
					t.Fatal(err)
				}
				out = append(out, h)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		stored := hashes("SELECT token_hash FROM sessions")
		if len(stored) < 3 {
			t.Fatalf("%d sessions stored, want at least 3", len(stored))
		}
		for _, tok := range []string{uTok, e.admin, e2.admin} {
			found := false
			for _, h := range stored {
				if strings.Contains(h, tok) {
					t.Fatalf("sessions keeps a plain token")
				}
				found = found || h == auth.HashToken(tok)
			}
			if !found {
				t.Fatalf("no session stored under the hash of a live token")
			}
		}
		storedKeys := hashes("SELECT key_hash FROM auth_keys")
		found := false
		for _, h := range storedKeys {
			if strings.Contains(h, k2) {
				t.Fatalf("auth_keys keeps a plain key")
			}
			found = found || h == auth.HashToken(k2)
		}
		if !found {
			t.Fatalf("the unused key is not stored by its hash")
		}

		// logout on one replica ends the session on the other
		e2.must(http.StatusOK, "POST", "/auth/v4/logout", uTok, nil)
		authErr(t, e.do("GET", "/auth/v4/whoami", uTok, nil), http.StatusUnauthorized, "")
	})
}

func TestAuthRateLimitPerAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(o *auth.Options) { o.FailuresPerAccount = 5; o.FailuresPerAddress = 1000 })
		e.newUser("victim@example.com")
		for _, email := range []string{"victim@example.com", "ghost@example.com"} { // known or not: the same
			for i := 1; i <= 5; i++ {
				authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON(email, "wrong-password")), http.StatusUnauthorized, "")
			}
			var msgs []string
			for _, pw := range []string{"wrong-password", "user-password-1"} { // the 6th, then the right one
				for _, path := range []string{"/auth/v4/public/token", "/api/auth/v4/public/token"} {
					r := e.do("POST", path, "", loginJSON(email, pw))
					msgs = append(msgs, authErr(t, r, http.StatusTooManyRequests, ""))
				}
			}
			if msgs[0] == "" || msgs[0] != msgs[3] {
				t.Fatalf("throttled logins answer %q", msgs)
			}
		}
		// the email is normalised before counting
		authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON(" VICTIM@example.com", "user-password-1")), http.StatusTooManyRequests, "")
		// another account from the same address still logs in
		checkSession(t, e, e.do("POST", "/auth/v4/public/token", "", loginJSON(adminEmail, adminPass)), e.adminID, time.Hour)
		// sessions already open keep working
		e.must(http.StatusOK, "GET", "/auth/v4/whoami", e.admin, nil)
		// after the window the account logs in again
		e.clock.Add(16 * time.Minute)
		e.login("victim@example.com", "user-password-1")
	})
}

func TestAuthRateLimitPerAddress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(o *auth.Options) { o.FailuresPerAccount = 100; o.FailuresPerAddress = 4 })
		for i := range 4 {
			authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON("spray"+itoa(int64(i))+"@example.com", "password-123")), http.StatusUnauthorized, "")
		}
		authErr(t, e.do("POST", "/auth/v4/public/token", "", loginJSON("spray9@example.com", "password-123")), http.StatusTooManyRequests, "")
		// the address is blocked, even for a right password
		authErr(t, e.do("POST", "/api/auth/v4/public/token", "", loginJSON(adminEmail, adminPass)), http.StatusTooManyRequests, "")
		// and a forged proxy header does not make a new address (no trusted proxies)
		for _, h := range []string{"X-Forwarded-For", "X-Real-Ip"} {
			r := authSend(t, authRequest(t, e, "POST", "/auth/v4/public/token", loginJSON(adminEmail, adminPass),
				authOpts{header: http.Header{h: {"203.0.113.7"}}}))
			authErr(t, r, http.StatusTooManyRequests, "")
		}
		e.must(http.StatusOK, "GET", "/auth/v4/whoami", e.admin, nil)
		e.clock.Add(16 * time.Minute)
		e.login(adminEmail, adminPass)
	})
}

func TestAuthRoutesWithAndWithoutPrefix(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		uTok, uid := e.newUser("both@example.com")
		type call struct {
			method, path, tok string
			body              any
			status            int
		}
		for _, c := range []call{
			{"GET", "/auth/v4/whoami", e.admin, nil, 200},
			{"GET", "/auth/v4/whoami", uTok, nil, 200},
			{"GET", "/auth/v4/whoami", "", nil, 401},
			{"GET", "/auth/v4/user", e.admin, nil, 200},
			{"GET", "/auth/v4/user", uTok, nil, 403},
			{"GET", "/auth/v4/setting/token_ttl", e.admin, nil, 200},
			{"POST", "/auth/v4/setting/token_ttl", e.admin, map[string]string{"value": "60"}, 200},
			{"POST", "/auth/v4/user/" + itoa(uid) + "/key", e.admin, "", 200},
			{"POST", "/auth/v4/user/" + itoa(uid) + "/key", uTok, "", 403},
			{"POST", "/auth/v4/user/" + itoa(uid) + "/password", uTok, map[string]string{"password": "user-password-1"}, 200},
			{"POST", "/auth/v4/public/token", "", loginJSON("both@example.com", "user-password-1"), 201},
			{"POST", "/auth/v4/public/key", "", map[string]string{"key": "nope"}, 401},
			{"GET", "/auth/key-v4/nope", "", nil, 401},
			{"DELETE", "/auth/v4/token/" + e.admin, uTok, nil, 403},
			{"GET", "/dci/v3/server", uTok, nil, 200},
			{"GET", "/dci/v3/user", uTok, nil, 403},
			{"GET", "/dci/v3/user", e.admin, nil, 200},
			{"GET", "/auth/v4/nothing", e.admin, nil, 404},
			{"PUT", "/auth/v4/whoami", e.admin, nil, 405},
		} {
			var got [2]resp
			for i, pfx := range []string{"", "/api"} {
				got[i] = e.do(c.method, pfx+c.path, c.tok, c.body)
				if got[i].Status != c.status {
					t.Fatalf("%s %s: status %d, want %d: %s", c.method, pfx+c.path, got[i].Status, c.status, got[i].Raw)
				}
				if c.status >= 400 {
					authErr(t, got[i], c.status, "")
				}
			}
			if c.status >= 400 && !bytes.Equal(got[0].Raw, got[1].Raw) {
				t.Fatalf("%s %s answers differently with /api: %s vs %s", c.method, c.path, got[0].Raw, got[1].Raw)
			}
		}
		for _, pfx := range []string{"", "/api"} {
			tok, _ := e.login("both@example.com", "user-password-1")
			e.must(http.StatusOK, "POST", pfx+"/auth/v4/logout", tok, nil)
			authErr(t, e.do("GET", "/auth/v4/whoami", tok, nil), http.StatusUnauthorized, "")
		}
	})
}

func TestAuthKeyWorksOnceUnderConcurrency(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, uid := e.newUser("race@example.com")
		for round := range 3 {
			r := e.must(http.StatusOK, "POST", "/auth/v4/user/"+itoa(uid)+"/key", e.admin, "")
			body := `{"key":"` + r.Body["key"].(string) + `"}`
			const n = 8
			statuses := make(chan int, n)
			start := make(chan struct{})
			for range n {
				go func() {
					<-start
					req, err := http.NewRequest("POST", e.srv.URL+"/auth/v4/public/key", strings.NewReader(body))
					if err != nil {
						statuses <- -1
						return
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						statuses <- -1
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statuses <- res.StatusCode
				}()
			}
			close(start)
			counts := map[int]int{}
			for range n {
				counts[<-statuses]++
			}
			if counts[http.StatusCreated] != 1 || counts[http.StatusUnauthorized] != n-1 {
				t.Fatalf("round %d: %d concurrent uses of one key answered %v, want one 201 and %d 401", round, n, counts, n-1)
			}
		}
	})
}
