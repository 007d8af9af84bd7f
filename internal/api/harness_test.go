package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// clock is a settable time source for session expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a running API on a fresh database with one admin logged in.
type env struct {
	t       *testing.T
	db      *store.DB
	srv     *httptest.Server
	auth    *auth.Service
	clock   *clock
	admin   string // admin session token
	adminID int64
}

const (
	adminEmail = "admin@example.com"
	adminPass  = "admin-password-1"
)

// newEnv starts the API over db. opts may tune the auth service.
func newEnv(t *testing.T, db *store.DB, opts ...func(*auth.Options)) *env {
	t.Helper()
	clk := &clock{t: time.Now()}
	o := auth.Options{DefaultTTL: time.Hour, FailuresPerAccount: 5, FailuresPerAddress: 1000, FailureWindow: 15 * time.Minute,
		Now: clk.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range opts {
		f(&o)
	}
	as := auth.NewService(db.Auth(), o)
	if _, err := as.EnsureAdmin(context.Background(), adminEmail, adminPass); err != nil {
		t.Fatal(err)
	}
	h, err := New(Deps{Auth: as, Inventory: server.NewService(db.Inventory()), IPs: db.IPs(), DB: db, IPAM: db.IPAM(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, srv: srv, auth: as, clock: clk}
	e.admin, e.adminID = e.login(adminEmail, adminPass)
	return e
}

// eachEnv runs fn on a fresh env over each database dialect.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newEnv(t, db)) })
}

// resp is a decoded answer.
type resp struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

// do sends a request with the token in x-xsrf-token (if not empty). body
// may be nil, a string (sent raw) or anything JSON-encodable.
func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("x-xsrf-token", token)
	}
	return e.send(req)
}

// send performs a prepared request.
func (e *env) send(req *http.Request) resp {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// must checks the status and returns the answer.
func (e *env) must(status int, method, path, token string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.Status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	return r
}

// login returns a session token and the user id.
func (e *env) login(email, pass string) (string, int64) {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/auth/v4/public/token", "", map[string]string{"email": email, "password": pass})
	id, _ := r.Body["id"].(string)
	var n int64
	for _, ch := range id {
		n = n*10 + int64(ch-'0')
	}
	return r.Body["token"].(string), n
}

// create posts a body as admin and returns the new id.
func (e *env) create(path string, body any) int64 {
	e.t.Helper()
	r := e.must(http.StatusOK, "POST", path, e.admin, body)
	return int64(r.Body["id"].(float64))
}

// newUser creates a @user and logs it in.
func (e *env) newUser(email string) (token string, id int64) {
	e.t.Helper()
	e.create("/api/dci/v3/user", map[string]any{"email": email, "password": "user-password-1", "role": "@user"})
	return e.login(email, "user-password-1")
}

// fixture is a small inventory: a location, rack, platform, switch with a
// port, a PDU with an outlet and three servers (1 owned by the user).
type fixture struct {
	location, rack, platform, sw, port, pdu, outlet int64
	servers                                         []int64
	userToken                                       string
	userID                                          int64
}

func (e *env) fixture() fixture {
	e.t.Helper()
	var f fixture
	f.location = e.create("/api/dci/v3/location", map[string]any{"name": "DC1", "geolocation": "1st Street, 25"})
	f.rack = e.create("/api/dci/v3/rack", map[string]any{"name": "R1", "size": 42, "location_id": f.location})
	f.platform = e.create("/api/dci/v3/platform", map[string]any{"name": "R640", "size": 1, "type": "server"})
	f.sw = e.create("/api/dci/v3/switch", map[string]any{"name": "sw1", "address": "127.0.0.1", "snmp_community": "c0mmunity"})
	f.port = e.create("/api/dci/v3/switch/"+itoa(f.sw)+"/port", map[string]any{"identity": "1", "description": "srv1 eth0"})
	f.pdu = e.create("/api/dci/v3/pdu", map[string]any{"name": "pdu1", "address": "127.0.0.1", "snmp_community": "pdu-secret"})
	f.outlet = e.create("/api/dci/v3/pdu/"+itoa(f.pdu)+"/port", map[string]any{"identity": "1"})
	for i := 1; i <= 3; i++ {
		f.servers = append(f.servers, e.create("/api/dci/v3/server", map[string]any{"name": "srv" + itoa(int64(i)),
			"domain": "srv" + itoa(int64(i)) + ".example.com", "configuration": "i9-64Gb", "location_id": f.location,
			"rack_id": f.rack, "unit": i, "platform_id": f.platform}))
	}
	f.userToken, f.userID = e.newUser("user@example.com")
	e.must(http.StatusOK, "POST", "/api/dci/v3/server/"+itoa(f.servers[0])+"/owner", e.admin, map[string]any{"owner": f.userID})
	return f
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// errBody checks the ISPsystem error shape and returns code and msg.
func errBody(t *testing.T, r resp) (code int, msg string) {
	t.Helper()
	eo, ok := r.Body["error"].(map[string]any)
	if !ok {
		t.Fatalf("status %d: not an error body: %s", r.Status, r.Raw)
	}
	c, ok1 := eo["code"].(float64)
	m, ok2 := eo["msg"].(string)
	if _, has := eo["value"]; !ok1 || !ok2 || !has || m == "" {
		t.Fatalf("malformed error body: %s", r.Raw)
	}
	return int(c), m
}
