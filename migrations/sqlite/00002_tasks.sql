-- +goose Up
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    server_id   INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    exclusive   BOOLEAN NOT NULL DEFAULT 1,
    status      TEXT NOT NULL DEFAULT 'created'
                CHECK (status IN ('created', 'running', 'complete', 'fail', 'canceled')),
    progress    INTEGER NOT NULL DEFAULT 0,
    steps       TEXT NOT NULL DEFAULT '[]',
    params      TEXT NOT NULL DEFAULT '{}',
    result      TEXT NOT NULL DEFAULT '{}',
    error       TEXT NOT NULL DEFAULT '',
    status_info TEXT NOT NULL DEFAULT '',
    attempt     INTEGER NOT NULL DEFAULT 0,
    job_id      INTEGER,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  DATETIME NOT NULL,
    started_at  DATETIME,
    finished_at DATETIME,
    updated_at  DATETIME NOT NULL
);
-- One long operation per server: the second insert fails and the API answers 409.
CREATE UNIQUE INDEX tasks_one_active_per_server ON tasks(server_id)
    WHERE exclusive = 1 AND status IN ('created', 'running');
CREATE INDEX tasks_server ON tasks(server_id, id);
CREATE INDEX tasks_finished ON tasks(finished_at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          DATETIME NOT NULL,
    user_id     INTEGER,
    user_email  TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id   INTEGER,
    task_id     INTEGER,
    result      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE tasks;
