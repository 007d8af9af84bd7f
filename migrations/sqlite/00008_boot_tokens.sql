-- +goose Up
-- HTTP boot phone-home: one-time tokens handed to an installer or agent on
-- its kernel command line, and what it reported with them. Only the SHA-256
-- of a token is kept (hex, like sessions). A token is good until it expires
-- or reports a final status (success or fail); used_at and final_status say
-- which. Events keep their server and task when the token row is pruned.
CREATE TABLE boot_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    server_id    INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    task_id      INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
    purpose      TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    used_at      DATETIME,
    final_status TEXT NOT NULL DEFAULT '' CHECK (final_status IN ('', 'success', 'fail'))
);
CREATE INDEX boot_tokens_server ON boot_tokens(server_id);
CREATE INDEX boot_tokens_expires ON boot_tokens(expires_at);

CREATE TABLE boot_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id    INTEGER REFERENCES boot_tokens(id) ON DELETE SET NULL,
    server_id   INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    task_id     INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
    purpose     TEXT NOT NULL DEFAULT '',
    at          DATETIME NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('started', 'progress', 'success', 'fail')),
    message     TEXT NOT NULL DEFAULT '',
    percent     INTEGER CHECK (percent BETWEEN 0 AND 100),
    log         TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT ''
);
CREATE INDEX boot_events_server ON boot_events(server_id, id);
CREATE INDEX boot_events_task ON boot_events(task_id, id);

-- +goose Down
DROP TABLE boot_events;
DROP TABLE boot_tokens;
