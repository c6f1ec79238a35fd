#!/bin/sh
# Usage: install-python.sh VERSION   (run by the Dockerfile, in /build)
# Gives the image Python VERSION at /opt/venv/bin/python with exactly the lock requirements.txt:
# - the Debian packages of debian.txt (name=version, one a line; empty on registry bases, whose
#   interpreter is the image's own), each at its pinned version; a pin the archive no longer has stops
#   the build with one line naming it and what the archive has;
# - pip from PyPI's own wheel of the version the lock pins (bootstrap/, checked against the lock's
#   hashes like every other file), never a distribution's copy of pip; it installs pip, setuptools and
#   wheel first;
# - every package from the lock with --require-hashes: wheels in wheels/ (a wheel folder the user
#   named) are taken only when their hash is in the lock.
# ca-bundle.crt, when not empty, is the CA bundle pip trusts (for TLS-intercepting proxies).
set -eu
version="$1"
cd /build
[ -s ca-bundle.crt ] && export PIP_CERT=/build/ca-bundle.crt
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1

if [ -s debian.txt ]; then
    apt-get update -q
    missing=""
    for pin in $(grep -v '^#' debian.txt); do
        name=${pin%%=*}
        wanted=${pin#*=}
        available=$(apt-cache madison "$name" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u | tr '\n' ' ')
        case " $available " in
        *" $wanted "*) ;;
        *) missing="$missing $name=$wanted (the archive has: ${available:-none})" ;;
        esac
    done
    if [ -n "$missing" ]; then
        echo "ERROR: Debian pins no longer in the archive:$missing; refresh them with: nox -s lock -- --upgrade" >&2
        exit 3
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(grep -v '^#' debian.txt)
    rm -rf /var/lib/apt/lists/*
fi

case "$version" in
2.*)
    # Python 2 has no venv: its own interpreter stands at /opt/venv/bin/python.
    mkdir -p /opt/venv/bin
    ln -sf "$(command -v "python$version")" /opt/venv/bin/python
    ;;
*) "python$version" -m venv --without-pip /opt/venv ;;
esac
# pip, setuptools and wheel first (legacy sdists need setuptools to build), from the lock's own entries
awk '/^[a-z0-9]/ { keep = ($0 ~ /^(pip|setuptools|wheel)==/) } keep' requirements.txt >tools.txt
/opt/venv/bin/python "$(ls bootstrap/pip-*.whl)/pip" install --no-deps --require-hashes -r tools.txt
/opt/venv/bin/python -m pip install --no-deps --require-hashes --find-links /build/wheels -r requirements.txt
/opt/venv/bin/python -m pip check
/opt/venv/bin/python check-pins.py requirements.txt
rm -rf /build/wheels /build/bootstrap
