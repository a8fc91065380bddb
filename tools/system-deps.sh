#!/usr/bin/env bash
# System packages the browser tests need: Debian's Chromium (Playwright drives it; we never run
# `playwright install`, which downloads a browser build) and a CJK font so that screenshots show
# Hangul. matplotlib does not need this: its Hangul font comes with `pip install`.
# As root with apt-get: installs what is missing. Otherwise: says what to install, exits 1.
set -euo pipefail

missing=()
if [[ -z "${CHROMIUM:-}" ]] && [[ ! -x /usr/bin/chromium ]] && ! command -v chromium >/dev/null; then
  missing+=(chromium)
fi
if ! command -v fc-list >/dev/null || [[ -z "$(fc-list :lang=ko family 2>/dev/null)" ]]; then
  missing+=(fonts-nanum)
fi
if ! command -v fc-list >/dev/null; then
  missing+=(fontconfig)
fi
# npm fetches the pinned Thebe package that Live Code serves (book/_ext/npm-assets.json).
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system-deps: chromium, a Korean font and npm are installed"
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fc-cache -f >/dev/null 2>&1 || true
  exit 0
fi

echo "system-deps: missing ${missing[*]}." >&2
echo "  Install them, e.g. on Debian/Ubuntu: sudo apt-get install chromium fonts-nanum" >&2
echo "  (or point CHROMIUM=/path/to/chromium at an existing Chromium)." >&2
exit 1
