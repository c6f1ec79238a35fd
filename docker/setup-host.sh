#!/bin/sh
# Make this Debian host ready for `nox -s matrix`: a Docker engine that answers, mmdebstrap for
# local base images, Chromium (the test that opens results/report.html as a person would),
# docker-registry (the test that moves images through a real registry), and nox.
# Safe to run again: each step is skipped when already done.
set -eu

NOX_VERSION=2026.10.20
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_pkgs=""
command -v dockerd >/dev/null 2>&1 || need_pkgs="$need_pkgs docker.io"
command -v mmdebstrap >/dev/null 2>&1 || need_pkgs="$need_pkgs mmdebstrap"
command -v chromium >/dev/null 2>&1 || need_pkgs="$need_pkgs chromium"
command -v docker-registry >/dev/null 2>&1 || need_pkgs="$need_pkgs docker-registry"
if [ -n "$need_pkgs" ]; then
    echo "setup: installing$need_pkgs" >&2
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $need_pkgs >&2
fi

if docker info >/dev/null 2>&1; then
    echo "setup: a Docker engine already answers" >&2
else
    echo "setup: starting dockerd (log: /var/log/dockerd.log)" >&2
    # No systemd here: start the daemon in the background and wait for its socket.
    $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then
            echo "setup: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
            exit 1
        fi
        sleep 1
    done
    echo "setup: dockerd is up" >&2
fi

if ! command -v nox >/dev/null 2>&1 || [ "$(nox --version 2>&1)" != "$NOX_VERSION" ]; then
    echo "setup: installing nox==$NOX_VERSION" >&2
    python3 -m pip install -q "nox==$NOX_VERSION" >&2
fi
