#!/usr/bin/env bash
# Installs the Debian packages the tests (or the benchmarks) need, when a command
# they provide is missing. Usage: scripts/deps.sh test|bench
set -euo pipefail

# command -> Debian package
declare -A test_deps=(
  [curl]=curl
  [nginx]=nginx
  [php-fpm8.2]=php8.2-fpm
  [uwsgi]=uwsgi
  [/usr/lib/uwsgi/plugins/python3_plugin.so]=uwsgi-plugin-python3
  [/usr/lib/python3/dist-packages/flask/__init__.py]=python3-flask
  [/usr/bin/python3]=python3
  [sslscan]=sslscan
  [/usr/lib/python3/dist-packages/django/__init__.py]=python3-django
  [redis-server]=redis-server
  [chromium]=chromium
  [haproxy]=haproxy
)
declare -A bench_deps=(
  [curl]=curl
  [h2load]=nghttp2-client
  [perf]=linux-perf
  [wrk]=wrk
  [taskset]=util-linux
  [nginx]=nginx
  [gunicorn]=gunicorn
  [php-fpm8.2]=php8.2-fpm
  [uwsgi]=uwsgi
  [/usr/lib/uwsgi/plugins/python3_plugin.so]=uwsgi-plugin-python3
  [/usr/lib/python3/dist-packages/flask/__init__.py]=python3-flask
  [/usr/bin/python3]=python3
  [redis-server]=redis-server
)

case "${1:-test}" in
  test) declare -n deps=test_deps ;;
  bench) declare -n deps=bench_deps ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

# A key is a command on PATH, or (starting with /) a file a package installs.
missing=()
for cmd in "${!deps[@]}"; do
  if [[ "$cmd" == /* ]]; then
    [ -e "$cmd" ] || missing+=("${deps[$cmd]}")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${deps[$cmd]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
