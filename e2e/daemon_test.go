package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for /healthz (a -race binary migrating a
	// fresh database is slow on a loaded machine).
	startTimeout = 60 * time.Second
	// stopTimeout bounds the wait for exit after SIGTERM, before SIGKILL.
	stopTimeout = 30 * time.Second
	// cmdTimeout bounds one-shot commands (migrate, user create, ...).
	cmdTimeout = 60 * time.Second
	// tailLines of each output file are printed when a test fails.
	tailLines = 40
)

// config is how one dcimd process is started.
type config struct {
	dataDir       string // required; reuse it to restart on the same data
	databaseURL   string // empty: SQLite in dataDir
	adminEmail    string // empty: not set
	adminPassword string // empty: not set, so a password is generated and printed
	env           []string
}

// environ is the child's environment: ours without any DCIMD_ variable
// (a developer's own settings must not leak in), plus cfg's.
func (cfg config) environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DCIMD_") {
			env = append(env, kv)
		}
	}
	env = append(env, "DCIMD_DATA_DIR="+cfg.dataDir, "DCIMD_DATABASE_URL="+cfg.databaseURL, "DCIMD_LOG_LEVEL=debug")
	if raceEnabled && os.Getenv("GORACE") == "" {
		// A -race binary sleeps 1s at exit by default; races still fail it (exit code 66).
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	if cfg.adminEmail != "" {
		env = append(env, "DCIMD_ADMIN_EMAIL="+cfg.adminEmail)
	}
	if cfg.adminPassword != "" {
		env = append(env, "DCIMD_ADMIN_PASSWORD="+cfg.adminPassword)
	}
	if dir := coverDir(); dir != "" {
		env = append(env, "GOCOVERDIR="+dir)
	}
	env = append(env, cfg.env...)
	return append(env, extra...)
}

// daemon is one running `dcimd serve`.
type daemon struct {
	t          *testing.T
	url        string // http://127.0.0.1:port
	cmd        *exec.Cmd
	stdoutPath string
	stderrPath string
	done       chan struct{} // closed when the process has been reaped
	stopped    bool
}

// runCounter numbers output files so restarts keep the earlier ones.
var runCounter atomic.Int64

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// may take it before dcimd binds it; startDaemon retries in that case.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDaemon runs `dcimd serve` with cfg, waits until GET /healthz answers
// 200, and stops it with SIGTERM in t.Cleanup, checking exit code 0.
func startDaemon(t *testing.T, cfg config) *daemon {
	t.Helper()
	for attempt := 1; ; attempt++ {
		d, err := tryStart(t, cfg)
		if err == nil {
			return d
		}
		if attempt < 3 && strings.Contains(d.tail(d.stderrPath), "address already in use") {
			t.Logf("port was taken, retrying: %v", err)
			continue
		}
		t.Fatalf("dcimd serve did not start: %v\n%s", err, d.tails())
	}
}

func tryStart(t *testing.T, cfg config) (*daemon, error) {
	logDir := t.TempDir()
	n := runCounter.Add(1)
	d := &daemon{t: t, done: make(chan struct{}),
		stdoutPath: filepath.Join(logDir, fmt.Sprintf("serve-%d.stdout", n)),
		stderrPath: filepath.Join(logDir, fmt.Sprintf("serve-%d.stderr", n))}
	stdout, err := os.Create(d.stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(d.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	d.url = "http://" + addr
	d.cmd = exec.Command(binPath, "serve")
	d.cmd.Env = cfg.environ("DCIMD_LISTEN=" + addr)
	d.cmd.Stdout, d.cmd.Stderr = stdout, stderr
	// If the test binary dies, the daemon goes with it.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		t.Fatal(err)
	}
	go func() {
		_ = d.cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(d.done)
	}()
	t.Cleanup(d.cleanup)

	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-d.done:
			d.stopped = true
			return d, fmt.Errorf("dcimd exited early with code %d", d.cmd.ProcessState.ExitCode())
		default:
		}
		resp, err := hc.Get(d.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			return d, fmt.Errorf("GET /healthz did not answer 200 within %s (last error: %v)", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM to the daemon's PID and waits for it to exit; after
// stopTimeout it sends SIGKILL. It returns the exit code.
func (d *daemon) stop() (int, error) {
	if d.stopped {
		return d.cmd.ProcessState.ExitCode(), nil
	}
	d.stopped = true
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, fmt.Errorf("SIGTERM to pid %d: %w", d.cmd.Process.Pid, err)
	}
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode(), nil
	case <-time.After(stopTimeout):
	}
	_ = d.cmd.Process.Kill() // SIGKILL to the same PID
	<-d.done
	return -1, fmt.Errorf("pid %d did not exit within %s of SIGTERM; killed", d.cmd.Process.Pid, stopTimeout)
}

// stopOK stops the daemon and fails the test unless it exited with code 0.
func (d *daemon) stopOK() {
	d.t.Helper()
	code, err := d.stop()
	if err != nil {
		d.t.Errorf("graceful stop: %v", err)
		return
	}
	if code != 0 {
		d.t.Errorf("dcimd exited with code %d after SIGTERM, want 0", code)
	}
}

func (d *daemon) cleanup() {
	if !d.stopped {
		d.stopOK()
	}
	if d.t.Failed() {
		d.t.Logf("dcimd %s output:\n%s", d.url, d.tails())
	}
}

// stdout is everything the daemon printed on stdout so far.
func (d *daemon) stdout() string {
	b, err := os.ReadFile(d.stdoutPath)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(b)
}

// stderr is everything the daemon logged so far.
func (d *daemon) stderr() string {
	b, err := os.ReadFile(d.stderrPath)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(b)
}

func (d *daemon) tails() string {
	return "--- stdout (" + d.stdoutPath + ") ---\n" + d.tail(d.stdoutPath) +
		"--- stderr (" + d.stderrPath + ") ---\n" + d.tail(d.stderrPath)
}

// tail is the last tailLines lines of a file.
func (d *daemon) tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	return lastLines(string(b), tailLines)
}

func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "")
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

// result is the outcome of a one-shot dcimd command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout ---\n%s--- stderr ---\n%s", r.code,
		lastLines(r.stdout, tailLines), lastLines(r.stderr, tailLines))
}

// runDcimd runs the binary with args and cfg's environment to completion.
func runDcimd(t *testing.T, cfg config, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = cfg.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("dcimd %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("dcimd %s did not finish within %s\n%s", strings.Join(args, " "), cmdTimeout, r)
	}
	return r
}
