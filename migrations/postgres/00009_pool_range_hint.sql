-- +goose Up
-- Every address of a pool range below this key is stored, so a pool
-- allocation starts its search there ('' = at the range's first address):
-- the cost stays flat as a range fills, also when the range starts above
-- its network's lowest free address.
ALTER TABLE ippool_ranges ADD COLUMN free_hint TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE ippool_ranges DROP COLUMN free_hint;
