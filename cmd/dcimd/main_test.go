package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines and the test.
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

// isolate points the configuration at a fresh data dir and clears every
// other DCIMD_ variable of the developer's environment.
func isolate(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "DCIMD_") {
			t.Setenv(k, "")
		}
	}
	dir := t.TempDir()
	t.Setenv("DCIMD_DATA_DIR", dir)
	t.Setenv("DCIMD_LISTEN", "127.0.0.1:0")
	return dir
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// oneLine checks that a failure is reported in exactly one line, the last
// one on stderr (commands that open the database may log before it).
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "dcimd: ") || strings.Count(s, "dcimd: ") != 1 {
		t.Errorf("%s: want one error line \"dcimd: ...\" ending stderr, got %q", what, s)
	}
}

func TestVersion(t *testing.T) {
	isolate(t)
	code, out, _ := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "dcimd ") {
		t.Fatalf("version: code %d, stdout %q", code, out)
	}
}

func TestFailuresAreOneLine(t *testing.T) {
	writeConfig := func(body string) string {
		p := filepath.Join(t.TempDir(), "dcimd.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"unknown flag", nil, []string{"serve", "--no-such-flag"}, "no-such-flag"},
		{"extra argument", nil, []string{"migrate", "now"}, "now"},
		{"bad listen", map[string]string{"DCIMD_LISTEN": "nonsense"}, []string{"serve"}, "listen"},
		{"unknown key", nil, []string{"serve", "--config", writeConfig("colour: red\n")}, `"colour"`},
		{"unknown key, several", nil, []string{"migrate", "--config", writeConfig("a: 1\nlog:\n  b: 2\n")}, `"a"`},
		{"bad log.format", nil, []string{"serve", "--config", writeConfig("log:\n  format: xml\n")}, "log.format"},
		{"user create without email", nil, []string{"user", "create", "--password", "longpass1"}, "--email"},
		{"user create with a bad role", nil, []string{"user", "create", "--email", "a@example.com", "--password", "longpass1",
			"--role", "root"}, "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runCmd(t, tt.args...)
			if code == 0 {
				t.Fatalf("%v succeeded; stdout %q", tt.args, out)
			}
			oneLine(t, tt.name, errOut)
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not name %q", errOut, tt.want)
			}
		})
	}
}

func TestMigrateAndUserCreate(t *testing.T) {
	isolate(t)
	if code, out, errOut := runCmd(t, "migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runCmd(t, "migrate", "status")
	if code != 0 || !strings.Contains(out, "applied") || strings.Contains(out, "pending") {
		t.Fatalf("migrate status: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "user", "create", "--email", "ops@example.com", "--password", "longpass1", "--role", "admin")
	if code != 0 || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "@admin") {
		t.Fatalf("user create: code %d\n%s\n%s", code, out, errOut)
	}
	t.Setenv("DCIMD_USER_PASSWORD", "from-the-env")
	code, out, errOut = runCmd(t, "user", "create", "--email", "env@example.com")
	if code != 0 || !strings.Contains(out, "env@example.com (@user)") {
		t.Fatalf("user create with the password from DCIMD_USER_PASSWORD: code %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runCmd(t, "user", "create", "--email", "ops@example.com", "--password", "longpass1")
	if code == 0 {
		t.Fatal("creating the same user twice succeeded")
	}
	oneLine(t, "duplicate user", errOut)
}

var listening = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// TestServeStopsOnCancel runs the daemon in-process (under -race, this
// covers the shutdown path) and ends it as SIGTERM does: through ctx.
func TestServeStopsOnCancel(t *testing.T) {
	isolate(t)
	t.Setenv("DCIMD_ADMIN_PASSWORD", "admin-password-1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, &out, &errOut) }()

	var base string
	deadline := time.Now().Add(30 * time.Second)
	for base == "" {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve ended early with code %d\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not print its address\n%s\n%s", out.String(), errOut.String())
		}
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	if !strings.Contains(out.String(), "created admin login: admin@example.com (password from the configuration)") {
		t.Errorf("no admin banner:\n%s", out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve ended with code %d after cancel, want 0\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancel")
	}
	if !strings.Contains(errOut.String(), "database closed") {
		t.Errorf("shutdown did not close the database:\n%s", errOut.String())
	}
}
