package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestReapOrphan(t *testing.T) {
	if ok, why := Available(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL required under CI=true: %s", why)
		}
		t.Skip(why)
	}
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	if !alive(c.pid) || !isPostmasterOf(c.pid, c.dataDir) {
		t.Fatalf("postmaster %d not found running in %s", c.pid, c.dataDir)
	}

	// Pretend the owner died: hand the cluster to a process that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(c.dir, ownerFileName), []byte(strconv.Itoa(dead)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A live owner's cluster must survive.
	other, err := Start() // calls Reap
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	if alive(c.pid) {
		t.Fatalf("orphaned postmaster %d survived Reap", c.pid)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("orphaned dir %s not removed: %v", c.dir, err)
	}
	Reap()
	if !alive(other.pid) {
		t.Fatal("Reap stopped a cluster whose owner is alive")
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop of a reaped cluster: %v", err)
	}
}

func TestIsPostmasterOfRejectsStrangers(t *testing.T) {
	if isPostmasterOf(os.Getpid(), filepath.Join(t.TempDir(), "data")) {
		t.Fatal("our own process taken for a postmaster")
	}
	if alive(0) || alive(-1) {
		t.Fatal("alive() true for non-PIDs")
	}
}
