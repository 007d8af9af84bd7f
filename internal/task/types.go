// Package task runs dcimd's long operations (power, switch ports, IP
// allocation, installs) as durable tasks on top of River. Our own tasks
// table is what clients see: status, progress and the steps with their
// times; River only decides when and where a task runs and retries it.
package task

import (
	"context"
	"errors"
	"time"

	"github.com/dcimd/dcimd/internal/listq"
)

// Status of a task as the API shows it.
type Status string

// Task statuses.
const (
	Created  Status = "created"
	Running  Status = "running"
	Complete Status = "complete"
	Fail     Status = "fail"
	Canceled Status = "canceled"
)

// Final reports a status that will not change again.
func (s Status) Final() bool { return s == Complete || s == Fail || s == Canceled }

// Step is one visible stage of a task.
type Step struct {
	Name       string     `json:"name"`
	Status     string     `json:"status"` // running, ok, fail, canceled
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Info       string     `json:"info,omitempty"`
}

// Task is one durable operation.
type Task struct {
	ID         int64
	Name       string
	ServerID   *int64
	Exclusive  bool // a long operation: one per server at a time
	Status     Status
	Progress   int
	Steps      []Step
	Params     map[string]any
	Result     map[string]any
	Error      string
	StatusInfo string
	Attempt    int
	JobID      *int64
	CreatedBy  *int64
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	UpdatedAt  time.Time
}

// ErrEnded is returned by SaveProgress when the task already ended (it was
// canceled meanwhile): the worker stops without touching it again.
var ErrEnded = errors.New("task already ended")

// Store persists tasks.
type Store interface {
	GetTask(ctx context.Context, id int64) (Task, error)
	ListTasks(ctx context.Context, ownerID *int64, q listq.Query) ([]Task, int, error)
	// SaveProgress writes status, progress, steps, error, status_info,
	// attempt, result and the times of a task, unless the stored task has
	// already ended (then ErrEnded).
	SaveProgress(ctx context.Context, t *Task) error
	// ActiveTask returns the running exclusive task of a server, if any.
	ActiveTask(ctx context.Context, serverID int64) (Task, bool, error)
	// PruneTasks deletes final tasks that finished before the cutoff.
	PruneTasks(ctx context.Context, before time.Time) (int64, error)
	// InsertDone stores a task that already ended and fills t.ID.
	InsertDone(ctx context.Context, t *Task) error
	// FailOrphans fails unfinished tasks whose job the runner no longer
	// has and returns them (id, name, server and params at least).
	FailOrphans(ctx context.Context, now time.Time) ([]Task, error)
}

// Queue puts tasks into the job runner.
type Queue interface {
	// Enqueue inserts the task row and its job atomically and fills t.ID
	// and t.JobID. A server already busy with an exclusive task gives
	// fault.ErrBusy.
	Enqueue(ctx context.Context, t *Task, opt JobOptions) error
	// CancelJob asks the runner to cancel a job (stopping it if running).
	CancelJob(ctx context.Context, jobID int64) error
}

// JobOptions are runner settings for one task.
type JobOptions struct {
	MaxAttempts int
}

// AuditEntry records who did what, when, with which result.
type AuditEntry struct {
	ID         int64
	At         time.Time
	UserID     *int64
	UserEmail  string
	Action     string
	ObjectType string
	ObjectID   *int64
	TaskID     *int64
	Result     string
	Detail     string
}

// Auditor writes and reads the audit log.
type Auditor interface {
	Audit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, q listq.Query) ([]AuditEntry, int, error)
}
