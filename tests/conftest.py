"""Shared fixtures. Tests marked `docker` use the real engine; with CI=true a missing engine fails them."""

from __future__ import annotations

import os

import docker
import pytest

from bench.run import engine


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    try:
        return engine.connect()
    except engine.EngineUnavailable as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {error}")
        pytest.skip(str(error))
