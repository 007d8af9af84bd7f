package netsw

import (
	"testing"
	"time"
)

func TestDelta(t *testing.T) {
	at := time.Unix(1000, 0)
	prev := CounterState{In: 1000, Uptime: time.Hour, At: at}
	nearWrap := CounterState{In: 1<<64 - 100, Uptime: time.Hour, At: at}
	oldAgent := CounterState{In: 1000, Uptime: uptimeWrap - time.Minute, At: at}
	for _, c := range []struct {
		name   string
		prev   CounterState
		cur    uint64
		uptime time.Duration
		want   uint64
	}{
		{"first reading is a baseline", CounterState{}, 5000, time.Hour, 0},
		{"counter went up", prev, 1500, 2 * time.Hour, 500},
		{"no traffic", prev, 1000, 2 * time.Hour, 0},
		{"64-bit wrap", nearWrap, 50, 2 * time.Hour, 150},
		{"agent restarted, counted since", prev, 300, time.Minute, 300},
		{"agent restarted and counted past the old value", prev, 5000, time.Minute, 5000},
		{"sysUpTime wrapped after 497 days, no restart", oldAgent, 1700, time.Minute, 700},
		{"counter reset without restart", prev, 40, 2 * time.Hour, 40},
	} {
		if got := Delta(c.prev, c.prev.In, c.cur, c.uptime); got != c.want {
			t.Errorf("%s: Delta = %d, want %d", c.name, got, c.want)
		}
	}
}
