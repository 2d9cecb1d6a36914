#!/usr/bin/env bash
# Installs what the tests and tools use besides npm packages: Debian packages (tshark, tcpdump,
# tcpreplay, libpcap, iproute2, ping, traceroute, flow exporters, ...) and Apache Kafka's jars
# from Maven Central. Idempotent: installs only what is missing. Needs root for apt-get.
#
#   npm run setup            # everything
#   SETUP_SKIP_KAFKA=1 npm run setup
set -euo pipefail
cd "$(dirname "$0")/.."

# One package per line; a package is installed only when dpkg does not know it already.
PACKAGES=(
  tshark tcpdump tcpreplay libpcap-dev iproute2 iputils-ping traceroute
  softflowd pmacct
  time
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
echo "setup: done" >&2
