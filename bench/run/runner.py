"""Runs the probe in a cell's image, one container for all of the cell's jobs, and checks each answer.

The container is locked down: no network, a non-root user, a read-only root filesystem with a
tmpfs for scratch and HOME, no capabilities, no-new-privileges, memory, CPU and pids limits, and a
time limit inside the container too (the probe's own --budget), so a probe outlives no orchestrator.
The probe streams one event per line (start, done, failed). A job that crashes or hangs fails
alone: the probe forks each job, and if the container itself dies, the jobs left get a new one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import re
import socket
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import docker
import docker.errors
import jsonschema
import requests
from docker.types import Mount

from bench import paths
from bench.probe import catalog, variants
from bench.records.results import PROBE_SCHEMAS, Key, load_schema

PYTHON = "/opt/venv/bin/python"
TAIL_CHARS = 4000
LABEL = "org.flops-matrix.probe"
LABEL_OWNER = "org.flops-matrix.owner"  # host:pid of the orchestrator that started it
USER = "65534:65534"  # nobody
USER_FILES = "user"  # under /probe: the user's model files and definitions (bench/models/selection.py payload)
GRACE_S = 30.0  # at most, beyond the probe's own limits, before the orchestrator stops waiting
GO = "go"  # under /probe: a file per job the host lets start (probe.py --go), so no probe outlives its host
STOP_S = 8.0  # at most, waiting for the engine to remove a container when the run is stopped
MAX_TIMEOUT_S = 86400.0  # a job's timeout at most: a day (the container's budget and the deadlines stay finite)

_live: set[docker.models.containers.Container] = set()  # this run's probe containers, for stop_all
_live_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 600.0  # per job
    memory: str = "8g"
    cpus: float = 2.0
    pids: int = 1024


@dataclass(frozen=True)
class ProbeRun:
    key: Key
    document: dict | None  # the probe's JSON when it gave a valid one
    failure: str  # one line, when it did not
    log_tail: str  # the end of its stderr
    seconds: float  # from the job's start to its answer
    startup_s: float = 0.0  # first job of a container: from its start to the job's (imports included)


def probe_archive() -> bytes:
    """The probe's files as a tar for put_archive into /probe (works on remote engines too).

    Deterministic (no times or owners), so that its hash can key cached results."""
    return archive({source.name: source.read_bytes() for source in paths.PROBE.glob("*.py")})


def archive(files: dict[str, bytes]) -> bytes:
    """Files (name -> content; a name may hold one folder) as a deterministic tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for folder in sorted({name.rpartition("/")[0] for name in files} - {""}):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


@cache
def probe_hash(job: str = "") -> str:
    """The hash of the probe files a job runs: every shared file, and of the counters' own modules only
    its counter's and those that module imports, so that changing or adding one counter re-measures that
    counter alone. A check runs no counter's module: it hashes the shared files alone; no job, every file."""
    sources = {source.name: source.read_bytes() for source in paths.PROBE.glob("*.py")}
    own = {name for name in sources if name.startswith("count_")}  # the counters' modules (catalog.collect)
    counter = variants.split(job)[0]
    if counter in catalog.COUNTERS:
        wanted = [f"{catalog.COUNTERS[counter].module}.py"]
    else:
        wanted = [] if job in catalog.CHECKS else sorted(own)
    kept = {name: text for name, text in sources.items() if name not in own}
    while wanted:
        name = wanted.pop()
        if name in own and name not in kept:
            kept[name] = sources[name]
            wanted += [f"{m}.py" for m in re.findall(r"^\s*(?:import|from) (\w+)", sources[name].decode(), re.M)]
    return hashlib.sha256(archive(kept)).hexdigest()


def probe_command(cell: str, keys: list[Key], limits: Limits, extra: bool = False) -> list[str]:
    """The probe for these jobs, under a container-wide time limit it keeps itself (--budget: as the
    container's first process, so that no process a job can reach holds the event pipe); `extra`: with
    the definitions the zoo lacks (USER_FILES)."""
    jobs = json.dumps([[key.model, key.kind, key.job] for key in keys])
    budget = int(limits.timeout_s * len(keys) + _grace(limits) + 60)  # + importing the frameworks
    probe = [PYTHON, "/probe/probe.py", "--cell", cell, "--timeout", f"{limits.timeout_s:g}", "--jobs", jobs]
    probe += ["--go", f"/probe/{GO}", "--budget", str(budget)]
    if extra:
        probe += ["--models-file", f"/probe/{USER_FILES}/models.json"]
    return probe


def _grace(limits: Limits) -> float:
    return min(GRACE_S, limits.timeout_s)


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def create(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    env: dict[str, str],
    limits: Limits,
    extra: dict[str, bytes] | None = None,
) -> docker.models.containers.Container:
    """A locked-down container with the probe in /probe (and `extra` files in /probe/user), not yet started."""
    container = client.containers.create(
        image,
        command=command,
        environment={**env, "HOME": "/tmp"},
        network_disabled=True,
        user=USER,
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=1g,mode=1777"},
        mounts=[Mount(target="/probe", source=None, type="volume")],  # put_archive may write a volume
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=limits.memory,
        memswap_limit=limits.memory,
        nano_cpus=int(limits.cpus * 1e9),
        pids_limit=limits.pids,
        working_dir="/probe",
        labels={LABEL: "1", LABEL_OWNER: owner()},
    )
    try:
        container.put_archive("/probe", probe_archive())
        if extra:
            container.put_archive("/probe", archive({f"{USER_FILES}/{n}": data for n, data in extra.items()}))
    except BaseException:
        container.remove(force=True, v=True)
        raise
    with _live_lock:
        _live.add(container)
    return container


def remove(container: docker.models.containers.Container) -> None:
    with _live_lock:
        _live.discard(container)
    container.remove(force=True, v=True)


def stop_all() -> None:
    """Remove every probe container this run started (on Ctrl-C or SIGTERM), in parallel and within STOP_S
    seconds of waiting; never raises."""
    with _live_lock:
        containers = list(_live)
        _live.clear()

    def gone(container: docker.models.containers.Container) -> None:
        try:
            container.remove(force=True, v=True)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            pass

    threads = [threading.Thread(target=gone, args=(c,), daemon=True) for c in containers]  # all at once
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + STOP_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True)
class Launch:
    """What every container of one cell's run is started from (run_cell's arguments but the jobs)."""

    client: docker.DockerClient
    image: str
    cell: str
    env: dict[str, str]
    limits: Limits
    command: Callable[[list[Key]], list[str]] | None = None
    started: Callable[[Key], None] | None = None
    extra: dict[str, bytes] | None = None


def run_cell(
    client: docker.DockerClient,
    image: str,
    cell: str,
    keys: list[Key],
    env: dict[str, str],
    limits: Limits,
    command: Callable[[list[Key]], list[str]] | None = None,
    started: Callable[[Key], None] | None = None,
    extra: dict[str, bytes] | None = None,
) -> Iterator[ProbeRun]:
    """Each job's run, in order, as the probe finishes it; a dead container is replaced for the rest.
    `extra`: files for /probe/user (bench/models/selection.payload)."""
    launch = Launch(client, image, cell, env, limits, command, started, extra)
    left = list(keys)
    while left:
        done = 0
        for run in _one_container(launch, left):
            done += 1
            yield run
        left = left[done:]


def _one_container(launch: Launch, keys: list[Key]) -> Iterator[ProbeRun]:
    """Runs until the container ends; yields at least one run (the first job fails if nothing came)."""
    limits, started = launch.limits, launch.started
    argv = launch.command(keys) if launch.command else probe_command(launch.cell, keys, limits, bool(launch.extra))
    container = create(launch.client, launch.image, argv, launch.env, limits, launch.extra)
    lines: queue.Queue[bytes | None] = queue.Queue()
    reported = 0
    try:
        _go(container, 0)
        container.start()
        threading.Thread(target=_read_lines, args=(container, lines), daemon=True).start()
        current, began, garbage = -1, time.monotonic(), b""
        opened, startup = began, 0.0
        deadline = began + limits.timeout_s + _grace(limits)  # to the first job's start: imports included
        stopped = ""
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                container.kill()
                stopped = f"timed out after {limits.timeout_s:g} s"
                break
            if line is None:
                break
            event = _event(line)
            if event is None:
                garbage += line
                continue
            misfit = _misfit(event, current, reported, len(keys))
            if misfit:
                container.kill()
                yield ProbeRun(keys[reported], None, f"probe sent an event that does not fit: {misfit}", "", 0.0)
                return
            if event["event"] == "start":
                current, began = event["job"], time.monotonic()
                startup = round(began - opened, 2) if reported == 0 else 0.0
                deadline = began + limits.timeout_s + _grace(limits)
                if started:
                    started(keys[current])
                continue
            key = keys[reported]
            seconds = round(time.monotonic() - began, 1)
            if event["event"] == "done":
                try:
                    run = ProbeRun(key, check(event["document"], key), "", "", seconds, startup)
                except ValueError as error:
                    run = ProbeRun(key, None, str(error), "", seconds, startup)
            else:
                tail = event.get("log_tail", "")[-TAIL_CHARS:]
                run = ProbeRun(key, None, _why(event["reason"], tail)[:400], tail, seconds, startup)
            reported += 1
            if reported < len(keys):
                _go(container, reported)
            yield run
            deadline = time.monotonic() + limits.timeout_s + _grace(limits)
        if reported < len(keys):
            yield _container_failure(container, keys[reported], stopped, garbage, limits, began)
    finally:
        remove(container)


def _go(container: docker.models.containers.Container, index: int) -> None:
    """Let job `index` start; a container that cannot take it is past caring (it stops for want of one)."""
    try:
        container.put_archive("/probe", archive({f"{GO}/{index}": b""}))
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        pass


def _read_lines(container: docker.models.containers.Container, lines: queue.Queue) -> None:
    """Stdout, line by line, into the queue; None at its end."""
    pending = b""
    try:
        for chunk in container.logs(stdout=True, stderr=False, stream=True, follow=True):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                lines.put(line + b"\n")
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass
    finally:
        if pending:
            lines.put(pending)
        lines.put(None)


def _event(line: bytes) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "job" in event and "event" in event else None


def _misfit(event: dict, current: int, reported: int, jobs: int) -> str:
    """Why an event does not fit the one job the probe may speak for now ("" when it fits): jobs start in
    order, one at a time, and only the started job may end; each field has its type."""
    job, kind = event["job"], event["event"]
    if type(job) is not int or not 0 <= job < jobs:
        return f"job {json.dumps(job)[:40]} is not one of the {jobs} jobs asked"
    if kind == "start":
        return "" if job == reported and current < reported else f"job {job} starts while job {reported} is due"
    if kind not in ("done", "failed"):
        return f"event {json.dumps(kind)[:40]} is none of start, done, failed"
    if job != reported or current != reported:
        return f"job {job} ends while job {reported} is {'running' if current == reported else 'not started'}"
    if kind == "done" and not isinstance(event.get("document"), dict):
        return f"job {job}'s document is not an object"
    if kind == "failed" and not (isinstance(event.get("reason"), str) and isinstance(event.get("log_tail", ""), str)):
        return f"job {job}'s reason or log tail is not text"
    return ""


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt)(: |$)")


def reason_line(tail: str) -> str:
    """The line of a failed probe's stderr that says why: the last exception line (a traceback's own words;
    Keras ends its messages with the call's arguments, one bullet each), else the last line."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    raised = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (raised or lines or [""])[-1]


def _why(reason: str, tail: str) -> str:
    """A failed job's reason as the probe gives it ("probe exited with code N: " and its stderr's last line),
    with the line that says why in place of the last one."""
    head, said = reason.partition(": ")[0], reason_line(tail)
    return f"{head}: {said[:300]}" if head.startswith("probe exited with code") and said else reason


def _container_failure(
    container: docker.models.containers.Container,
    key: Key,
    stopped: str,
    garbage: bytes,
    limits: Limits,
    began: float,
) -> ProbeRun:
    """Why the container ended before answering for `key`, in one line."""
    container.reload()
    state = container.attrs["State"]
    tail = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")[-TAIL_CHARS:]
    if state.get("OOMKilled"):
        failure = f"probe killed for exceeding the memory limit ({limits.memory})"
    elif stopped:
        failure = f"probe {stopped}"
    elif garbage and state.get("ExitCode") == 0:
        failure = f"probe printed no JSON document (stdout began: {garbage.decode('utf-8', 'replace')[:120]!r})"
    else:
        failure = f"probe exited with code {state.get('ExitCode')}"
        said = reason_line(tail)
        if said:
            failure += f": {said[:300]}"
    return ProbeRun(key, None, failure, tail, round(time.monotonic() - began, 1))


def parse(stdout: bytes, key: Key) -> dict:
    """A document printed alone, checked (for tests and tools that hold one)."""
    text = stdout.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError(f"probe printed no JSON document (stdout began: {text[:120]!r})") from None
    return check(document, key)


def check(document: object, key: Key) -> dict:
    """The probe's document, checked against its schema and the request; ValueError otherwise."""
    name, schema_file = PROBE_SCHEMAS[key.kind]
    try:
        jsonschema.validate(document, load_schema(schema_file))
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "document"
        raise ValueError(f"probe output breaks schema {name} at {where}: {error.message[:200]}") from None
    assert isinstance(document, dict)
    asked = {"cell": key.cell, "model": key.model, _field(key): key.job}
    wrong = {k: document[k] for k, v in asked.items() if document[k] != v}
    if wrong:
        raise ValueError(f"probe answered a different request: {wrong}")
    if key.kind == "count" and document["flops"] != document["raw_total"] * document["flops_per_unit"]:
        raise ValueError("probe's flops is not raw_total x flops_per_unit")
    return document


def _field(key: Key) -> str:
    """The document's field that names the job."""
    return "counter" if key.kind == "count" else "check"


def remove_leftovers(client: docker.DockerClient) -> int:
    """Remove the probe containers a killed run left: on this host those whose orchestrator is gone,
    from other hosts (a shared engine) only those no longer running."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        host, _, pid = container.labels.get(LABEL_OWNER, ":").partition(":")
        if host == socket.gethostname():
            if pid.isdigit() and _alive(int(pid)):
                continue
        elif container.status == "running":
            continue
        container.remove(force=True, v=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
