-- +goose Up
-- DHCPv4 leases of dcimd's own DHCP server. The address always belongs to
-- IPAM (ips): a lease records which client holds it, until when, and how
-- the request reached us (relay address, option 82). One row per address,
-- so an address is never leased to two clients; the row goes with the
-- address when IPAM frees it. A declined row (another host answers on the
-- address) keeps the address out of offers until expires_at.
CREATE TABLE dhcp_leases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ip_id       INTEGER NOT NULL UNIQUE REFERENCES ips(id) ON DELETE CASCADE,
    ipnet_id    INTEGER NOT NULL REFERENCES ipnets(id) ON DELETE CASCADE,
    server_id   INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    mac         TEXT NOT NULL,
    ip          TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('offered', 'bound', 'released', 'declined')),
    dynamic     BOOLEAN NOT NULL DEFAULT 0,
    expires_at  DATETIME NOT NULL,
    relay       TEXT NOT NULL DEFAULT '',
    circuit_id  TEXT NOT NULL DEFAULT '',
    remote_id   TEXT NOT NULL DEFAULT '',
    client_id   TEXT NOT NULL DEFAULT '',
    hostname    TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE INDEX dhcp_leases_mac ON dhcp_leases(mac);
CREATE INDEX dhcp_leases_server ON dhcp_leases(server_id);

-- +goose Down
DROP TABLE dhcp_leases;
