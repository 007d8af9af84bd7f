// Package dbtest opens migrated test databases of both dialects, so one
// test body runs on SQLite and on a real PostgreSQL.
package dbtest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

// Dialects are the databases every storage test runs on.
var Dialects = []string{"sqlite", "postgres"}

// Box returns a fresh credentials box.
func Box(t testing.TB) *secret.Box {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	b, err := secret.NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// URL returns the database URL for a dialect: "" (SQLite) or a fresh
// PostgreSQL database; with it, SQLitePath for SQLite.
func URL(t testing.TB, dialect string) (url, sqlitePath string) {
	if dialect == "postgres" {
		return pgtest.URL(t), ""
	}
	return "", filepath.Join(t.TempDir(), "dcimd.db")
}

// Open returns a migrated, empty database of the dialect, closed at cleanup.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	url, path := URL(t, dialect)
	db, err := store.Open(context.Background(), store.Options{URL: url, SQLitePath: path, Box: Box(t)})
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return db
}

// Each runs fn as a subtest on every dialect.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { fn(t, Open(t, d)) })
	}
}
