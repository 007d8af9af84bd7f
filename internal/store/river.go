package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/task"
)

// RunnerOptions configure the job runner.
type RunnerOptions struct {
	Workers      *river.Workers
	MaxWorkers   int           // concurrent tasks per process
	FetchPoll    time.Duration // how often idle workers look for jobs
	RescueAfter  time.Duration // a job running longer is presumed dead and retried
	PeriodicJobs []*river.PeriodicJob
	Log          *slog.Logger
}

// Runner is River on this database, and implements task.Queue.
type Runner struct {
	enqueue func(ctx context.Context, t *task.Task, opt task.JobOptions) error
	cancel  func(ctx context.Context, jobID int64) error
	start   func(ctx context.Context) error
	stop    func(ctx context.Context) error
	close   func()
}

// Enqueue inserts the task row and its job in one transaction.
func (r *Runner) Enqueue(ctx context.Context, t *task.Task, opt task.JobOptions) error {
	return r.enqueue(ctx, t, opt)
}

// CancelJob cancels a job, stopping it if it runs.
func (r *Runner) CancelJob(ctx context.Context, jobID int64) error { return r.cancel(ctx, jobID) }

// Start starts working jobs.
func (r *Runner) Start(ctx context.Context) error { return r.start(ctx) }

// Stop waits for running jobs (until ctx ends, then cancels them; they are
// retried later and resume from their last completed step) and closes.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.stop(ctx)
	r.close()
	return err
}

const insertTask = `INSERT INTO tasks (name, server_id, exclusive, status, progress, steps, params, result, created_by, created_at, updated_at)
VALUES (%s) RETURNING id`

func taskValues(t *task.Task) ([]any, error) {
	steps, err := jsonText(t.Steps)
	if err != nil {
		return nil, err
	}
	params, err := jsonText(orEmptyMap(t.Params))
	if err != nil {
		return nil, err
	}
	return []any{t.Name, t.ServerID, t.Exclusive, string(t.Status), t.Progress, steps, params, "{}", t.CreatedBy,
		t.CreatedAt.UTC(), t.UpdatedAt.UTC()}, nil
}

func riverConfig(o RunnerOptions) *river.Config {
	if o.MaxWorkers == 0 {
		o.MaxWorkers = 50
	}
	if o.FetchPoll == 0 {
		o.FetchPoll = 200 * time.Millisecond
	}
	if o.RescueAfter == 0 {
		o.RescueAfter = time.Hour
	}
	return &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.MaxWorkers}},
		Workers:              o.Workers,
		FetchPollInterval:    o.FetchPoll,
		FetchCooldown:        min(o.FetchPoll, 100*time.Millisecond),
		RescueStuckJobsAfter: o.RescueAfter,
		PeriodicJobs:         o.PeriodicJobs,
		Logger:               o.Log,
		JobTimeout:           -1, // the worker's Timeout bounds each attempt
	}
}

// NewRunner migrates River's tables and builds its client on this database.
func (d *DB) NewRunner(ctx context.Context, o RunnerOptions) (*Runner, error) {
	if o.Log == nil {
		o.Log = d.log
	}
	if d.IsPostgres() {
		return d.pgRunner(ctx, o)
	}
	return d.sqliteRunner(ctx, o)
}

func (d *DB) pgRunner(ctx context.Context, o RunnerOptions) (*Runner, error) {
	pool, err := pgxpool.New(ctx, d.opts.URL)
	if err != nil {
		return nil, fmt.Errorf("job runner pool: %w", redactURL(err, d.opts.URL))
	}
	drv := riverpgxv5.New(pool)
	if err := migrateRiverPG(ctx, pool, drv); err != nil {
		pool.Close()
		return nil, err
	}
	client, err := river.NewClient(drv, riverConfig(o))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("job runner: %w", err)
	}
	return &Runner{
		enqueue: func(ctx context.Context, t *task.Task, opt task.JobOptions) error {
			vals, err := taskValues(t)
			if err != nil {
				return err
			}
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				q := fmt.Sprintf(insertTask, "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11")
				if err := tx.QueryRow(ctx, q, vals...).Scan(&t.ID); err != nil {
					var pe *pgconn.PgError
					if errors.As(err, &pe) && pe.Code == "23505" {
						return fault.ErrBusy
					}
					return err
				}
				res, err := client.InsertTx(ctx, tx, task.Args{TaskID: t.ID}, &river.InsertOpts{MaxAttempts: opt.MaxAttempts})
				if err != nil {
					return err
				}
				t.JobID = &res.Job.ID
				_, err = tx.Exec(ctx, `UPDATE tasks SET job_id = $1 WHERE id = $2`, res.Job.ID, t.ID)
				return err
			})
		},
		cancel: func(ctx context.Context, id int64) error {
			_, err := client.JobCancel(ctx, id)
			return ignoreNotFound(err)
		},
		start: client.Start,
		stop:  stopClient(client.Stop, client.StopAndCancel),
		close: pool.Close,
	}, nil
}

// migrateRiverPG runs River's migrations under an advisory lock so that
// replicas starting together do it once.
func migrateRiverPG(ctx context.Context, pool *pgxpool.Pool, drv *riverpgxv5.Driver) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("job runner migrations: %w", err)
	}
	defer conn.Release()
	const lockKey = 0x64636d64_72697672 // "dcmdrivr"
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(lockKey)); err != nil {
		return fmt.Errorf("job runner migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(lockKey)) //nolint:errcheck
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("job runner migrations: %w", err)
	}
	return nil
}

func (d *DB) sqliteRunner(ctx context.Context, o RunnerOptions) (*Runner, error) {
	// River wants a pool of one connection on SQLite; it shares the file
	// with the main pool through WAL and the busy timeout.
	db, err := sql.Open("sqlite", sqliteDSN(d.opts))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	drv := riversqlite.New(db)
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("job runner migrations: %w", err)
	}
	// One process owns an SQLite file, so a job left running by a killed
	// process is dead now: make it available again at once instead of
	// waiting for the rescuer.
	if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', '-1 second')
		WHERE state = 'running'`); err != nil {
		db.Close()
		return nil, fmt.Errorf("recover interrupted jobs: %w", err)
	}
	client, err := river.NewClient(drv, riverConfig(o))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job runner: %w", err)
	}
	return &Runner{
		enqueue: func(ctx context.Context, t *task.Task, opt task.JobOptions) error {
			vals, err := taskValues(t)
			if err != nil {
				return err
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck
			q := fmt.Sprintf(insertTask, "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?")
			if err := tx.QueryRowContext(ctx, q, vals...).Scan(&t.ID); err != nil {
				if isSQLiteUnique(err) {
					return fault.ErrBusy
				}
				return err
			}
			res, err := client.InsertTx(ctx, tx, task.Args{TaskID: t.ID}, &river.InsertOpts{MaxAttempts: opt.MaxAttempts})
			if err != nil {
				return err
			}
			t.JobID = &res.Job.ID
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET job_id = ? WHERE id = ?`, res.Job.ID, t.ID); err != nil {
				return err
			}
			return tx.Commit()
		},
		cancel: func(ctx context.Context, id int64) error {
			_, err := client.JobCancel(ctx, id)
			return ignoreNotFound(err)
		},
		start: client.Start,
		stop:  stopClient(client.Stop, client.StopAndCancel),
		close: func() { db.Close() },
	}, nil
}

func stopClient(stop, stopAndCancel func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := stop(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return stopAndCancel(cctx)
		}
		return err
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, river.ErrNotFound) {
		return nil
	}
	return err
}
