// Package store keeps dcimd's state in SQLite or PostgreSQL through gorm and
// implements the repositories that the domain packages declare.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/migrations"
)

// Options say which database to open and how.
type Options struct {
	// URL is a postgres:// URL; empty means SQLite at SQLitePath.
	URL          string
	SQLitePath   string
	MaxOpenConns int
	BusyTimeout  time.Duration
	Box          *secret.Box // seals device credentials
	Log          *slog.Logger
}

// DB is an open database.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect listq.Dialect
	box     *secret.Box
	log     *slog.Logger
	queries *queryCounter
	opts    Options
}

// Open connects to the database (creating the SQLite file and its folder).
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = 20
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	qc := &queryCounter{}
	cfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var dial gorm.Dialector
	d := &DB{box: o.Box, log: o.Log, queries: qc, opts: o}
	if o.URL == "" {
		if err := os.MkdirAll(filepath.Dir(o.SQLitePath), 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		dial = sqlite.Open(sqliteDSN(o))
		d.dialect = listq.DialectSQLite
	} else {
		dial = postgres.New(postgres.Config{DSN: o.URL})
		d.dialect = listq.DialectPostgres
	}
	g, err := gorm.Open(dial, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", redactURL(err, o.URL))
	}
	if err := g.Callback().Query().Before("gorm:query").Register("dcimd:count", qc.count); err != nil {
		return nil, err
	}
	if err := g.Callback().Row().Before("gorm:row").Register("dcimd:count", qc.count); err != nil {
		return nil, err
	}
	if err := g.Callback().Raw().Before("gorm:raw").Register("dcimd:count", qc.count); err != nil {
		return nil, err
	}
	if err := g.Callback().Row().After("gorm:row").Register("dcimd:translate", translateRowErr); err != nil {
		return nil, err
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(o.MaxOpenConns)
	sqlDB.SetMaxIdleConns(o.MaxOpenConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", redactURL(err, o.URL))
	}
	d.gorm, d.sql = g, sqlDB
	return d, nil
}

// sqliteDSN opens the file in WAL mode with a busy timeout, foreign keys
// on, and write transactions that take the lock at BEGIN (no upgrade
// deadlocks between readers turning writers).
func sqliteDSN(o Options) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	return "file:" + o.SQLitePath + "?" + q.Encode()
}

// redactURL keeps a password in a database URL out of error texts.
func redactURL(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return errors.New(strings.ReplaceAll(err.Error(), p, "********"))
	}
	return err
}

// Dialect tells which SQL dialect this database speaks.
func (d *DB) Dialect() listq.Dialect { return d.dialect }

// IsPostgres reports a PostgreSQL database.
func (d *DB) IsPostgres() bool { return d.dialect == listq.DialectPostgres }

// SQL exposes the connection pool (for the job runner and health checks).
func (d *DB) SQL() *sql.DB { return d.sql }

// Ping checks the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// Close closes the pool.
func (d *DB) Close() error { return d.sql.Close() }

// QueryCount reports how many read queries ran so far (for tests that check
// a request makes a bounded number of queries).
func (d *DB) QueryCount() int64 { return d.queries.n.Load() }

func (d *DB) migrator(ctx context.Context) (*goose.Provider, error) {
	dir, dialect := "sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if d.IsPostgres() {
		dir, dialect = "postgres", goose.DialectPostgres
		// Replicas starting together migrate one at a time.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, d.sql, sub, opts...)
}

// Migrate applies every pending migration.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	p, err := d.migrator(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var done []string
	for _, r := range res {
		done = append(done, r.Source.Path)
	}
	return done, nil
}

// MigrationStatus describes one migration.
type MigrationStatus struct {
	Version   int64
	Source    string
	Applied   bool
	AppliedAt time.Time
}

// Status lists migrations and whether each is applied.
func (d *DB) Status(ctx context.Context) ([]MigrationStatus, error) {
	p, err := d.migrator(ctx)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{Version: s.Source.Version, Source: s.Source.Path,
			Applied: s.State == goose.StateApplied, AppliedAt: s.AppliedAt})
	}
	return out, nil
}

// Down rolls back the last migration (for tests of the down path).
func (d *DB) Down(ctx context.Context) error {
	p, err := d.migrator(ctx)
	if err != nil {
		return err
	}
	_, err = p.Down(ctx)
	return err
}
