"""Images by declared inputs: registry names, and what a pulled image must carry (fakes for the engine)."""

from __future__ import annotations

from dataclasses import dataclass, field

import docker.errors
import pytest

from bench.run import bases, cells, context, images


def declared() -> context.Declaration:
    cell = cells.load()["tf-1.12.0"]
    return context.declare(cell, bases.declare(cell, "local"))


@dataclass
class FakeImage:
    labels: dict
    id: str = "sha256:pulled"
    tags: list = field(default_factory=list)

    def tag(self, repository: str, tag: str) -> bool:
        self.tags.append(f"{repository}:{tag}")
        return True


class FakeImages:
    def __init__(self, remote: FakeImage | None) -> None:
        self.remote = remote
        self.pulled: list[str] = []

    def pull(self, repository: str, tag: str) -> FakeImage:
        self.pulled.append(f"{repository}:{tag}")
        if self.remote is None:
            raise docker.errors.NotFound("manifest unknown")
        return self.remote

    def get(self, name: str) -> FakeImage:
        if self.remote is not None and name in self.remote.tags:
            return self.remote
        raise docker.errors.ImageNotFound(name)


class FakeClient:
    def __init__(self, remote: FakeImage | None) -> None:
        self.images = FakeImages(remote)


@pytest.mark.parametrize("name", ["localhost:5000/fm", "127.0.0.1:5000", "registry.example/team/fm"])
def test_a_registry_is_host_port_and_prefix(name: str) -> None:
    assert images.check_registry(name + "/") == name


@pytest.mark.parametrize("name", ["http://localhost:5000", "Local:5000", "host:port/x", "a b"])
def test_anything_else_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(ValueError, match="expected HOST"):
        images.check_registry(name)


def test_an_image_the_registry_holds_for_these_inputs_is_pulled_and_tagged() -> None:
    declaration = declared()
    remote = FakeImage({images.LABEL_INPUTS: declaration.inputs_hash, images.LABEL_BUILD: '{"base": {"kind": "x"}}'})
    client = FakeClient(remote)
    found = images.find(client, declaration, "localhost:5000/fm")  # type: ignore[arg-type]
    assert client.images.pulled == [f"localhost:5000/fm/tf-1.12.0:{declaration.inputs_hash}"]
    assert found is not None and found.origin == "pulled" and found.tag == images.tag_for(declaration)
    assert found.provenance()["base"] == {"kind": "x"}


def test_an_image_under_that_tag_with_other_inputs_is_not_used() -> None:
    declaration = declared()
    client = FakeClient(FakeImage({images.LABEL_INPUTS: "another hash"}))
    assert images.find(client, declaration, "localhost:5000/fm") is None  # type: ignore[arg-type]


def test_no_image_in_the_registry_means_a_build() -> None:
    client = FakeClient(None)
    assert images.find(client, declared(), "localhost:5000/fm") is None  # type: ignore[arg-type]
    assert images.find(client, declared()) is None  # type: ignore[arg-type]
