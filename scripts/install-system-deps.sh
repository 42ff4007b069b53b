#!/usr/bin/env bash
# Installs the system packages the lab and the tests need: Asterisk 16 (from Debian's previous
# release security suite, pinned low so it never replaces a package of this release), sipp,
# baresip (its ctrl_tcp, aufile, aubridge and sndfile modules: the demo's and the tests'
# softphones), sox (callcenter prompts import) with its mp3 reader, PostgreSQL, and Chromium
# with its driver and a Japanese font (the pages' end-to-end tests and screenshots); Pango
# (WeasyPrint draws the monthly report's PDF with it) and poppler-utils (pdftotext, pdffonts,
# pdftoppm: the report tests read the PDF back); systemd's systemd-analyze (the tests verify
# contrib/systemd/callcenter.service with it).
# Idempotent: a second run only checks.
#
# No archive host is written here: the extra apt source is built from the URIs already in
# this machine's own Debian source file.
set -euo pipefail

need=(asterisk sipp baresip sox pg_ctlcluster chromium chromedriver pdftotext pdftoppm pdffonts
  systemd-analyze)
missing=0
for cmd in "${need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ] || missing=1
done
# The service time zone (Asterisk's GotoIfTime and Python's zoneinfo read it).
[ -e /usr/share/zoneinfo/Asia/Tokyo ] || missing=1
# Japanese text in the pages' screenshots (without it Chromium draws empty boxes).
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing=1
# sox reads mp3 recordings only with this format module.
ls /usr/lib/*/sox/libsox_fmt_mp3.so >/dev/null 2>&1 || missing=1
# WeasyPrint's text layout (the report's PDF).
ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0" || missing=1
if [ "$missing" = 0 ] && [ "${FORCE:-0}" != 1 ]; then
  echo "install-system-deps: all present"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

src=/etc/apt/sources.list.d/debian.sources
extra=/etc/apt/sources.list.d/callcenter-bullseye-security.sources
if [ ! -f "$extra" ]; then
  # The security archive's URI is the one whose stanza names a "-security" suite.
  uri=$(awk '
    /^URIs:/ { u = $2 }
    /^Suites:/ { if ($0 ~ /-security/) { print u; exit } }
    /^$/ { u = "" }
  ' "$src")
  if [ -z "$uri" ]; then
    echo "install-system-deps: no security archive URI found in $src" >&2
    exit 1
  fi
  $SUDO tee "$extra" >/dev/null <<SRC
Types: deb
URIs: $uri
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  # Low priority: only packages asked for by name (and their missing dependencies) come from it.
  $SUDO tee /etc/apt/preferences.d/callcenter-bullseye-security >/dev/null <<'PIN'
Package: *
Pin: release n=bullseye-security
Pin-Priority: 100
PIN
fi

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  asterisk asterisk-modules asterisk-config \
  sip-tester baresip-core sox libsox-fmt-mp3 \
  postgresql postgresql-client tzdata \
  chromium chromium-driver fonts-noto-cjk \
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils systemd >/dev/null
# The packaged Asterisk and PostgreSQL services are not used: the lab and the tests start
# private instances. Stop them so they hold no ports.
$SUDO service asterisk stop >/dev/null 2>&1 || true
$SUDO service postgresql stop >/dev/null 2>&1 || true
echo "install-system-deps: installed $(asterisk -V 2>/dev/null || echo asterisk?)"
