"""The Docker engines the matrix talks to, through the Docker SDK for Python.

Any engine the SDK reaches will do: the environment's (DOCKER_HOST, else the local socket), or
each `--engine URL` (`unix://`, `tcp://` with TLS from DOCKER_CERT_PATH and DOCKER_TLS_VERIFY,
`ssh://` through the ssh client).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import docker
import docker.errors
import docker.tls

from bench.errors import first_line
from bench.run.bases import Bases

SETUP_HINT = "run docker/setup-host.sh (Debian: installs docker.io, starts dockerd) or point DOCKER_HOST at an engine"
SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://")


class EngineUnavailable(RuntimeError):
    """No Docker engine answers where the environment or an option says one should be."""


@dataclass
class Engine:
    url: str  # as the user named it ("default" for the environment's)
    client: docker.DockerClient
    version: str
    arch: str
    broken: str = ""  # set once it stops answering during a run
    _bases: Bases | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bases(self, mode: str, mirror: str | None) -> Bases:
        with self._lock:
            if self._bases is None:
                self._bases = Bases(self.client, mode, mirror)
            return self._bases


def connect(url: str | None = None) -> docker.DockerClient:
    """A client whose engine has answered a ping; EngineUnavailable with a one-line hint otherwise."""
    where = url or "the environment's engine"
    try:
        if url is None:
            client = docker.from_env(timeout=600)
        else:
            client = docker.DockerClient(
                base_url=url, timeout=600, tls=_tls(url), use_ssh_client=url.startswith("ssh://")
            )
        client.ping()
    except docker.errors.DockerException as error:
        raise EngineUnavailable(f"no Docker engine answers at {where} ({first_line(error)}); {SETUP_HINT}") from None
    return client


def _tls(url: str) -> docker.tls.TLSConfig | bool:
    """TLS for tcp:// engines, from the same variables the docker CLI reads."""
    cert_path = os.environ.get("DOCKER_CERT_PATH")
    if not url.startswith("tcp://") or not cert_path:
        return False
    return docker.tls.TLSConfig(
        client_cert=(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem")),
        ca_cert=os.path.join(cert_path, "ca.pem"),
        verify=os.environ.get("DOCKER_TLS_VERIFY", "") not in ("", "0"),
    )


def engines(urls: list[str]) -> list[Engine]:
    """Each named engine (or the environment's), connected and described."""
    found = []
    for url in urls or [None]:
        client = connect(url)
        version = client.version()
        found.append(
            Engine(url or "default", client, str(version.get("Version", "unknown")), str(version.get("Arch", "amd64")))
        )
    return found
