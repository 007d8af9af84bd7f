package pgtest_test

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// requirePG skips (or, under CI=true, fails) when PostgreSQL is missing.
func requirePG(t *testing.T) {
	t.Helper()
	if ok, why := pgtest.Available(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL required under CI=true: %s", why)
		}
		t.Skip(why)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(url, "?sslmode=disable") {
		t.Fatalf("unexpected URL shape %q", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tableExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var exists bool
	err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists)
	if err != nil {
		t.Fatalf("to_regclass: %v", err)
	}
	return exists
}

func TestSharedTwoDatabases(t *testing.T) {
	requirePG(t)
	start := time.Now()
	c, err := pgtest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shared cluster ready in %v (includes Reap)", time.Since(start))
	if again, err := pgtest.Shared(); err != nil || again != c {
		t.Fatalf("Shared() again = %p, %v; want %p", again, err, c)
	}

	ctx := context.Background()
	urlA, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	urlB, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if urlA == urlB {
		t.Fatalf("two databases with the same URL %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)

	if _, err := a.Exec(ctx, "CREATE TABLE widgets (id bigint PRIMARY KEY, name text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "INSERT INTO widgets VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	if !tableExists(t, a, "widgets") {
		t.Fatal("widgets missing from the database it was created in")
	}
	if tableExists(t, b, "widgets") {
		t.Fatal("widgets visible in the other database")
	}
	if _, err := a.Exec(ctx, "DROP TABLE widgets"); err != nil {
		t.Fatal(err)
	}
	if tableExists(t, a, "widgets") {
		t.Fatal("widgets still there after DROP")
	}

	var listen string
	if err := a.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q, %v", listen, err)
	}
	for setting, want := range map[string]string{
		"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
	} {
		var got string
		if err := a.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", setting, got, err, want)
		}
	}
}

func TestStartStopTwice(t *testing.T) {
	requirePG(t)
	start := time.Now()
	c, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start took %v", time.Since(start))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			c.Stop()
		}
	})

	ctx := context.Background()
	url, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	begin := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatalf("first Stop: %v", err)
	}
	stopped = true
	t.Logf("Stop took %v", time.Since(begin))
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := c.NewDatabase(ctx); err == nil {
		t.Fatal("NewDatabase after Stop succeeded")
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(cctx, url); err == nil {
		conn.Close(ctx)
		t.Fatal("server still accepts connections after Stop")
	}
}

func TestURL(t *testing.T) {
	requirePG(t)
	var inner string
	t.Run("inner", func(t *testing.T) {
		inner = pgtest.URL(t)
		conn := connect(t, inner)
		var db string
		if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(inner, "/"+db+"?sslmode=disable") {
			t.Fatalf("connected to %q via %q", db, inner)
		}
		// Leave the connection open: the cleanup must still drop the database.
	})
	name := inner[strings.LastIndex(inner, "/")+1 : strings.Index(inner, "?")]

	conn := connect(t, pgtest.URL(t))
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s not dropped by the cleanup of its test", name)
	}
}

func TestURLParallel(t *testing.T) {
	requirePG(t)
	for i := range 8 {
		t.Run("p", func(t *testing.T) {
			t.Parallel()
			conn := connect(t, pgtest.URL(t))
			if _, err := conn.Exec(context.Background(), "CREATE TABLE t (i int)"); err != nil {
				t.Fatalf("%d: %v", i, err)
			}
		})
	}
}

// fakeTB records Skipf/Fatalf instead of acting on the real test.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = format
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = format
	runtime.Goexit()
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv("DCIMD_TEST_PG_BIN", t.TempDir())
	ok, why := pgtest.Available()
	if ok || !strings.Contains(why, "initdb") {
		t.Fatalf("Available() = %v, %q", ok, why)
	}
	if _, err := pgtest.Start(); err == nil || !strings.Contains(err.Error(), "initdb") {
		t.Fatalf("Start() error = %v", err)
	}
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			pgtest.URL(f)
		}()
		<-done
		if ci == "true" && (f.fatal == "" || f.skipped != "") {
			t.Errorf("CI=true: want Fatalf, got fatal=%q skipped=%q", f.fatal, f.skipped)
		}
		if ci != "true" && (f.skipped == "" || f.fatal != "") {
			t.Errorf("CI unset: want Skipf, got fatal=%q skipped=%q", f.fatal, f.skipped)
		}
	}
}
