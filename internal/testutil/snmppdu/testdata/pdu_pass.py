#!/usr/bin/env python3
"""net-snmp pass_persist handler emulating an APC switched PDU (test fixture).

Derived from the harness script (shared/harness/peers/pdu/pdu_pass.py); the
protocol handling is the same, with these additions for tests: every SET
request is written to the event log (so a test can prove that no SET was
sent), a reboot of an outlet that is off ends with it on, and the outlet
count and reboot time come from the environment.

snmpd.conf:  pass_persist .1.3.6.1.4.1.318 /usr/bin/python3 /path/pdu_pass.py
Env:  PDU_STATE    state dir: outlets.json + events.log (required)
      PDU_OUTLETS  number of outlets (default 8)
      PDU_REBOOT_S seconds an outlet stays off during a reboot (default 2)

Served (PowerNet-MIB), n = 1..PDU_OUTLETS:
  sPDUOutletCtl                  .1.3.6.1.4.1.318.1.1.4.4.2.1.3.<n>     rw 1=on 2=off 3=reboot
  sPDUOutletCtlName              .1.3.6.1.4.1.318.1.1.4.4.2.1.4.<n>     ro
  rPDUOutletControlOutletName    .1.3.6.1.4.1.318.1.1.12.3.3.1.1.2.<n>  ro
  rPDUOutletControlOutletCommand .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.<n>  rw 1=immediateOn
                                 2=immediateOff 3=immediateReboot (GET: 1 on / 2 off)
  rPDUOutletStatusOutletState    .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.<n>  ro 1=on 2=off
Bad SETs answer not-writable (read-only or unknown OID), wrong-type (not an
INTEGER) or wrong-value (an INTEGER other than 1, 2, 3).

The script must print nothing but protocol answers: anything else desyncs snmpd.
"""
import json
import os
import sys
import time

STATE = os.environ["PDU_STATE"]
N = int(os.environ.get("PDU_OUTLETS", "8"))
REBOOT_S = float(os.environ.get("PDU_REBOOT_S", "2"))
SF = os.path.join(STATE, "outlets.json")
LOG = os.path.join(STATE, "events.log")

S_CTL = (1, 3, 6, 1, 4, 1, 318, 1, 1, 4, 4, 2, 1, 3)
S_NAME = (1, 3, 6, 1, 4, 1, 318, 1, 1, 4, 4, 2, 1, 4)
R_NAME = (1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 3, 1, 1, 2)
R_CMD = (1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 3, 1, 1, 4)
R_STATE = (1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 5, 1, 1, 4)
COLUMNS = (S_CTL, S_NAME, R_NAME, R_CMD, R_STATE)
WRITABLE = (S_CTL, R_CMD)
STATE_COLUMNS = (S_CTL, R_CMD, R_STATE)


def load():
    try:
        with open(SF) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {str(n): {"on": True, "back_on_at": 0} for n in range(1, N + 1)}


def save(st):
    tmp = SF + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.replace(tmp, SF)


def event(msg):
    with open(LOG, "a") as f:
        f.write("%.3f %s\n" % (time.time(), msg))


def is_on(st, n):
    o = st.setdefault(str(n), {"on": True, "back_on_at": 0})
    if o["back_on_at"] and time.time() >= o["back_on_at"]:
        o["on"], o["back_on_at"] = True, 0
        save(st)
        event("outlet %d on (reboot finished)" % n)
    return o["on"]


def value(col, n, st):
    if col in STATE_COLUMNS:
        return "integer", str(1 if is_on(st, n) else 2)
    return "string", "Outlet %d" % n


OIDS = sorted(c + (n,) for c in COLUMNS for n in range(1, N + 1))


def parse(s):
    try:
        return tuple(int(x) for x in s.strip().strip(".").split(".") if x != "")
    except ValueError:
        return ()


def fmt(t):
    return "." + ".".join(map(str, t))


def split(oid):
    if len(oid) >= 2 and oid[:-1] in COLUMNS and 1 <= oid[-1] <= N:
        return oid[:-1], oid[-1]
    return None, None


def out(*lines):
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def do_set(oid, typ_val):
    col, n = split(oid)
    if col is None or col not in WRITABLE:
        return "not-writable"
    parts = typ_val.split(None, 1)
    if len(parts) != 2 or parts[0].lower() not in ("integer", "int"):
        return "wrong-type"
    try:
        v = int(parts[1])
    except ValueError:
        return "wrong-type"
    st = load()
    is_on(st, n)
    o = st[str(n)]
    if v == 1:
        o["on"], o["back_on_at"] = True, 0
        event("outlet %d on" % n)
    elif v == 2:
        o["on"], o["back_on_at"] = False, 0
        event("outlet %d off" % n)
    elif v == 3:
        o["on"], o["back_on_at"] = False, time.time() + REBOOT_S
        event("outlet %d reboot (off for %.1fs)" % (n, REBOOT_S))
    else:
        return "wrong-value"
    save(st)
    return "DONE"


def main():
    os.makedirs(STATE, exist_ok=True)
    if not os.path.exists(SF):
        save(load())
    while True:
        cmd = sys.stdin.readline()
        if not cmd:
            return
        cmd = cmd.strip().lower()
        if cmd == "ping":
            out("PONG")
        elif cmd == "get":
            oid = parse(sys.stdin.readline())
            col, n = split(oid)
            if col is None:
                out("NONE")
            else:
                t, v = value(col, n, load())
                out(fmt(oid), t, v)
        elif cmd == "getnext":
            oid = parse(sys.stdin.readline())
            nxt = next((o for o in OIDS if o > oid), None)
            if nxt is None:
                out("NONE")
            else:
                col, n = split(nxt)
                t, v = value(col, n, load())
                out(fmt(nxt), t, v)
        elif cmd == "set":
            oid = parse(sys.stdin.readline())
            tv = sys.stdin.readline().strip()
            res = do_set(oid, tv)
            event("set %s %s -> %s" % (fmt(oid), tv, res))
            out(res)
        elif cmd == "":
            continue
        else:
            out("NONE")


if __name__ == "__main__":
    main()
