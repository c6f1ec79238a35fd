"""What is installed in the image the probe runs in (Python 2.7 and 3.x alike)."""
from __future__ import absolute_import, division, print_function

import subprocess
import sys


def dist_version(name):
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        import pkg_resources
        return pkg_resources.get_distribution(name).version
    return metadata.version(name)


def pip_freeze():
    out = subprocess.check_output([sys.executable, "-m", "pip", "freeze", "--all"])
    return sorted(line for line in out.decode("utf-8").splitlines() if line.strip())


def debian_packages():
    """name=version of each Debian package in the image (dpkg-query), or [] where there is no dpkg."""
    try:
        out = subprocess.check_output(["dpkg-query", "-W", "-f", "${Package}=${Version}\\n"])
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(line for line in out.decode("utf-8").splitlines() if line.strip())
