package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Reap stops and removes clusters left behind by test processes that died
// without calling Stop.
//
// It looks at the directories "dcimd-pgtest-*" under os.TempDir(). A
// directory is reaped when the process recorded in its owner.pid is gone;
// if its postmaster.pid names a live postmaster serving that directory, the
// server is stopped first (pg_ctl stop -m immediate, then SIGKILL), and the
// directory is removed. Directories of live owners, directories without an
// owner.pid, and servers that cannot be stopped are left alone. Errors are
// ignored: Reap is best effort. Start calls it.
func Reap() {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	if err != nil || len(dirs) == 0 {
		return
	}
	run, err := currentRunner()
	if err != nil {
		run = &runner{}
	}
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		pid, start, ok := readOwner(dir)
		if !ok || ownerAlive(pid, start) {
			continue
		}
		if err := stopPostmaster(run, binDir(), filepath.Join(dir, "data"), 0); err != nil {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// writeOwner records this process as the owner of the cluster directory dir,
// as "<pid> <start time>", the start time being field 22 of /proc/<pid>/stat
// so that a recycled PID is not taken for the owner.
func writeOwner(dir string) error {
	pid := os.Getpid()
	rec := strconv.Itoa(pid)
	if st, err := readStat(pid); err == nil {
		rec += " " + strconv.FormatUint(st.start, 10)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFileName), []byte(rec+"\n"), 0o644); err != nil {
		return fmt.Errorf("pgtest: writing %s: %w", ownerFileName, err)
	}
	return nil
}

// readOwner reads the owner record of dir; start is 0 if not recorded.
func readOwner(dir string) (pid int, start uint64, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, ownerFileName))
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, 0, false
	}
	pid, err = strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, 0, false
	}
	if len(f) > 1 {
		start, _ = strconv.ParseUint(f[1], 10, 64)
	}
	return pid, start, true
}

// ownerAlive reports whether the process pid, started at start (if known), still runs.
func ownerAlive(pid int, start uint64) bool {
	if !alive(pid) {
		return false
	}
	if start == 0 {
		return true
	}
	st, err := readStat(pid)
	if err != nil {
		return true // cannot tell; err on the side of leaving it alone
	}
	return st.start == start
}

// stopPostmaster stops the postmaster serving dataDir, whose PID is pid or,
// if pid is 0, the one in dataDir/postmaster.pid. It returns nil once no such
// postmaster runs. A PID that now belongs to some other process is never
// signalled.
func stopPostmaster(run *runner, bin, dataDir string, pid int) error {
	if pid == 0 {
		pid = readPostmasterPID(dataDir)
	}
	if pid == 0 || !isPostmasterOf(pid, dataDir) {
		return nil
	}

	// The polite way: pg_ctl sends SIGQUIT (immediate shutdown) and waits.
	pgctl := filepath.Join(bin, "pg_ctl")
	if _, err := os.Stat(pgctl); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout+5*time.Second)
		_, _ = run.output(ctx, filepath.Dir(dataDir), pgctl,
			"stop", "-D", dataDir, "-m", "immediate", "-w", "-t", strconv.Itoa(int(stopTimeout.Seconds())), "-s")
		cancel()
	} else {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	}
	if waitDead(pid, stopTimeout) {
		return nil
	}

	// Still there: kill it and whatever children it has.
	children := childrenOf(pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("pgtest: killing postmaster %d: %w", pid, err)
	}
	for _, child := range children {
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
	if !waitDead(pid, 5*time.Second) {
		return fmt.Errorf("pgtest: postmaster %d of %s does not die", pid, dataDir)
	}
	return nil
}

// readPostmasterPID returns the PID on the first line of dataDir/postmaster.pid, or 0.
func readPostmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// isPostmasterOf reports whether pid is a live process serving dataDir:
// its working directory is dataDir (the postmaster chdirs there) or its
// command line names dataDir.
func isPostmasterOf(pid int, dataDir string) bool {
	if !alive(pid) {
		return false
	}
	want := dataDir
	if abs, err := filepath.Abs(want); err == nil {
		want = abs
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil {
		if cwd == want || cwd == dataDir {
			return true
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == dataDir || arg == want {
				return true
			}
		}
	}
	return false
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if st, err := readStat(pid); err == nil && st.state == 'Z' {
		return false
	}
	return true
}

// waitDead waits up to d for process pid to go away and reports whether it did.
func waitDead(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// procStat is the part of /proc/<pid>/stat we use.
type procStat struct {
	state byte
	ppid  int
	start uint64 // clock ticks after boot
}

// readStat parses /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("pgtest: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("pgtest: malformed /proc/%d/stat", pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("pgtest: malformed /proc/%d/stat: %w", pid, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("pgtest: malformed /proc/%d/stat: %w", pid, err)
	}
	return procStat{state: f[0][0], ppid: ppid, start: start}, nil
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(n); err == nil && st.ppid == pid {
			kids = append(kids, n)
		}
	}
	return kids
}
