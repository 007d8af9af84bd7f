package store

import (
	"context"
	"time"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/task"
)

// Tasks implements task.Store and task.Auditor.
type Tasks struct{ db *DB }

// Tasks returns the task store.
func (d *DB) Tasks() *Tasks { return &Tasks{db: d} }

type taskRow struct {
	ID         int64 `gorm:"column:id;primaryKey"`
	Name       string
	ServerID   *int64 `gorm:"column:server_id"`
	Exclusive  bool
	Status     string
	Progress   int
	Steps      string
	Params     string
	Result     string
	Error      string
	StatusInfo string `gorm:"column:status_info"`
	Attempt    int
	JobID      *int64 `gorm:"column:job_id"`
	CreatedBy  *int64 `gorm:"column:created_by"`
	CreatedAt  time.Time
	StartedAt  *time.Time `gorm:"column:started_at"`
	FinishedAt *time.Time `gorm:"column:finished_at"`
	UpdatedAt  time.Time
}

func (r *taskRow) task() (task.Task, error) {
	t := task.Task{ID: r.ID, Name: r.Name, ServerID: r.ServerID, Exclusive: r.Exclusive, Status: task.Status(r.Status),
		Progress: r.Progress, Error: r.Error, StatusInfo: r.StatusInfo, Attempt: r.Attempt, JobID: r.JobID, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, UpdatedAt: r.UpdatedAt,
		Steps: []task.Step{}, Params: map[string]any{}, Result: map[string]any{}}
	if err := fromJSONText(r.Steps, &t.Steps); err != nil {
		return t, err
	}
	if err := fromJSONText(r.Params, &t.Params); err != nil {
		return t, err
	}
	return t, fromJSONText(r.Result, &t.Result)
}

var taskFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "server": fInt("server_id"), "server_id": fInt("server_id"),
	"status": fStr("status"), "created_at": fTime("created_at"), "finished_at": fTime("finished_at"), "created_by": fInt("created_by")}

// GetTask reads one task.
func (s *Tasks) GetTask(ctx context.Context, id int64) (task.Task, error) {
	var r taskRow
	if err := s.db.gorm.WithContext(ctx).Table("tasks").Where("id = ?", id).Take(&r).Error; err != nil {
		return task.Task{}, translate(err, "task", id)
	}
	return r.task()
}

// ListTasks lists tasks, newest first by default; ownerID limits them to
// the tasks of that user's servers.
func (s *Tasks) ListTasks(ctx context.Context, ownerID *int64, q listq.Query) ([]task.Task, int, error) {
	base := s.db.gorm.WithContext(ctx).Table("tasks")
	if ownerID != nil {
		base = base.Where("server_id IN (SELECT id FROM servers WHERE owner_id = ?)", *ownerID)
	}
	var rows []taskRow
	n, err := s.db.list(base, "", taskFields, q, "id DESC", &rows)
	if err != nil {
		return nil, 0, err
	}
	out := make([]task.Task, len(rows))
	for i := range rows {
		if out[i], err = rows[i].task(); err != nil {
			return nil, 0, err
		}
	}
	return out, n, nil
}

// SaveProgress writes a task's moving parts unless it already ended.
func (s *Tasks) SaveProgress(ctx context.Context, t *task.Task) error {
	steps, err := jsonText(t.Steps)
	if err != nil {
		return err
	}
	result, err := jsonText(orEmptyMap(t.Result))
	if err != nil {
		return err
	}
	res := s.db.gorm.WithContext(ctx).Exec(`UPDATE tasks SET status = ?, progress = ?, steps = ?, result = ?, error = ?,
		status_info = ?, attempt = ?, started_at = ?, finished_at = ?, updated_at = ?
		WHERE id = ? AND status IN ('created', 'running')`,
		string(t.Status), t.Progress, steps, result, t.Error, t.StatusInfo, t.Attempt, utcPtr(t.StartedAt), utcPtr(t.FinishedAt),
		t.UpdatedAt.UTC(), t.ID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return task.ErrEnded
	}
	return nil
}

// ActiveTask returns the server's running exclusive task, if any.
func (s *Tasks) ActiveTask(ctx context.Context, serverID int64) (task.Task, bool, error) {
	var rows []taskRow
	err := s.db.gorm.WithContext(ctx).Table("tasks").
		Where("server_id = ? AND exclusive = ? AND status IN ('created', 'running')", serverID, true).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return task.Task{}, false, err
	}
	t, err := rows[0].task()
	return t, err == nil, err
}

// PruneTasks deletes ended tasks that finished before the cutoff; running
// tasks are never touched.
func (s *Tasks) PruneTasks(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.gorm.WithContext(ctx).Exec(`DELETE FROM tasks WHERE status IN ('complete', 'fail', 'canceled') AND finished_at < ?`, before.UTC())
	return res.RowsAffected, res.Error
}

// Audit appends to the audit log.
func (s *Tasks) Audit(ctx context.Context, e task.AuditEntry) error {
	return s.db.gorm.WithContext(ctx).Exec(`INSERT INTO audit_log (at, user_id, user_email, action, object_type, object_id, task_id, result, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.At.UTC(), e.UserID, e.UserEmail, e.Action, e.ObjectType, e.ObjectID, e.TaskID, e.Result, e.Detail).Error
}

var auditFields = listq.Fields{"id": fInt("a.id"), "at": fTime("a.at"), "user_id": fInt("a.user_id"), "user_email": fStr("a.user_email"),
	"action": fStr("a.action"), "object_type": fStr("a.object_type"), "object_id": fInt("a.object_id"), "task_id": fInt("a.task_id"),
	"result": fStr("a.result")}

// ListAudit reads the audit log, newest first.
func (s *Tasks) ListAudit(ctx context.Context, q listq.Query) ([]task.AuditEntry, int, error) {
	var rows []struct {
		ID         int64
		At         time.Time
		UserID     *int64 `gorm:"column:user_id"`
		UserEmail  string `gorm:"column:user_email"`
		Action     string
		ObjectType string `gorm:"column:object_type"`
		ObjectID   *int64 `gorm:"column:object_id"`
		TaskID     *int64 `gorm:"column:task_id"`
		Result     string
		Detail     string
	}
	base := s.db.gorm.WithContext(ctx).Table("audit_log AS a").Joins("LEFT JOIN users u ON u.id = a.user_id")
	n, err := s.db.list(base, `a.id, a.at, a.user_id, COALESCE(NULLIF(a.user_email, ''), u.email, '') AS user_email, a.action,
		a.object_type, a.object_id, a.task_id, a.result, a.detail`, auditFields, q, "a.id DESC", &rows)
	if err != nil {
		return nil, 0, err
	}
	out := make([]task.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = task.AuditEntry{ID: r.ID, At: r.At, UserID: r.UserID, UserEmail: r.UserEmail, Action: r.Action, ObjectType: r.ObjectType,
			ObjectID: r.ObjectID, TaskID: r.TaskID, Result: r.Result, Detail: r.Detail}
	}
	return out, n, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

var _ task.Store = (*Tasks)(nil)

// FailOrphans ends tasks that still say created or running although their
// River job is gone or finished (River discards a job whose process kept
// crashing through every attempt): nothing else would ever end them, and
// their server would stay busy.
func (s *Tasks) FailOrphans(ctx context.Context, now time.Time) ([]task.Task, error) {
	var rows []taskRow
	err := s.db.gorm.WithContext(ctx).Raw(`UPDATE tasks SET status = 'fail', progress = progress,
		error = 'the task runner gave up on this task after repeated crashes',
		status_info = 'the task runner gave up on this task after repeated crashes', finished_at = ?, updated_at = ?
		WHERE status IN ('created', 'running') AND updated_at < ?
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.id = tasks.job_id
			AND j.state NOT IN ('completed', 'discarded', 'cancelled'))
		RETURNING *`, now.UTC(), now.UTC(), now.Add(-time.Minute).UTC()).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]task.Task, 0, len(rows))
	for i := range rows {
		t, err := rows[i].task()
		if err != nil {
			return out, err
		}
		out = append(out, t)
	}
	return out, nil
}

// InsertDone stores a task that already ended (work done within the
// request that asked for it): no job is queued.
func (s *Tasks) InsertDone(ctx context.Context, t *task.Task) error {
	steps, err := jsonText(t.Steps)
	if err != nil {
		return err
	}
	params, err := jsonText(orEmptyMap(t.Params))
	if err != nil {
		return err
	}
	result, err := jsonText(orEmptyMap(t.Result))
	if err != nil {
		return err
	}
	return s.db.gorm.WithContext(ctx).Raw(`INSERT INTO tasks (name, server_id, exclusive, status, progress, steps, params, result,
		error, status_info, attempt, created_by, created_at, started_at, finished_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Name, t.ServerID, false, string(t.Status), t.Progress, steps, params, result, t.Error, t.StatusInfo, t.Attempt,
		t.CreatedBy, t.CreatedAt.UTC(), t.StartedAt, t.FinishedAt, t.UpdatedAt.UTC()).Scan(&t.ID).Error
}
