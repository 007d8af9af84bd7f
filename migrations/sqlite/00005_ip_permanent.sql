-- +goose Up
-- An address an admin marked permanent stays with its server when the
-- server is released (a management or infrastructure address); the others
-- go back to their pools in the same transaction as the release.
ALTER TABLE ips ADD COLUMN permanent BOOLEAN NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE ips DROP COLUMN permanent;
