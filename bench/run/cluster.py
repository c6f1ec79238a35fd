"""The matrix on a Ray cluster: each node runs its share of the cells on its own Docker engine and sends
every record home to the driver, which writes it under --results.

A node offers an engine by starting with the custom resource `docker_engine` (how many cells it runs at a
time) and the engine in its environment (DOCKER_HOST, else the local socket), which Ray's workers inherit:

    DOCKER_HOST=unix:///run/other/docker.sock ray start --address HEAD:6379 --resources '{"docker_engine": 2}'

Only "which engine runs which cell" and "how results come home" change: a cell is one Ray task, spread over
the nodes, that runs the same code as a local run (matrix.guarded) against a scratch copy of the driver's
standing records for its jobs, so that the cache decides there as it would here; the task streams back each
record the moment it is written, each progress line and its summary. A node that dies loses only what it had
not sent: its cell is sent again, and the jobs it recorded are then cache hits.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from bench.errors import first_line
from bench.progress import Progress
from bench.records import results
from bench.run import engine, matrix, runner
from bench.run.cells import Cell

RESOURCE = "docker_engine"  # a node's custom resource: the cells it runs at a time on its engine
ATTEMPTS = 3  # a cell whose node dies this many times is recorded as failed
CONNECT_S = 10.0  # at most, waiting for the cluster's address to take a connection
WAIT_S = 0.2  # the driver's longest wait for an event, so that Ctrl-C and SIGTERM are seen at once


class Relay(Progress):
    """A node's progress, sent to the driver as events instead of drawn."""

    def __init__(self, events: queue.Queue) -> None:
        super().__init__(live=False)
        self._events = events

    def start(self, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        self._events.put(("advance", count))

    def done(self, cell: str, message: str) -> None:
        self._events.put(("done", cell, message))

    def fail(self, cell: str, message: str) -> None:
        self._events.put(("fail", cell, message))


class _Lines:
    """A node's stderr (progress.say), one event per line."""

    def __init__(self, events: queue.Queue) -> None:
        self._events, self._part = events, ""

    def write(self, text: str) -> int:
        *lines, self._part = (self._part + text).split("\n")
        for line in lines:
            self._events.put(("say", line))
        return len(text)

    def flush(self) -> None:
        pass


def seeds(where: Path, keys: list[results.Key]) -> dict[str, bytes]:
    """The driver's standing records of these jobs (relative path -> bytes): what a node's cache reads."""
    found = {}
    for key in keys:
        for status in ("ok", "failed"):  # a not-run record shares the failed one's file
            path = key.path(where, status)
            if path.is_file():
                found[str(path.relative_to(where))] = path.read_bytes()
    return found


def on_node(cell: Cell, keys: list[results.Key], options: matrix.Options, seeded: dict[str, bytes]) -> Iterator[tuple]:
    """One cell on this node's engine (a Ray task): yields ("record", entry), progress events and last
    ("end", tally). Cancelled by the driver, it removes its containers."""
    events: queue.Queue = queue.Queue()
    cancel = threading.Event()
    with tempfile.TemporaryDirectory(prefix="flops-matrix-ray-") as scratch:
        for name, data in seeded.items():
            (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(scratch) / name).write_bytes(data)
        here = replace(options, results=Path(scratch))
        summary = matrix.Summary(sink=lambda entry: events.put(("record", entry)))
        relay = Relay(events)

        def work() -> None:
            try:
                url = os.environ.get("DOCKER_HOST")
                found = engine.engines([url] if url else [])[0]
                runner.remove_leftovers(found.client)
                matrix.guarded(found, cell, keys, here, summary, relay, cancel)
            except engine.EngineUnavailable as error:
                relay.fail(cell.name, str(error))
                matrix.write_all(here.results, keys, "failed", str(error), "", {}, summary, relay)
            except Exception as error:  # writing scratch failed: the driver stops the run
                summary.fatal = error
            if summary.fatal is not None:
                events.put(("fatal", f"{cell.name}: {first_line(summary.fatal)}"))
            events.put(("end", Tally.of(summary)))

        stderr, sys.stderr = sys.stderr, _Lines(events)
        thread = threading.Thread(target=work, daemon=True, name=cell.name)
        try:
            thread.start()
            while True:
                event = events.get()
                yield event
                if event[0] == "end":
                    return
        finally:
            sys.stderr = stderr
            cancel.set()
            if thread.is_alive():
                runner.stop_all()
                thread.join(runner.STOP_S)


@dataclass(frozen=True)
class Tally:
    """What a node's summary adds to the driver's (the records themselves came one by one)."""

    counts: dict[str, int]
    cached: int
    expected: int
    built: list[str]
    reused: list[str]
    broken: list[str]
    engine_errors: list[str]

    @classmethod
    def of(cls, summary: matrix.Summary) -> Tally:
        with summary.lock:
            return cls(
                dict(summary.counts),
                summary.cached,
                summary.expected,
                list(summary.built),
                list(summary.reused),
                list(summary.broken),
                list(summary.engine_errors),
            )

    def add_to(self, summary: matrix.Summary) -> None:
        with summary.lock:
            for status, n in self.counts.items():
                summary.counts[status] += n
            summary.cached += self.cached
            summary.expected += self.expected
            summary.built += self.built
            summary.reused += self.reused
            summary.broken += self.broken
            summary.engine_errors += self.engine_errors


def run(
    address: str,
    cells: list[Cell],
    models: list[str],
    options: matrix.Options,
    progress: Progress,
    cancel: threading.Event,
) -> matrix.Summary:
    """Every cell once, as a Ray task on the node with a free engine (spread over the nodes, the longest
    first); the same Summary, records and progress lines as matrix.run."""
    import ray  # only a run on a cluster pays for importing Ray
    import ray.exceptions

    summary = matrix.Summary()
    keys = matrix.planned(cells, models, options)
    _answers(address)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise engine.EngineUnavailable(f"no Ray cluster answers at {address} ({first_line(error)})") from None
    finally:
        for number, handler in handlers.items():  # Ray's own would end the process, bypassing the CLI's one line
            signal.signal(number, handler)
    running: dict = {}  # the cells' streams: ObjectRefGenerator -> (cell, attempt)
    received: set[results.Key] = set()  # the jobs whose records came home in this run
    try:
        if not ray.cluster_resources().get(RESOURCE):
            raise engine.EngineUnavailable(
                f"no node of the Ray cluster at {address} offers a Docker engine: start nodes with"
                f" --resources '{{\"{RESOURCE}\": N}}' and the engine in DOCKER_HOST"
            )
        task = ray.remote(on_node).options(
            num_cpus=0, resources={RESOURCE: 1}, max_retries=0, scheduling_strategy="SPREAD"
        )

        def send(cell: Cell, attempt: int) -> None:
            jobs = keys[cell.name]
            running[task.remote(cell, jobs, options, seeds(options.results, jobs))] = (cell, attempt)

        progress.start(sum(len(k) for k in keys.values()))
        for cell in matrix.by_length(options.results, cells, keys):
            send(cell, 1)
        while running and not cancel.is_set():
            ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
            for stream in ready:
                cell, attempt = running[stream]
                try:
                    event = ray.get(next(stream))
                except StopIteration:
                    del running[stream]
                    continue
                except ray.exceptions.RayTaskError as error:  # the node's code raised: a bug, not a lost node
                    summary.fatal = RuntimeError(f"{cell.name}: {first_line(error)}")
                    cancel.set()
                    break
                except ray.exceptions.RayError as error:  # the node, its raylet or its worker died
                    del running[stream]
                    left = [k for k in keys[cell.name] if k not in received]
                    _lost(cell, attempt, first_line(error), left, options, summary, progress, send)
                    continue
                _apply(event, options.results, summary, progress, cancel, received)
        if summary.fatal is not None:
            raise summary.fatal
        if cancel.is_set():
            raise matrix.Cancelled
        return summary
    finally:
        for stream in running:
            ray.cancel(stream)  # the node's task removes its containers
        ray.shutdown()


def _answers(address: str) -> None:
    """EngineUnavailable in one line unless HOST:PORT takes a connection (Ray itself would retry forever)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        return  # "auto": Ray's own error says what is wrong
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_S).close()
    except OSError as error:
        raise engine.EngineUnavailable(
            f"no Ray cluster answers at {address} ({error.strerror or error}); start one with ray start --head"
        ) from None


def _lost(
    cell: Cell,
    attempt: int,
    why: str,
    left: list[results.Key],
    options: matrix.Options,
    summary: matrix.Summary,
    progress: Progress,
    send: Callable[[Cell, int], None],
) -> None:
    """A node died in the middle of a cell: what it sent stays written; the cell goes to another node
    (its recorded jobs are then cache hits), or, after ATTEMPTS nodes, its unfinished jobs fail."""
    if attempt < ATTEMPTS:
        progress.fail(cell.name, f"Ray node lost ({why}): its unfinished jobs go to another node")
        send(cell, attempt + 1)
        return
    reason = f"{ATTEMPTS} Ray nodes were lost running this cell (last: {why})"
    progress.fail(cell.name, reason)
    with summary.lock:
        summary.engine_errors.append(f"{cell.name}: {reason}")
    matrix.write_all(options.results, left, "failed", reason, "", {}, summary, progress)


def _apply(
    event: tuple,
    where: Path,
    summary: matrix.Summary,
    progress: Progress,
    cancel: threading.Event,
    received: set[results.Key],
) -> None:
    """One event of a node's stream, on the driver."""
    kind, *rest = event
    if kind == "record":
        results.write(where, rest[0])
        received.add(results.Key(rest[0]["cell"], rest[0]["model"], rest[0]["job"], rest[0]["kind"]))
    elif kind == "advance":
        progress.advance(rest[0])
    elif kind == "done":
        progress.done(*rest)
    elif kind == "fail":
        progress.fail(*rest)
    elif kind == "say":
        print(rest[0], file=sys.stderr, flush=True)
    elif kind == "fatal":
        summary.fatal = RuntimeError(rest[0])
        cancel.set()
    elif kind == "end":
        rest[0].add_to(summary)
