package bmcsim_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/power"
)

// TestFleetOf200 starts 200 BMCs, reads and resets each through the
// driver, and logs what the fleet costs.
func TestFleetOf200(t *testing.T) {
	const n = 200
	if testing.Short() {
		t.Skip("starts 200 BMCs")
	}
	settle := func() (int, uint64) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapAlloc
	}
	g0, h0 := settle()
	start := time.Now()
	f, err := bmcsim.StartFleet(context.Background(), n, bmcsim.Options{PowerOn: true})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	g1, h1 := settle()
	t.Logf("%d BMCs started in %v: %d goroutines (%.1f per BMC), %.1f KiB heap per BMC",
		n, took.Round(time.Millisecond), g1-g0, float64(g1-g0)/n, float64(h1-h0)/1024/n)

	ports := map[int]bool{}
	for _, b := range f.All() {
		ports[b.Port()] = true
	}
	if len(ports) != n {
		t.Fatalf("%d distinct ports for %d BMCs", len(ports), n)
	}

	pool := newPool(t)
	ctx := context.Background()
	start = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, b := range f.All() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := pool.BMC(driverConfig(b, "lanplus"))
			if err := d.Reset(ctx); err != nil {
				errs <- err
				return
			}
			if st, err := d.State(ctx); err != nil || st != power.On {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("power reset of %d BMCs through the driver, in parallel: %v", n, time.Since(start).Round(time.Millisecond))
	want := bmcsim.Counters{Reset: n, Sessions: n}
	if got := f.Totals(); got != want {
		t.Fatalf("totals = %+v, want %+v", got, want)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > g0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > g0 {
		t.Fatalf("goroutines: %d before the fleet, %d after Close", g0, g)
	}
}
