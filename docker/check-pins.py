"""Fail the build when the image holds a package its requirements.txt does not pin exactly.

Runs inside the image under Python 2.7 and 3.x alike: python check-pins.py requirements.txt
"""
from __future__ import print_function

import re
import subprocess
import sys

# Debian's venv lists this artefact; it is not a package anyone installed.
IGNORED = {"pkg-resources"}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pairs(lines):
    """name -> version of each `name==version` line (a lock's `--hash` continuation lines skipped)."""
    found = {}
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words and "==" in words[0]:
            name, version = words[0].split(";", 1)[0].split("==", 1)
            found[canonical(name)] = version
    return found


def public(version):
    """The version without its local label: torch's 2.13.0+cpu is 2.13.0."""
    return version.split("+")[0]


def main(path):
    with open(path) as handle:
        pinned = pairs(handle)
    frozen = subprocess.check_output([sys.executable, "-m", "pip", "freeze", "--all"]).decode("utf-8")
    problems = []
    for name, version in sorted(pairs(frozen.splitlines()).items()):
        if name in IGNORED:
            continue
        if name not in pinned:
            problems.append("%s==%s is installed but not pinned" % (name, version))
        elif public(version) != public(pinned[name]):
            problems.append("%s==%s is installed but %s is pinned" % (name, version, pinned[name]))
    for problem in problems:
        print("check-pins: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
