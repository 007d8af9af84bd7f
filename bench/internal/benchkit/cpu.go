package benchkit

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPUSample is a point in time with this process's CPU time and the
// machine's busy and total CPU time (from /proc/stat), to tell afterwards
// whether a run was bound by the CPUs and whose.
type CPUSample struct {
	wall        time.Time
	self        time.Duration
	busy, total uint64 // clock ticks over all CPUs
}

// SampleCPU takes a sample now.
func SampleCPU() CPUSample {
	s := CPUSample{wall: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f {
			if i == 0 {
				continue
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			s.total += n
			if i != 4 && i != 5 { // idle and iowait
				s.busy += n
			}
		}
	}
	return s
}

// CPUUse is what happened between two samples: the CPUs this process kept
// busy on average (1.0 = one CPU all the time) and the machine's busy
// share of all its CPUs (0-1; the database server and anything else
// running count there).
type CPUUse struct {
	Self    float64
	Machine float64
}

// Since is the use from s until now.
func (s CPUSample) Since() CPUUse {
	e := SampleCPU()
	var u CPUUse
	if wall := e.wall.Sub(s.wall); wall > 0 {
		u.Self = float64(e.self-s.self) / float64(wall)
	}
	if t := e.total - s.total; t > 0 {
		u.Machine = float64(e.busy-s.busy) / float64(t)
	}
	return u
}
