#!/usr/bin/env bash
# Install the Debian packages named (apt-get) that are not on PATH yet; the first argument says
# what needs them. Usage: scripts/need.sh "the tests" chromium ffmpeg
set -euo pipefail
why=$1
shift
missing=""
for tool in "$@"; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  echo "==> installing$missing (apt-get, needed by $why)"
  # Another install running beside this one (the tests' and the benchmarks' set-up on a new
  # machine) holds dpkg's lock: wait for it rather than fail.
  apt=(apt-get -o DPkg::Lock::Timeout=600 install -y -q)
  if [ "$(id -u)" = 0 ]; then "${apt[@]}" $missing >/dev/null
  else sudo "${apt[@]}" $missing >/dev/null; fi
fi
