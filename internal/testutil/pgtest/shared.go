package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// shared is the process-wide cluster behind Shared and URL.
var shared struct {
	mu      sync.Mutex
	started bool // Start has been tried (successfully or not)
	c       *Cluster
	err     error
}

// Shared returns a process-wide cluster started on first use (sync.Once) so one test binary starts one cluster;
// StopShared stops it (call from TestMain after m.Run()).
//
// A failure to start is remembered and returned by later calls too. After
// StopShared, the next call starts a new cluster.
func Shared() (*Cluster, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.c, shared.err = Start()
		shared.started = true
	}
	return shared.c, shared.err
}

// StopShared stops the cluster started by Shared, if any. Call it from
// TestMain after m.Run(); errors are printed to stderr.
func StopShared() {
	shared.mu.Lock()
	c := shared.c
	shared.c, shared.err, shared.started = nil, nil, false
	shared.mu.Unlock()
	if c != nil {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping shared cluster: %v\n", err)
		}
	}
}

// URL gives a fresh database for the test t in the shared cluster, dropped in t.Cleanup.
// If PostgreSQL binaries are missing: under CI=true (env CI == "true") t.Fatalf with the reason; otherwise t.Skipf saying why.
//
// A cluster that exists but fails to start is always a t.Fatalf.
func URL(t testing.TB) string {
	t.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: PostgreSQL is required when CI=true: %s", why)
		}
		t.Skipf("pgtest: skipping, PostgreSQL is not available: %s", why)
	}
	c, err := Shared()
	if err != nil {
		t.Fatalf("pgtest: starting the shared PostgreSQL cluster: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, url, err := c.newDatabase(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.dropDatabase(ctx, name); err != nil && !errors.Is(err, errStopped) {
			t.Errorf("%v", err)
		}
	})
	return url
}
