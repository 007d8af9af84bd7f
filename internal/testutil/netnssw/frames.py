#!/usr/bin/env python3
"""Send one Ethernet frame from host interface A to host interface B and
one back, through the switch's bridge, so it learns both MACs and counts
the octets. Run inside the hosts namespace: frames.py hA hB [count]

The hosts share one namespace, where the kernel would deliver IP traffic
between them locally (through lo) without it ever crossing the bridge, so
this writes raw frames (AF_PACKET) with the IEEE local experimental
ethertype 0x88b5, which the receiving host drops.
"""
import socket
import sys

ETHERTYPE = b"\x88\xb5"
PAYLOAD = b"dcimd netnssw test frame".ljust(64, b".")


def mac(ifname):
    with open("/sys/class/net/%s/address" % ifname) as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def send(src, dst, count):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        s.bind((src, 0))
        frame = mac(dst) + mac(src) + ETHERTYPE + PAYLOAD
        for _ in range(count):
            s.send(frame)
    finally:
        s.close()


def main():
    a, b = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    send(a, b, count)
    send(b, a, count)


if __name__ == "__main__":
    main()
