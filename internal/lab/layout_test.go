package lab

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/config"
)

func TestLayout(t *testing.T) {
	t.Parallel()
	tests := []struct{ servers, racks, perRack int }{
		{1, 2, 1}, {3, 2, 2}, {8, 2, 4}, {40, 2, 20}, {41, 3, 14}, {200, 10, 20},
	}
	for _, tc := range tests {
		l := newLayout(tc.servers)
		if l.racks != tc.racks || l.perRack != tc.perRack {
			t.Errorf("newLayout(%d) = %d racks of %d, want %d of %d", tc.servers, l.racks, l.perRack, tc.racks, tc.perRack)
		}
		used := map[[2]int]bool{}
		for i := range tc.servers {
			r, pos := l.place(i)
			if r >= l.racks || pos < 1 || pos > l.perRack || pos > outletsPer || pos > switchPorts/2 || used[[2]int{r, pos}] {
				t.Fatalf("newLayout(%d).place(%d) = rack %d position %d", tc.servers, i, r, pos)
			}
			used[[2]int{r, pos}] = true
		}
	}
}

func TestLabConfig(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	got, err := labConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Power.PollInterval != PollInterval || got.Listen == cfg.Listen {
		t.Fatalf("labConfig: poll %v listen %s, want %v and a fixed port", got.Power.PollInterval, got.Listen, PollInterval)
	}
	cfg.Power.PollInterval = 3 * time.Second // configured: kept
	cfg.Listen = "127.0.0.1:1500"
	if got, _ := labConfig(cfg); got.Power.PollInterval != 3*time.Second || got.Listen != "127.0.0.1:1500" {
		t.Fatalf("labConfig changed a configured value: %v %s", got.Power.PollInterval, got.Listen)
	}
}

func TestRunRejectsServerCount(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, n := range []int{-1, MaxServers + 1} {
		if err := Run(context.Background(), cfg, log, io.Discard, Options{Servers: n}); err == nil {
			t.Errorf("Run with %d servers succeeded", n)
		}
	}
}

func TestHardwareInfoIsUnique(t *testing.T) {
	t.Parallel()
	serials, macs := map[string]bool{}, map[string]bool{}
	for i := 1; i <= 300; i++ {
		hw := hardwareInfo(modelFor(i-1), i)
		for _, d := range hw["disks"].([]any) {
			s := d.(map[string]any)["serial"].(string)
			if serials[s] {
				t.Fatalf("server %d: disk serial %s repeats", i, s)
			}
			serials[s] = true
		}
		for _, n := range hw["nics"].([]any) {
			m := n.(map[string]any)["mac"].(string)
			if macs[m] {
				t.Fatalf("server %d: MAC %s repeats", i, m)
			}
			macs[m] = true
		}
	}
}

func TestBaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"127.0.0.1:1500": "http://127.0.0.1:1500", "0.0.0.0:1500": "http://127.0.0.1:1500",
		"[::]:1500": "http://127.0.0.1:1500", ":1500": "http://127.0.0.1:1500", "[::1]:8080": "http://[::1]:8080"} {
		if got := baseURL(in); got != want {
			t.Errorf("baseURL(%q) = %q, want %q", in, got, want)
		}
	}
}
