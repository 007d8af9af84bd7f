-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name     TEXT NOT NULL DEFAULT '',
    phone_number  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('@admin', '@user')),
    state         TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    vlans_per_user INTEGER NOT NULL DEFAULT 5,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    remote_addr  TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE auth_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash   TEXT NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE locations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    geolocation TEXT NOT NULL DEFAULT '',
    userspace   INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

CREATE TABLE racks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    size        INTEGER NOT NULL DEFAULT 42,
    location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE RESTRICT,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    UNIQUE (location_id, name)
);

CREATE TABLE platforms (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    size       INTEGER NOT NULL DEFAULT 1,
    type       TEXT NOT NULL DEFAULT 'server',
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

CREATE TABLE chassis (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL UNIQUE,
    size              INTEGER NOT NULL DEFAULT 1,
    server_slot_count INTEGER NOT NULL DEFAULT 1,
    location_id       INTEGER REFERENCES locations(id) ON DELETE RESTRICT,
    rack_id           INTEGER REFERENCES racks(id) ON DELETE RESTRICT,
    unit              INTEGER,
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);

CREATE TABLE switches (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    address          TEXT NOT NULL,
    snmp_port        INTEGER NOT NULL DEFAULT 161,
    snmp_version     TEXT NOT NULL DEFAULT 'v2c',
    community_enc    TEXT NOT NULL DEFAULT '',
    v3_user          TEXT NOT NULL DEFAULT '',
    v3_auth_protocol TEXT NOT NULL DEFAULT '',
    v3_auth_pass_enc TEXT NOT NULL DEFAULT '',
    v3_priv_protocol TEXT NOT NULL DEFAULT '',
    v3_priv_pass_enc TEXT NOT NULL DEFAULT '',
    profile          TEXT NOT NULL DEFAULT 'generic',
    read_only        BOOLEAN NOT NULL DEFAULT 0,
    location_id      INTEGER REFERENCES locations(id) ON DELETE RESTRICT,
    rack_id          INTEGER REFERENCES racks(id) ON DELETE RESTRICT,
    unit             INTEGER,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);

CREATE TABLE switch_ports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    switch_id    INTEGER NOT NULL REFERENCES switches(id) ON DELETE CASCADE,
    identity     TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    admin_status TEXT NOT NULL DEFAULT 'unknown',
    oper_status  TEXT NOT NULL DEFAULT 'unknown',
    speed        INTEGER NOT NULL DEFAULT 0,
    vanished     BOOLEAN NOT NULL DEFAULT 0,
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL,
    UNIQUE (switch_id, identity)
);

CREATE TABLE pdus (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    address          TEXT NOT NULL,
    snmp_port        INTEGER NOT NULL DEFAULT 161,
    snmp_version     TEXT NOT NULL DEFAULT 'v2c',
    community_enc    TEXT NOT NULL DEFAULT '',
    v3_user          TEXT NOT NULL DEFAULT '',
    v3_auth_protocol TEXT NOT NULL DEFAULT '',
    v3_auth_pass_enc TEXT NOT NULL DEFAULT '',
    v3_priv_protocol TEXT NOT NULL DEFAULT '',
    v3_priv_pass_enc TEXT NOT NULL DEFAULT '',
    profile          TEXT NOT NULL DEFAULT 'apc',
    location_id      INTEGER REFERENCES locations(id) ON DELETE RESTRICT,
    rack_id          INTEGER REFERENCES racks(id) ON DELETE RESTRICT,
    unit             INTEGER,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);

CREATE TABLE pdu_ports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pdu_id       INTEGER NOT NULL REFERENCES pdus(id) ON DELETE CASCADE,
    identity     TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    power_status TEXT NOT NULL DEFAULT 'unknown',
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL,
    UNIQUE (pdu_id, identity)
);

CREATE TABLE os_templates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    tags       TEXT NOT NULL DEFAULT '[]',
    kind       TEXT NOT NULL DEFAULT 'image',
    access     TEXT NOT NULL DEFAULT 'all',
    efi        BOOLEAN NOT NULL DEFAULT 1,
    legacy     BOOLEAN NOT NULL DEFAULT 1,
    kernel     TEXT NOT NULL DEFAULT '',
    initrd     TEXT NOT NULL DEFAULT '',
    image      TEXT NOT NULL DEFAULT '',
    macros     TEXT NOT NULL DEFAULT '[]',
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

CREATE TABLE servers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    domain         TEXT NOT NULL DEFAULT '',
    mac            TEXT NOT NULL DEFAULT '',
    configuration  TEXT NOT NULL DEFAULT '',
    location_id    INTEGER REFERENCES locations(id) ON DELETE RESTRICT,
    rack_id        INTEGER REFERENCES racks(id) ON DELETE RESTRICT,
    unit           INTEGER,
    platform_id    INTEGER REFERENCES platforms(id) ON DELETE RESTRICT,
    chassis_id     INTEGER REFERENCES chassis(id) ON DELETE RESTRICT,
    slot           INTEGER,
    efi            BOOLEAN NOT NULL DEFAULT 0,
    state          TEXT NOT NULL DEFAULT 'ok',
    state_info     TEXT NOT NULL DEFAULT '',
    is_new         BOOLEAN NOT NULL DEFAULT 0,
    owner_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    os_template_id INTEGER REFERENCES os_templates(id) ON DELETE SET NULL,
    hardware_info  TEXT NOT NULL DEFAULT '{}',
    perform_info   TEXT NOT NULL DEFAULT '{}',
    diag_error     TEXT NOT NULL DEFAULT '[]',
    main_ipv4      INTEGER,
    main_ipv6      INTEGER,
    power_status   TEXT NOT NULL DEFAULT 'unknown',
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL
);
-- (owner_id, is_new) also covers the count of the free-server list (owner_email IS null AND is_new EQ false).
CREATE INDEX servers_owner ON servers(owner_id, is_new);
CREATE INDEX servers_location ON servers(location_id);
CREATE INDEX servers_rack ON servers(rack_id);
CREATE INDEX servers_configuration ON servers(configuration);
CREATE UNIQUE INDEX servers_mac ON servers(mac) WHERE mac <> '';

CREATE TABLE ipmis (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id    INTEGER UNIQUE REFERENCES servers(id) ON DELETE SET NULL,
    address      TEXT NOT NULL,
    port         INTEGER NOT NULL DEFAULT 623,
    username     TEXT NOT NULL DEFAULT '',
    password_enc TEXT NOT NULL DEFAULT '',
    type         TEXT NOT NULL DEFAULT 'IPMI v2(lanplus)',
    cipher_suite INTEGER NOT NULL DEFAULT 17,
    privilege    TEXT NOT NULL DEFAULT 'administrator',
    web_url      TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'unknown',
    status_info  TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL
);

CREATE TABLE server_switch_connections (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id              INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    switch_port_id         INTEGER NOT NULL UNIQUE REFERENCES switch_ports(id) ON DELETE RESTRICT,
    is_ipmi_connection     BOOLEAN NOT NULL DEFAULT 0,
    do_not_collect_traffic BOOLEAN NOT NULL DEFAULT 0,
    created_at             DATETIME NOT NULL
);
CREATE INDEX server_switch_connections_server ON server_switch_connections(server_id);

CREATE TABLE server_pdu_connections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id   INTEGER NOT NULL UNIQUE REFERENCES servers(id) ON DELETE CASCADE,
    pdu_port_id INTEGER NOT NULL UNIQUE REFERENCES pdu_ports(id) ON DELETE RESTRICT,
    created_at  DATETIME NOT NULL
);

CREATE TABLE ipnets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    family      INTEGER NOT NULL,
    prefix_len  INTEGER NOT NULL,
    gateway     TEXT NOT NULL DEFAULT '',
    vlan        TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    userspace   INTEGER NOT NULL DEFAULT 1,
    type        TEXT NOT NULL DEFAULT 'active',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    UNIQUE (userspace, name)
);

CREATE TABLE ips (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    family      INTEGER NOT NULL,
    ipnet_id    INTEGER NOT NULL REFERENCES ipnets(id) ON DELETE RESTRICT,
    userspace   INTEGER NOT NULL DEFAULT 1,
    server_id   INTEGER REFERENCES servers(id) ON DELETE SET NULL,
    domain      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'ok',
    status_info TEXT NOT NULL DEFAULT '{}',
    note        TEXT NOT NULL DEFAULT '',
    reserved    BOOLEAN NOT NULL DEFAULT 0,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    UNIQUE (userspace, name)
);
CREATE INDEX ips_server ON ips(server_id);
CREATE INDEX ips_ipnet ON ips(ipnet_id);

-- +goose Down
DROP TABLE ips;
DROP TABLE ipnets;
DROP TABLE server_pdu_connections;
DROP TABLE server_switch_connections;
DROP TABLE ipmis;
DROP TABLE servers;
DROP TABLE os_templates;
DROP TABLE pdu_ports;
DROP TABLE pdus;
DROP TABLE switch_ports;
DROP TABLE switches;
DROP TABLE chassis;
DROP TABLE platforms;
DROP TABLE racks;
DROP TABLE locations;
DROP TABLE settings;
DROP TABLE auth_keys;
DROP TABLE sessions;
DROP TABLE users;
