#!/usr/bin/env bash
# Installs the Debian packages a make target needs, when they are missing.
#
# Usage: scripts/bootstrap.sh PACKAGE...
# As root it runs apt-get (with --no-install-recommends: libzbar0 alone would otherwise pull
# 36 packages); as anyone else it prints the exact apt line and fails, so nothing is half-set-up.
set -euo pipefail
missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages / 缺少系统软件包: ${missing[*]}" >&2
    echo "run / 请运行: sudo apt-get update && sudo $line" >&2
    exit 1
fi
echo "installing Debian packages / 安装系统软件包: ${missing[*]}" >&2
# apt-get update only once a day per machine: the package lists are big and rarely matter more.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive $line -qq
