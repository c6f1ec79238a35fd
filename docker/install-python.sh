#!/bin/sh
# Usage: install-python.sh VERSION   (run by the Dockerfile, in /build)
# Gives the image Python VERSION at /opt/venv/bin/python with the pins of requirements.txt
# installed (and nothing unpinned): the base's own interpreter where it has one (registry python:X-slim images), else
# Debian's (local bases). Wheels in wheels/ are preferred to PyPI; ca-bundle.crt, when not
# empty, is the CA bundle pip trusts (for TLS-intercepting proxies).
set -eu
version="$1"
cd /build
[ -s ca-bundle.crt ] && export PIP_CERT=/build/ca-bundle.crt
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1

if ! command -v "python$version" >/dev/null 2>&1; then
    case "$version" in
        2.*) packages="python$version python-pip-whl" ;;  # Debian ships no pip for Python 2
        *) packages="python$version python3-venv" ;;
    esac
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages
    rm -rf /var/lib/apt/lists/*
fi

tools=$(grep -iE '^(pip|setuptools|wheel)==' requirements.txt || true)
case "$version" in
    2.*)
        # Python 2 has no venv: its own interpreter stands at /opt/venv/bin/python.
        mkdir -p /opt/venv/bin
        ln -sf "$(command -v "python$version")" /opt/venv/bin/python
        if /opt/venv/bin/python -m pip --version >/dev/null 2>&1; then
            bootstrap="/opt/venv/bin/python -m pip"
        else
            bootstrap="/opt/venv/bin/python $(ls /usr/share/python-wheels/pip-*.whl | head -n 1)/pip"
        fi
        ;;
    *)
        "python$version" -m venv /opt/venv
        bootstrap="/opt/venv/bin/python -m pip"
        ;;
esac
[ -z "$tools" ] || $bootstrap install $tools
/opt/venv/bin/python -m pip install --find-links /build/wheels -r requirements.txt
/opt/venv/bin/python -m pip check
/opt/venv/bin/python check-pins.py requirements.txt
rm -rf /build/wheels
