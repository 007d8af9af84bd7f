-- +goose Up
-- Switch port control: what discovery reads (ifAlias, ifType), when the
-- port was last seen and polled, the last raw 64-bit octet counters (stored
-- as their two's-complement int64 bits) with the agent's uptime, to turn
-- readings into deltas that survive counter wrap and agent restarts, and
-- hourly traffic buckets per port and server.
ALTER TABLE switch_ports ADD COLUMN alias TEXT NOT NULL DEFAULT '';
ALTER TABLE switch_ports ADD COLUMN if_type INTEGER NOT NULL DEFAULT 0;
ALTER TABLE switch_ports ADD COLUMN polled_at DATETIME;
ALTER TABLE switch_ports ADD COLUMN counters_at DATETIME;
ALTER TABLE switch_ports ADD COLUMN last_in BIGINT NOT NULL DEFAULT 0;
ALTER TABLE switch_ports ADD COLUMN last_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE switch_ports ADD COLUMN last_uptime_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE switches ADD COLUMN refreshed_at DATETIME;

CREATE TABLE port_traffic (
    port_id    INTEGER NOT NULL REFERENCES switch_ports(id) ON DELETE CASCADE,
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    bucket     DATETIME NOT NULL,
    in_octets  BIGINT NOT NULL DEFAULT 0,
    out_octets BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (port_id, server_id, bucket)
);
CREATE INDEX port_traffic_server ON port_traffic(server_id, bucket);

-- +goose Down
DROP TABLE port_traffic;
ALTER TABLE switches DROP COLUMN refreshed_at;
ALTER TABLE switch_ports DROP COLUMN last_uptime_ms;
ALTER TABLE switch_ports DROP COLUMN last_out;
ALTER TABLE switch_ports DROP COLUMN last_in;
ALTER TABLE switch_ports DROP COLUMN counters_at;
ALTER TABLE switch_ports DROP COLUMN polled_at;
ALTER TABLE switch_ports DROP COLUMN if_type;
ALTER TABLE switch_ports DROP COLUMN alias;
