// Package e2e runs the real dcimd binary as a child process and talks to it
// over HTTP on 127.0.0.1 the way billing clients do, on the embedded SQLite
// database and on a throwaway PostgreSQL cluster.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

// testVersion is stamped into the binary, for `dcimd version`.
const testVersion = "e2e-test"

// binPath is the dcimd binary built once by TestMain.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dcimd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "dcimd")
	if err := build(binPath); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building dcimd:", err)
		return 1
	}
	code := m.Run()
	pgtest.StopShared()
	return code
}

// build compiles ./cmd/dcimd from the module root into out.
func build(out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out, "-ldflags", "-X github.com/dcimd/dcimd/internal/app.Version=" + testVersion}
	if raceEnabled {
		args = append(args, "-race")
	}
	if coverDir() != "" {
		args = append(args, "-cover", "-coverpkg=github.com/dcimd/dcimd/...")
	}
	cmd := exec.Command("go", append(args, "./cmd/dcimd")...)
	cmd.Dir = root
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, outBuf.String())
	}
	return nil
}

// coverDir, from DCIMD_E2E_COVERDIR, asks for a coverage-instrumented
// binary writing its counters there (read them with go tool covdata).
func coverDir() string { return os.Getenv("DCIMD_E2E_COVERDIR") }

// moduleRoot is the directory of go.mod: from `go env GOMOD`, else "..".
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the module root: %w", err)
	}
	return root, nil
}
