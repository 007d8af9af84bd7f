// Package netns holds what tests need around the network namespaces they
// create: running code inside one, and stopping a client that daemonized
// itself inside one.
package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread switched into namespace ns (as made by
// `ip netns add`). The thread is never unlocked: the runtime ends it with
// the goroutine, so no other goroutine ever runs in ns. Sockets fn opens
// keep the namespace for their whole life.
func Do(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// KillPIDFile stops a daemonized process by the PID it wrote to path:
// SIGTERM, then SIGKILL after a second. dhclient's background child writes
// the file after its parent has exited, so the file is waited for (at most
// 3 s) instead of being read once.
func KillPIDFile(path string) {
	pid := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 1 {
			pid = n
			break
		}
	}
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 50 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
