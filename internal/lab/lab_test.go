package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/lab/pdusim"
	"github.com/dcimd/dcimd/internal/lab/switchsim"
)

// syncBuffer is written by the lab's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is one lab.Run in the background.
type running struct {
	t        *testing.T
	url      string
	bmcs     []*bmcsim.BMC
	pdus     []*pdusim.PDU
	switches []*switchsim.Switch
	out      *syncBuffer
	logs     *syncBuffer
	cancel   context.CancelFunc
	done     chan error
	token    string
}

const adminPassword = "lab-test-admin-1"

var urlLine = regexp.MustCompile(`(?m)^  URL=(http://\S+)$`)

// startLab runs the lab on dataDir until the test stops it.
func startLab(t *testing.T, dataDir string, servers int) *running {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminPassword = adminPassword
	r := &running{t: t, out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	var simsMu sync.Mutex
	opts := Options{Servers: servers, started: func(s *sims) {
		simsMu.Lock()
		defer simsMu.Unlock()
		r.bmcs, r.pdus, r.switches = s.bmcs, s.pdus, s.switches
	}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() { r.done <- Run(ctx, cfg, log, r.out, opts) }()
	t.Cleanup(func() { r.stop() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := urlLine.FindStringSubmatch(r.out.String()); m != nil {
			r.url = m[1]
			break
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("lab ended early: %v\n%s\n%s", err, r.out.String(), r.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab did not print its try-this text\n%s\n%s", r.out.String(), r.logs.String())
		}
	}
	simsMu.Lock()
	defer simsMu.Unlock()
	if len(r.bmcs) != servers {
		t.Fatalf("%d simulated BMCs, want %d", len(r.bmcs), servers)
	}
	r.token = r.login("admin@example.com", adminPassword)
	return r
}

// stop cancels the lab and waits for Run to return.
func (r *running) stop() {
	r.t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("lab.Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		r.t.Errorf("lab.Run did not return within 60s of cancel")
	}
	if r.t.Failed() {
		r.t.Logf("lab output:\n%s\nlog:\n%s", r.out.String(), r.logs.String())
	}
}

func (r *running) login(email, password string) string {
	r.t.Helper()
	var got struct{ Token string }
	r.call(http.MethodPost, "/api/auth/v4/public/token", map[string]string{"email": email, "password": password}, http.StatusCreated, &got, "")
	if got.Token == "" {
		r.t.Fatalf("login of %s: no token", email)
	}
	return got.Token
}

// call does one API request and decodes the answer into v.
func (r *running) call(method, path string, body any, want int, v any, token string) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if token == "" {
		token = r.token
	}
	if token != "" {
		req.Header.Set("x-xsrf-token", token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		r.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			r.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func (r *running) size(path string) int {
	r.t.Helper()
	var l struct{ Size int }
	r.call(http.MethodGet, path, nil, http.StatusOK, &l, "")
	return l.Size
}

type serverJSON struct {
	ID            int64
	Name          string
	Configuration string
	HardwareInfo  map[string]any `json:"hardware_info"`
	Owner         *struct{ Email string }
	IPMI          *struct {
		Address string
		Status  string
	}
	PDUConnection *struct {
		PDUName      string `json:"pdu_name"`
		PortIdentity string `json:"port_identity"`
	} `json:"pdu_connection"`
	SwitchConnection []struct {
		IsIPMIConnection bool `json:"is_ipmi_connection"`
	} `json:"switch_connection"`
}

func (r *running) servers() []serverJSON {
	r.t.Helper()
	var l struct {
		List []serverJSON
		Size int
	}
	r.call(http.MethodGet, "/api/dci/v3/server?orderby=id+asc", nil, http.StatusOK, &l, "")
	return l.List
}

// power runs one power operation and waits (bounded) for its task to end.
func (r *running) power(id int64, op string) {
	r.t.Helper()
	var started struct{ ID, Task int64 }
	r.call(http.MethodPost, fmt.Sprintf("/api/dci/v3/server/%d/%s", id, op), map[string]any{}, http.StatusOK, &started, "")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var task struct {
			Status, Error string
			StatusInfo    string `json:"status_info"`
		}
		r.call(http.MethodGet, fmt.Sprintf("/api/dci/v3/task/%d", started.Task), nil, http.StatusOK, &task, "")
		switch task.Status {
		case "complete":
			return
		case "fail", "canceled":
			r.t.Fatalf("%s of server %d: task %s: %s %s", op, id, task.Status, task.Error, task.StatusInfo)
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s of server %d: task still %q after 60s", op, id, task.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLab(t *testing.T) {
	dir := t.TempDir()
	lab := startLab(t, dir, 3)

	servers := lab.servers()
	if len(servers) != 3 {
		t.Fatalf("%d servers, want 3", len(servers))
	}
	owners := 0
	for _, s := range servers {
		hw := s.HardwareInfo
		if s.Configuration == "" || hw["cpu"] == nil || hw["memory"] == nil || hw["motherboard"] == nil {
			t.Errorf("%s: configuration %q, hardware_info %v: want a diagnosed server", s.Name, s.Configuration, hw)
		}
		if disks, _ := hw["disks"].([]any); len(disks) < 2 {
			t.Errorf("%s: %d disks in hardware_info", s.Name, len(disks))
		}
		if nics, _ := hw["nics"].([]any); len(nics) == 0 {
			t.Errorf("%s: no nics in hardware_info", s.Name)
		}
		if s.IPMI == nil || s.IPMI.Address != "127.0.0.1" {
			t.Errorf("%s: ipmi %+v, want a BMC on loopback", s.Name, s.IPMI)
		}
		if s.PDUConnection == nil || !strings.HasPrefix(s.PDUConnection.PDUName, "pdu-lab-") {
			t.Errorf("%s: pdu_connection %+v", s.Name, s.PDUConnection)
		}
		if len(s.SwitchConnection) != 2 {
			t.Errorf("%s: %d switch connections, want the host NIC and the BMC port", s.Name, len(s.SwitchConnection))
		}
		if s.Owner != nil {
			if s.Owner.Email != DemoEmail {
				t.Errorf("%s: owner %s", s.Name, s.Owner.Email)
			}
			owners++
		}
	}
	if owners == 0 || owners == len(servers) {
		t.Errorf("%d of %d servers have owners, want some owned and some free", owners, len(servers))
	}

	// The demo user logs in with the printed password and sees only its servers.
	m := regexp.MustCompile(`demo @user: \S+  password: (\S+)`).FindStringSubmatch(lab.out.String())
	if m == nil {
		t.Fatalf("no demo user password in the output:\n%s", lab.out.String())
	}
	var mine struct{ Size int }
	lab.call(http.MethodGet, "/api/dci/v3/server", nil, http.StatusOK, &mine, lab.login(DemoEmail, m[1]))
	if mine.Size != owners {
		t.Errorf("the demo user sees %d servers, want its %d", mine.Size, owners)
	}

	// Power through the API reaches the simulated BMC: off, then on.
	s, sim := servers[0], lab.bmcs[0]
	if !sim.Power() {
		t.Fatalf("%s (rented) starts powered off", s.Name)
	}
	lab.power(s.ID, "power_off")
	if sim.Power() {
		t.Fatal("power_off completed but the simulated server is on")
	}
	lab.power(s.ID, "power_on")
	if !sim.Power() {
		t.Fatal("power_on completed but the simulated server is off")
	}
	if c := sim.Counters(); c.PowerOff != 1 || c.PowerOn != 1 || c.Reset != 0 || c.Cycle != 0 {
		t.Fatalf("BMC counters %+v, want exactly one power off and one power on", c)
	}

	lab.checkSwitches(3)
	// The inventory has server 2's NIC port down (suspended): the next
	// start's simulator has it down too.
	lab.setPortDown(switchName(0), "2")

	before := map[string]int{}
	for _, p := range []string{"/api/dci/v3/server", "/api/dci/v3/location", "/api/dci/v3/rack", "/api/dci/v3/platform",
		"/api/dci/v3/pdu", "/api/dci/v3/switch", "/api/dci/v3/ipmi", "/api/dci/v3/user"} {
		before[p] = lab.size(p)
	}
	lab.stop()

	// A second start on the same data dir adds nothing and points the
	// BMC records at the new simulators.
	again := startLab(t, dir, 3)
	for p, n := range before {
		if got := again.size(p); got != n {
			t.Errorf("%s: %d objects after a second start, want %d", p, got, n)
		}
	}
	var bmcs struct {
		List []struct {
			ServerID int64 `json:"server_id"`
			Port     int
		}
	}
	again.call(http.MethodGet, "/api/dci/v3/ipmi?orderby=server_id+asc", nil, http.StatusOK, &bmcs, "")
	for i, b := range bmcs.List {
		if b.Port != again.bmcs[i].Port() {
			t.Errorf("ipmi of server %d: port %d, want the new simulator's %d", b.ServerID, b.Port, again.bmcs[i].Port())
		}
	}
	again.checkSwitches(3)
	if sw := again.switches[0]; sw.AdminUp(2) || !sw.AdminUp(1) {
		t.Errorf("after a restart port 2 of %s is admin up=%v (the inventory has it down), port 1 up=%v", sw.Name(), sw.AdminUp(2), sw.AdminUp(1))
	}
	again.power(servers[2].ID, "power_reset")
	if !again.bmcs[2].Power() {
		t.Error("power_reset after a restart did not reach the new simulator")
	}
}
