-- +goose Up
-- IP address management: a sortable key per address (32 hex digits of its
-- 128-bit value) so the lowest free address is found from allocated rows
-- alone; address pools made of ranges of active networks, attached to
-- locations and racks.
ALTER TABLE ips ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
CREATE INDEX ips_ipnet_key ON ips(ipnet_id, sort_key);
-- Every allocatable address of the network below this key is stored, so
-- the search for the lowest free one starts here ('' = at the start).
ALTER TABLE ipnets ADD COLUMN free_hint TEXT NOT NULL DEFAULT '';

CREATE TABLE ippools (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    is_public   BOOLEAN NOT NULL DEFAULT 0,
    userspace   INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    UNIQUE (userspace, name)
);

CREATE TABLE ippool_ranges (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ippool_id   INTEGER NOT NULL REFERENCES ippools(id) ON DELETE CASCADE,
    ipnet_id    INTEGER NOT NULL REFERENCES ipnets(id) ON DELETE RESTRICT,
    family      INTEGER NOT NULL,
    first_addr  TEXT NOT NULL,
    last_addr   TEXT NOT NULL,
    first_key   TEXT NOT NULL,
    last_key    TEXT NOT NULL,
    created_at  DATETIME NOT NULL
);
CREATE INDEX ippool_ranges_pool ON ippool_ranges(ippool_id);
CREATE INDEX ippool_ranges_net ON ippool_ranges(ipnet_id);

-- Pools a location or a rack allocates from (exactly one of the two set).
CREATE TABLE ippool_places (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ippool_id   INTEGER NOT NULL REFERENCES ippools(id) ON DELETE CASCADE,
    location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
    rack_id     INTEGER REFERENCES racks(id) ON DELETE CASCADE,
    created_at  DATETIME NOT NULL,
    CHECK ((location_id IS NULL) <> (rack_id IS NULL))
);
CREATE UNIQUE INDEX ippool_places_location ON ippool_places(location_id, ippool_id);
CREATE UNIQUE INDEX ippool_places_rack ON ippool_places(rack_id, ippool_id);
CREATE INDEX ippool_places_pool ON ippool_places(ippool_id);

-- +goose Down
DROP TABLE ippool_places;
DROP TABLE ippool_ranges;
DROP TABLE ippools;
DROP INDEX ips_ipnet_key;
ALTER TABLE ips DROP COLUMN sort_key;
ALTER TABLE ipnets DROP COLUMN free_hint;
