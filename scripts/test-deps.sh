#!/usr/bin/env bash
# Installs the Debian packages that the test suite starts as real peers.
# Idempotent and quiet when everything is already there.
set -euo pipefail
pkgs=(postgresql-15 snmpd snmp openipmi ipmitool python3 iproute2 busybox-static isc-dhcp-client isc-dhcp-relay tftp-hpa atftp tftpd-hpa qemu-system-x86 ipxe-qemu ovmf ipxe dnsmasq-base)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "installing test dependencies: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# No service may start while installing: tftpd-hpa's postinst would serve
# udp/69 on every interface. A policy-rc.d already there is left alone.
rcd=/usr/sbin/policy-rc.d
if [ ! -e "$rcd" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$rcd" >/dev/null && $SUDO chmod +x "$rcd"
  trap '$SUDO rm -f "$rcd"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests start their own throwaway peers on free loopback ports; the
# packaged services are not needed (and snmpd would sit on udp/161).
if command -v systemctl >/dev/null; then
  for svc in postgresql snmpd tftpd-hpa; do
    # tftpd-hpa was kept from starting above, but is enabled for the next boot.
    if systemctl is-active -q "$svc" 2>/dev/null ||
      { [ "$svc" = tftpd-hpa ] && systemctl is-enabled -q "$svc" 2>/dev/null; }; then
      $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi
