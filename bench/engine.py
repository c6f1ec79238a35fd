"""The Docker engine the matrix talks to, through the Docker SDK for Python."""

from __future__ import annotations

import docker
import docker.errors

SETUP_HINT = "run docker/setup-host.sh (Debian: installs docker.io, starts dockerd) or point DOCKER_HOST at an engine"


class EngineUnavailable(RuntimeError):
    """No Docker engine answers where the environment says one should be."""


def connect() -> docker.DockerClient:
    """A client whose engine has answered a ping; EngineUnavailable with a one-line hint otherwise."""
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as error:
        raise EngineUnavailable(f"no Docker engine answers ({first_line(error)}); {SETUP_HINT}") from None
    return client


def engine_version(client: docker.DockerClient) -> str:
    return str(client.version().get("Version", "unknown"))


def first_line(error: Exception | str) -> str:
    """The first line of an error, short enough for a one-line message."""
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
