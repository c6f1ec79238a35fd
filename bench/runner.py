"""Runs the probe in a cell's image: no network, a memory limit, a timeout, and a checked answer."""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass
from functools import cache

import docker
import docker.errors
import jsonschema
import requests

from bench import paths
from bench.probe import catalog
from bench.results import Key

PYTHON = "/opt/venv/bin/python"
TAIL_CHARS = 4000


@dataclass(frozen=True)
class ProbeRun:
    document: dict | None  # the probe's JSON when it gave a valid one
    failure: str  # one line, when it did not
    log_tail: str  # the end of its stderr
    seconds: float


def probe_archive() -> bytes:
    """The probe's files as a tar rooted at probe/, for put_archive (works on remote engines too)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for source in sorted(paths.PROBE.glob("*.py")):
            tar.add(source, arcname=f"probe/{source.name}")
    return buffer.getvalue()


SCHEMAS = {
    "count": (catalog.COUNT_SCHEMA, "probe-3.schema.json"),
    "check": (catalog.CHECK_SCHEMA, "check-1.schema.json"),
}


def probe_command(key: Key) -> list[str]:
    return [PYTHON, "/probe/probe.py", "--cell", key.cell, "--model", key.model, f"--{_field(key)}", key.job]


def _field(key: Key) -> str:
    """The document's field that names the job."""
    return "counter" if key.kind == "count" else "check"


def run(
    client: docker.DockerClient, image: str, command: list[str], env: dict[str, str], timeout_s: float, memory: str
) -> tuple[int | str, bytes, bytes]:
    """Run `command` with the probe mounted in; (exit code or why it was stopped, stdout, stderr)."""
    container = client.containers.create(
        image,
        command=command,
        environment=env,
        network_disabled=True,
        mem_limit=memory,
        memswap_limit=memory,
        working_dir="/probe",
        labels={"org.flops-matrix.probe": "1"},
    )
    try:
        container.put_archive("/", probe_archive())
        container.start()
        try:
            status: int | str = container.wait(timeout=timeout_s)["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            container.kill()
            status = f"timed out after {timeout_s:g} s"
        container.reload()
        if container.attrs["State"].get("OOMKilled"):
            status = f"killed for exceeding the memory limit ({memory})"
        return status, container.logs(stdout=True, stderr=False), container.logs(stdout=False, stderr=True)
    finally:
        container.remove(force=True)


def probe(
    client: docker.DockerClient,
    image: str,
    key: Key,
    env: dict[str, str],
    timeout_s: float,
    memory: str,
    command: list[str] | None = None,
) -> ProbeRun:
    """One probe run, judged: a valid document for this request, or a one-line failure."""
    started = time.monotonic()
    status, stdout, stderr = run(client, image, command or probe_command(key), env, timeout_s, memory)
    tail = stderr.decode("utf-8", "replace")[-TAIL_CHARS:]
    seconds = round(time.monotonic() - started, 1)
    failure = ""
    document = None
    if status != 0:
        failure = f"probe exited with code {status}" if isinstance(status, int) else f"probe {status}"
        last = [line for line in tail.splitlines() if line.strip()][-1:]
        if last:
            failure += f": {last[0].strip()[:300]}"
    else:
        try:
            document = parse(stdout, key)
        except ValueError as error:
            failure = str(error)
    return ProbeRun(document, failure, tail, seconds)


def parse(stdout: bytes, key: Key) -> dict:
    """The probe's document, checked against its schema and the request; ValueError otherwise."""
    text = stdout.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError(f"probe printed no JSON document (stdout began: {text[:120]!r})") from None
    name, schema_file = SCHEMAS[key.kind]
    try:
        jsonschema.validate(document, _schema(schema_file))
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "document"
        raise ValueError(f"probe output breaks schema {name} at {where}: {error.message[:200]}") from None
    asked = {"cell": key.cell, "model": key.model, _field(key): key.job}
    wrong = {k: document[k] for k, v in asked.items() if document[k] != v}
    if wrong:
        raise ValueError(f"probe answered a different request: {wrong}")
    if key.kind == "count" and document["flops"] != document["raw_total"] * document["flops_per_unit"]:
        raise ValueError("probe's flops is not raw_total x flops_per_unit")
    return document


@cache
def _schema(file_name: str) -> dict:
    return json.loads((paths.SCHEMAS / file_name).read_text())
