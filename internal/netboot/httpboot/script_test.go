package httpboot

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcimd/dcimd/internal/fault"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakePlans answers plans by MAC; a MAC missing from the map is unknown.
type fakePlans struct {
	mu    sync.Mutex
	plans map[string]Plan
	err   error // returned for every MAC when set
	asked []string
}

func (f *fakePlans) BootPlan(_ context.Context, mac net.HardwareAddr) (Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, mac.String())
	if f.err != nil {
		return Plan{}, f.err
	}
	p, ok := f.plans[mac.String()]
	if !ok {
		return Plan{}, ErrUnknownMachine
	}
	return p, nil
}

const (
	macLocal = "52:54:00:00:00:01"
	macLinux = "52:54:00:00:00:02"
	macDiag  = "52:54:00:00:00:03"
	macFree  = "52:54:00:00:00:04"
	token    = "tok_0123456789abcdefABCDEF-xyz"
)

func testPlans() *fakePlans {
	return &fakePlans{plans: map[string]Plan{
		macLocal: {ServerID: 7},
		macLinux: {Template: "linux", ServerID: 8, Kernel: "debian-12/linux", Initrd: "debian-12/initrd.gz",
			Cmdline: "auto=true priority=critical console=ttyS0", Token: token},
		macDiag: {Template: "diag", ServerID: 9, Kernel: "http://mirror.test/diag/vmlinuz", Initrd: "diag/initrd.img",
			Cmdline: "console=ttyS0", Token: token},
		macFree: {Template: "local", ServerID: 10},
	}}
}

// quiet is a logger that drops everything (failures are checked through
// responses and metrics).
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "198.18.0.1:8080"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, p, got, want)
	}
}

// TestScriptPerPlan renders the shipped templates for each kind of plan.
func TestScriptPerPlan(t *testing.T) {
	h := New(Options{Plans: testPlans(), Log: quiet()})
	for _, tc := range []struct{ name, mac, must string }{
		{"local", macLocal, "sanboot --no-describe --drive 0x80"},
		{"linux", macLinux, "kernel --name kernel http://198.18.0.1:8080/boot/images/debian-12/linux initrd=initrd " +
			"auto=true priority=critical console=ttyS0 dcimd.phonehome=http://198.18.0.1:8080/boot/phonehome/" + token +
			" dcimd.token=" + token},
		{"diag", macDiag, "kernel --name kernel http://mirror.test/diag/vmlinuz initrd=initrd"},
		{"unknown", "52:54:00:99:99:99", "(not in the inventory)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, h, "/boot/"+tc.mac+".ipxe")
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			body := w.Body.String()
			if !strings.HasPrefix(body, "#!ipxe\n") || !strings.Contains(body, tc.must) {
				t.Fatalf("script lacks %q:\n%s", tc.must, body)
			}
			golden(t, "script-"+tc.name, body)
		})
	}
	if got := metric(t, h, "dcimd_httpboot_scripts_total", "template="+"linux", "outcome="+outcomePlanned); got != 1 {
		t.Errorf("scripts_total{linux,planned} = %v", got)
	}
	if got := metric(t, h, "dcimd_httpboot_scripts_total", "template="+"local", "outcome="+outcomeUnknown); got != 1 {
		t.Errorf("scripts_total{local,unknown} = %v", got)
	}
}

// TestScriptBaseURLAndVars: a configured base URL wins over the Host, a
// custom template sees the plan's variables, and the prefix can move.
func TestScriptBaseURLAndVars(t *testing.T) {
	tmpl := fstest.MapFS{"custom.ipxe.tmpl": {Data: []byte(
		"#!ipxe\necho {{.Vars.role}} {{.ServerID}} {{.ScriptURL}} {{.ImagesURL}} {{.PhoneHomeURL}}\n")}}
	plans := &fakePlans{plans: map[string]Plan{macLinux: {Template: "custom", ServerID: 3, Token: token,
		Vars: map[string]string{"role": "db"}}}}
	h := New(Options{Plans: plans, Templates: tmpl, BaseURL: "http://boot.test:81/", Prefix: "pxe/", Log: quiet()})
	w := get(t, h, "/pxe/"+macLinux+".ipxe")
	want := "#!ipxe\necho db 3 http://boot.test:81/pxe/52:54:00:00:00:02.ipxe http://boot.test:81/pxe/images/ " +
		"http://boot.test:81/pxe/phonehome/" + token + "\n"
	if w.Code != http.StatusOK || w.Body.String() != want {
		t.Fatalf("status %d body\n%s\nwant\n%s", w.Code, w.Body, want)
	}
}

// TestScriptMACForms: every common spelling of a MAC reaches the plan as
// the same address; anything else is refused.
func TestScriptMACForms(t *testing.T) {
	plans := testPlans()
	h := New(Options{Plans: plans, Log: quiet()})
	for _, form := range []string{"52:54:00:00:00:02", "52-54-00-00-00-02", "52:54:00:00:00:02", "5254.0000.0002",
		"525400000002", "52:54:00:00:00:02", "01-52-54-00-00-00-02"} {
		for _, s := range []string{form, strings.ToUpper(form)} {
			w := get(t, h, "/boot/"+s+".ipxe")
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "boots debian-12/linux") {
				t.Errorf("%s: status %d\n%s", s, w.Code, w.Body)
			}
		}
	}
	for _, bad := range []string{"52:54:00:00:02", "zz:54:00:00:00:02", "02:00:5e:10:00:00:00:01", "52540000000", "hello"} {
		if w := get(t, h, "/boot/"+bad+".ipxe"); w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, w.Code)
		}
	}
	for _, other := range []string{"/boot/" + macLinux, "/boot/" + macLinux + ".ipxe2", "/boot/" + macLinux + ".cfg"} {
		if w := get(t, h, other); w.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", other, w.Code)
		}
	}
	if r := httptest.NewRequest(http.MethodPost, "/boot/"+macLinux+".ipxe", nil); true {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST script: status %d", w.Code)
		}
	}
}

// TestScriptFallback: whatever goes wrong with a plan's template, the
// machine gets the local boot script and a 200, never a 500.
func TestScriptFallback(t *testing.T) {
	brokenFS := fstest.MapFS{
		"local.ipxe.tmpl":     {Data: []byte("#!ipxe\necho local {{.MAC}}\nexit\n")},
		"parse.ipxe.tmpl":     {Data: []byte("#!ipxe\n{{if}}\n")},
		"exec.ipxe.tmpl":      {Data: []byte("#!ipxe\n{{.Vars.missing}}\n")},
		"noshebang.ipxe.tmpl": {Data: []byte("echo hi\n")},
		"method.ipxe.tmpl":    {Data: []byte("#!ipxe\n{{.Nope}}\n")},
	}
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		plan Plan
		want string
	}{
		{"missing template", nil, Plan{Template: "nonexistent"}, "sanboot"},
		{"bad template name", nil, Plan{Template: "../local"}, "sanboot"},
		{"linux without a kernel", nil, Plan{Template: "linux", Initrd: "x"}, "sanboot"},
		{"line break in the cmdline", nil, Plan{Template: "linux", Kernel: "k", Initrd: "i", Cmdline: "a\nshell"}, "sanboot"},
		{"line break in a var", nil, Plan{Template: "local", Vars: map[string]string{"x": "\r"}}, "sanboot"},
		{"token not URL-safe", nil, Plan{Template: "linux", Kernel: "k", Initrd: "i", Token: "a b"}, "sanboot"},
		{"parse error", brokenFS, Plan{Template: "parse"}, "echo local 52:54:00:00:00:02"},
		{"missing var", brokenFS, Plan{Template: "exec"}, "echo local"},
		{"unknown field", brokenFS, Plan{Template: "method"}, "echo local"},
		{"no #!ipxe", brokenFS, Plan{Template: "noshebang"}, "echo local"},
		{"local itself missing", fstest.MapFS{}, Plan{Template: "linux"}, "sanboot --no-describe --drive 0x80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Plans: &fakePlans{plans: map[string]Plan{macLinux: tc.plan}}, Log: quiet()}
			if tc.fs != nil {
				o.Templates = tc.fs
			}
			h := New(o)
			w := get(t, h, "/boot/"+macLinux+".ipxe")
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "#!ipxe\n") || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("status %d, want 200 with %q:\n%s", w.Code, tc.want, w.Body)
			}
			if strings.Contains(w.Body.String(), "shell") {
				t.Fatalf("injected command in the script:\n%s", w.Body)
			}
			if got := metric(t, h, "dcimd_httpboot_scripts_total", "template="+"local", "outcome="+outcomeFallback); got != 1 {
				t.Errorf("scripts_total{local,fallback} = %v", got)
			}
		})
	}
}

// TestScriptPlanUnavailable: a failing plan lookup makes the machine wait
// and ask again, MaxRetries times, then boot locally; a not-found error
// of the domain kind counts as an unknown machine.
func TestScriptPlanUnavailable(t *testing.T) {
	plans := &fakePlans{err: errors.New("database is down")}
	h := New(Options{Plans: plans, MaxRetries: 3, RetryDelay: 5e9, Log: quiet()})
	w := get(t, h, "/boot/"+macLinux+".ipxe")
	want := "#!ipxe\necho dcimd: no boot plan for 52:54:00:00:00:02 yet (attempt 1 of 3); asking again in 5 s\n" +
		"sleep 5 ||\nchain http://198.18.0.1:8080/boot/52:54:00:00:00:02.ipxe?attempt=1 || exit\n"
	if w.Code != http.StatusOK || w.Body.String() != want {
		t.Fatalf("status %d:\n%s\nwant\n%s", w.Code, w.Body, want)
	}
	w = get(t, h, "/boot/"+macLinux+".ipxe?attempt=2")
	if !strings.Contains(w.Body.String(), "?attempt=3 ") {
		t.Fatalf("second retry:\n%s", w.Body)
	}
	w = get(t, h, "/boot/"+macLinux+".ipxe?attempt=3")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "sanboot") {
		t.Fatalf("after the last attempt: status %d\n%s", w.Code, w.Body)
	}
	if got := metric(t, h, "dcimd_httpboot_scripts_total", "template="+"retry", "outcome="+outcomeRetry); got != 2 {
		t.Errorf("retry scripts %v", got)
	}

	plans.err = fmt.Errorf("lookup: %w", fault.NotFound("server with mac", macLinux))
	w = get(t, h, "/boot/"+macLinux+".ipxe")
	if !strings.Contains(w.Body.String(), "(not in the inventory)") {
		t.Fatalf("not-found plan:\n%s", w.Body)
	}
}

// TestScriptNoPlans: without a Plans every machine boots locally.
func TestScriptNoPlans(t *testing.T) {
	w := get(t, New(Options{Log: quiet()}), "/boot/"+macLinux+".ipxe")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "sanboot") {
		t.Fatalf("status %d\n%s", w.Code, w.Body)
	}
}

// TestMetricsRegister: the handler registers as one collector and exposes
// the dcimd_httpboot_* families.
func TestMetricsRegister(t *testing.T) {
	h := New(Options{Plans: testPlans(), Log: quiet()})
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(h); err != nil {
		t.Fatal(err)
	}
	get(t, h, "/boot/"+macLinux+".ipxe")
	get(t, h, "/boot/images/nothing")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"dcimd_httpboot_scripts_total", "dcimd_httpboot_image_requests_total", "dcimd_httpboot_image_bytes_total"} {
		if !names[n] {
			t.Errorf("%s not gathered (have %v)", n, names)
		}
	}
}

// metric reads one sample of the handler's metrics: the series of name
// with exactly the labels given as "name=value".
func metric(t *testing.T, h *Handler, name string, labels ...string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(h); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(got)
			if slices.Equal(got, slices.Sorted(slices.Values(labels))) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
