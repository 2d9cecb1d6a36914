#!/usr/bin/env bash
# Installs what the tests and tools use besides npm packages: Debian packages (tshark, tcpdump,
# tcpreplay, libpcap, iproute2, ping, traceroute, flow exporters, ...), Apache Kafka's jars
# from Maven Central, and pyarrow (PyPI, in a venv in the cache dir: the per-packet export
# tests read the records with it). Idempotent: installs only what is missing. Needs root for
# apt-get.
#
#   npm run setup            # everything
#   SETUP_SKIP_KAFKA=1 npm run setup
#   SETUP_SKIP_PYARROW=1 npm run setup
set -euo pipefail
cd "$(dirname "$0")/.."

# One package per line; a package is installed only when dpkg does not know it already.
PACKAGES=(
  tshark tcpdump tcpreplay libpcap-dev iproute2 iputils-ping traceroute
  softflowd pmacct
  time
  python3 python3-venv
)
if [ -f scripts/packages.extra ]; then
  while read -r p; do [ -n "$p" ] && [ "${p#\#}" = "$p" ] && PACKAGES+=("$p"); done < scripts/packages.extra
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture: answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "${SETUP_SKIP_KAFKA:-}" ]; then
  bash scripts/kafka.sh fetch
fi

# pyarrow, an Arrow reader independent of intstream's, for test/export. Debian 12 has no
# python3-pyarrow package (apt-cache policy python3-pyarrow: none), so: a venv in the cache dir
# with a pinned pyarrow from PyPI (binary wheels; nothing is compiled).
if [ -z "${SETUP_SKIP_PYARROW:-}" ]; then
  PYARROW_VERSION=26.0.1
  VENV="${INTSTREAM_CACHE:-${HOME:-/tmp}/.cache/intstream}/pyarrow-venv"
  if ! "$VENV/bin/python" -c "import sys, pyarrow; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
    echo "setup: installing pyarrow $PYARROW_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "pyarrow==$PYARROW_VERSION"
  fi
fi
echo "setup: done" >&2
