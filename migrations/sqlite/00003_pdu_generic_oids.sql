-- +goose Up
-- OIDs and values of a PDU with the generic profile (JSON), so that vendors
-- without a built-in profile work by configuration.
ALTER TABLE pdus ADD COLUMN generic_oids TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE pdus DROP COLUMN generic_oids;
