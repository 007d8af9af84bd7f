package storetest

import (
	"context"
	"testing"

	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// openEmpty opens a database of the dialect without migrating it.
func openEmpty(t *testing.T, dialect string) (db *store.DB, url, path string) {
	t.Helper()
	url, path = dbtest.URL(t, dialect)
	db = openAt(t, url, path)
	return db, url, path
}

func openAt(t *testing.T, url, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{URL: url, SQLitePath: path, Box: dbtest.Box(t)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// applied counts applied migrations and fails on an empty list.
func applied(t *testing.T, db *store.DB) (done, total int) {
	t.Helper()
	st, err := db.Status(context.Background())
	if err != nil || len(st) == 0 {
		t.Fatalf("status: %d migrations, %v", len(st), err)
	}
	for _, s := range st {
		if s.Applied {
			done++
		}
	}
	return done, len(st)
}

// migrateRoundTrip: empty → head, every step down to zero, head again, and
// a second Migrate that does nothing.
func migrateRoundTrip(t *testing.T, dialect string) {
	ctx := context.Background()
	db, _, _ := openEmpty(t, dialect)
	if done, _ := applied(t, db); done != 0 {
		t.Fatalf("fresh database reports %d applied migrations", done)
	}
	ran, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	done, total := applied(t, db)
	if done != total || len(ran) != total {
		t.Fatalf("after migrate: %d of %d applied, %d run", done, total, len(ran))
	}
	usable(t, db, "first")

	for i := range total {
		if err := db.Down(ctx); err != nil {
			t.Fatalf("down step %d: %v", i+1, err)
		}
		if done, _ := applied(t, db); done != total-i-1 {
			t.Fatalf("after %d down steps %d migrations still applied", i+1, done)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `SELECT 1 FROM servers`); err == nil {
		t.Fatal("servers table still exists after migrating down to zero")
	}

	if ran, err = db.Migrate(ctx); err != nil || len(ran) != total {
		t.Fatalf("migrate after down: %d run, %v", len(ran), err)
	}
	usable(t, db, "second")
	if ran, err = db.Migrate(ctx); err != nil || len(ran) != 0 {
		t.Fatalf("migrate at head ran %v, err %v; want nothing", ran, err)
	}
	if done, total := applied(t, db); done != total {
		t.Fatalf("after the idempotent migrate: %d of %d applied", done, total)
	}
}

// usable writes and reads one object through a repository.
func usable(t *testing.T, db *store.DB, tag string) {
	t.Helper()
	l := server.Location{Name: "migrated-" + tag}
	if err := db.Inventory().Locations.Create(context.Background(), &l); err != nil {
		t.Fatalf("create after migrate: %v", err)
	}
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	migrateRoundTrip(t, "sqlite")
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	migrateRoundTrip(t, "postgres")
}

// TestMigratePostgresConcurrent: three replicas migrating one fresh database
// at once are serialised by the session lock; each migration runs once.
func TestMigratePostgresConcurrent(t *testing.T) {
	t.Parallel()
	first, url, _ := openEmpty(t, "postgres")
	dbs := []*store.DB{first, openAt(t, url, ""), openAt(t, url, "")}
	ran := make([]int, len(dbs))
	errs := concurrently(len(dbs), func(i int) error {
		r, err := dbs[i].Migrate(context.Background())
		ran[i] = len(r)
		return err
	})
	sum := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: migrate: %v", i, err)
		}
		sum += ran[i]
	}
	done, total := applied(t, first)
	if done != total || sum != total {
		t.Fatalf("%d of %d migrations applied, %d runs in all; want every migration run exactly once", done, total, sum)
	}
	usable(t, dbs[2], "concurrent")
}
