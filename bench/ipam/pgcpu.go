package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clkTck is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clkTck = 100

// dbCPU reads the CPU time the database server has used so far: on
// PostgreSQL the postmaster of our cluster and all its processes
// (backends, River's connections, background workers), including children
// that have exited; zero on SQLite, which runs inside this process.
type dbCPU struct{ postmaster int }

func newDBCPU(ctx context.Context, rg *rig) dbCPU {
	if !rg.db.IsPostgres() {
		return dbCPU{}
	}
	var backend int
	if err := rg.db.SQL().QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return dbCPU{}
	}
	return dbCPU{postmaster: ppid(backend)}
}

// used is the cluster's CPU time so far (0 when unknown).
func (c dbCPU) used() time.Duration {
	if c.postmaster <= 0 {
		return 0
	}
	var ticks uint64
	if f := statFields(c.postmaster); len(f) > 16 {
		for _, i := range []int{13, 14, 15, 16} { // utime, stime, cutime, cstime
			ticks += atou(f[i])
		}
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if f := statFields(pid); len(f) > 14 && atoi(f[3]) == c.postmaster {
			ticks += atou(f[13]) + atou(f[14])
		}
	}
	return time.Duration(ticks) * time.Second / clkTck
}

// statFields are the fields of /proc/<pid>/stat after the command name,
// numbered as in proc(5) from 0 (field 3, the state, is index 2).
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{"pid", "comm"}, strings.Fields(s[i+1:])...)
}

func ppid(pid int) int {
	if f := statFields(pid); len(f) > 3 {
		return atoi(f[3])
	}
	return 0
}

func atoi(s string) int    { n, _ := strconv.Atoi(s); return n }
func atou(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
