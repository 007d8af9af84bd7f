#!/usr/bin/env python3
"""net-snmp pass_persist handler: BRIDGE-MIB and Q-BRIDGE-MIB forwarding
tables from the real Linux bridge of the network namespace it runs in.

snmpd.conf:  pass_persist .1.3.6.1.2.1.17 /usr/bin/python3 fdb_pass.py
Environment: FDB_BRIDGE  bridge name (default br0)
             FDB_TABLES  "both" (default), "bridge" or "qbridge"
             FDB_SELF    "1": list the bridge ports' own MACs with status self(4)
             FDB_VLAN    fdb id of entries without a VLAN (default 1)

Served, read-only:
  dot1dBasePortIfIndex .1.3.6.1.2.1.17.1.4.1.2.<port>            INTEGER ifIndex
  dot1dTpFdbAddress    .1.3.6.1.2.1.17.4.3.1.1.<mac as 6 arcs>   MacAddress
  dot1dTpFdbPort       .1.3.6.1.2.1.17.4.3.1.2.<mac>             INTEGER bridge port
  dot1dTpFdbStatus     .1.3.6.1.2.1.17.4.3.1.3.<mac>             learned(3), self(4)
  dot1qTpFdbPort       .1.3.6.1.2.1.17.7.1.2.2.1.2.<fdb id>.<mac> INTEGER bridge port
  dot1qTpFdbStatus     .1.3.6.1.2.1.17.7.1.2.2.1.3.<fdb id>.<mac> learned(3), self(4)
The fdb id is the entry's VLAN, or FDB_VLAN when the bridge does not filter VLANs.
Entries the kernel marks "self" (the interface's own multicast list) and
static entries other than a port's own address are left out.
"""
import bisect
import json
import os
import subprocess
import sys
import time

BRIDGE = os.environ.get("FDB_BRIDGE", "br0")
TABLES = os.environ.get("FDB_TABLES", "both")
SELF = os.environ.get("FDB_SELF") == "1"
VLAN = int(os.environ.get("FDB_VLAN", "1"))
TTL = 1.0  # seconds a snapshot may serve the requests of one walk

BASE_PORT_IFINDEX = (1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2)
TP_FDB = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1)
Q_TP_FDB = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1)
LEARNED, OWN = 3, 4


def sysfs(path):
    with open(path) as f:
        return f.read().strip()


def ports():
    """Bridge port number and ifIndex of every port, by interface name."""
    out = {}
    for name in os.listdir("/sys/class/net/%s/brif" % BRIDGE):
        try:
            no = int(sysfs("/sys/class/net/%s/brport/port_no" % name), 0)
            idx = int(sysfs("/sys/class/net/%s/ifindex" % name))
        except (OSError, ValueError):
            continue  # the port went away meanwhile
        out[name] = (no, idx)
    return out


def fdb():
    """(mac bytes, vlan, port name, status) of the learned (and own) entries."""
    raw = subprocess.run(["bridge", "-j", "fdb", "show", "br", BRIDGE],
                         capture_output=True, text=True, check=False).stdout
    try:
        entries = json.loads(raw or "[]")
    except ValueError:
        return []
    out = []
    for e in entries:
        if "self" in e.get("flags", []) or e.get("master") != BRIDGE:
            continue
        status = LEARNED
        if e.get("state") == "permanent":
            if not SELF:
                continue
            status = OWN
        elif e.get("state") in ("static", "noarp"):
            continue
        mac = bytes(int(x, 16) for x in e["mac"].split(":"))
        out.append((mac, e.get("vlan", VLAN), e["ifname"], status))
    return out


def snapshot():
    """Sorted (oid, type, value) of everything served."""
    ps = ports()
    rows = []
    for no, idx in ps.values():
        rows.append((BASE_PORT_IFINDEX + (no,), "integer", str(idx)))
    seen = set()
    for mac, vlan, name, status in fdb():
        if name not in ps:
            continue
        no = ps[name][0]
        arcs = tuple(mac)
        if TABLES in ("both", "bridge") and arcs not in seen:
            seen.add(arcs)  # BRIDGE-MIB has one row per MAC, whatever the VLAN
            rows.append((TP_FDB + (1,) + arcs, "octet", mac.hex(" ")))
            rows.append((TP_FDB + (2,) + arcs, "integer", str(no)))
            rows.append((TP_FDB + (3,) + arcs, "integer", str(status)))
        if TABLES in ("both", "qbridge"):
            rows.append((Q_TP_FDB + (2, vlan) + arcs, "integer", str(no)))
            rows.append((Q_TP_FDB + (3, vlan) + arcs, "integer", str(status)))
    rows.sort()
    return rows


class Cache:
    """A snapshot of the bridge. A walk gets one consistent snapshot: a
    GETNEXT that continues a walk names a row of the current snapshot,
    while one that starts a walk names a table or column, which takes a
    fresh snapshot (so a walk right after traffic sees what was learned)."""

    def __init__(self):
        self.at, self.rows, self.oids, self.index = 0.0, [], [], set()

    def get(self, oid, continuing):
        now = time.monotonic()
        if now - self.at > TTL or not (continuing and oid in self.index):
            self.rows = snapshot()
            self.oids = [r[0] for r in self.rows]
            self.index = set(self.oids)
            self.at = now
        return self.rows, self.oids


def parse(s):
    return tuple(int(x) for x in s.strip().strip(".").split(".") if x)


def answer(row):
    oid, typ, val = row
    return ".%s\n%s\n%s\n" % (".".join(map(str, oid)), typ, val)


def main():
    cache = Cache()
    out = sys.stdout
    while True:
        line = sys.stdin.readline()
        if not line:
            return  # snmpd went away
        cmd = line.strip().lower()
        if cmd == "":
            return
        if cmd == "ping":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = parse(sys.stdin.readline())
            rows, oids = cache.get(oid, cmd == "getnext")
            if cmd == "get":
                i = bisect.bisect_left(oids, oid)
                hit = i < len(oids) and oids[i] == oid
            else:
                i = bisect.bisect_right(oids, oid)
                hit = i < len(oids)
            out.write(answer(rows[i]) if hit else "NONE\n")
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        else:
            out.write("NONE\n")
        out.flush()


if __name__ == "__main__":
    main()
