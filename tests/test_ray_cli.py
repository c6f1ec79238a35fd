"""--ray without a cluster, and the pieces a node and its driver exchange (no Ray, no engine)."""

from __future__ import annotations

import queue
import socket
import threading
from pathlib import Path

from bench.progress import Progress
from bench.records import results
from bench.run import cluster, matrix
from tests import samples
from tests.test_cli import bench

ARGS = ("matrix", "--cells", "tf-1.12.0", "--models", "seed-conv")


def test_no_cluster_at_the_address_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # a port nothing listens on
        run = bench(*ARGS, "--results", str(tmp_path), "--ray", f"127.0.0.1:{taken.getsockname()[1]}")
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: no Ray cluster answers at 127.0.0.1:")
    assert not (tmp_path / "tf-1.12.0").exists()


def test_ray_and_engine_together_are_refused(tmp_path: Path) -> None:
    run = bench(*ARGS, "--results", str(tmp_path), "--ray", "127.0.0.1:1", "--engine", "unix:///x.sock")
    assert run.returncode == 2 and run.stderr.strip() == (
        "error: --ray and --engine: choose one (a Ray node runs cells on the engine it was started with)"
    )


def test_a_node_is_seeded_with_the_standing_records_of_its_jobs_alone(tmp_path: Path) -> None:
    mine = results.Key("torch-x", "toy", "thop")
    results.write(tmp_path, samples.ok("torch-x", "toy", "thop"))
    results.write(tmp_path, samples.failed("torch-x", "toy", "fvcore"))
    results.write(tmp_path, samples.ok("torch-x", "other", "thop"))  # not this task's
    seeded = cluster.seeds(tmp_path, [mine, results.Key("torch-x", "toy", "fvcore")])
    assert sorted(seeded) == ["torch-x/toy/fvcore.failed.json", "torch-x/toy/thop.json"]
    assert seeded["torch-x/toy/thop.json"] == mine.path(tmp_path, "ok").read_bytes()


def test_the_driver_writes_what_a_node_sent_and_adds_its_tally(tmp_path: Path) -> None:
    events: queue.Queue = queue.Queue()
    node = matrix.Summary(sink=lambda entry: events.put(("record", entry)))
    matrix.write_all(
        tmp_path / "node", [results.Key("torch-x", "toy", "thop")], "not-run", "why", "", {}, node, Progress(False)
    )
    events.put(("end", cluster.Tally.of(node)))
    driver, received = matrix.Summary(), set()
    while not events.empty():
        cluster._apply(events.get(), tmp_path / "driver", driver, Progress(False), threading.Event(), received)
    assert (tmp_path / "driver/torch-x/toy/thop.failed.json").read_bytes() == (
        tmp_path / "node/torch-x/toy/thop.failed.json"
    ).read_bytes()
    assert driver.counts["not-run"] == 1 and received == {results.Key("torch-x", "toy", "thop")}


def test_a_record_not_sent_is_not_written(tmp_path: Path) -> None:
    """The twin: a node's summary alone (its records lost with it) writes nothing at the driver."""
    node = matrix.Summary()
    matrix.write_all(
        tmp_path / "node", [results.Key("torch-x", "toy", "thop")], "not-run", "why", "", {}, node, Progress(False)
    )
    driver = matrix.Summary()
    cluster._apply(
        ("end", cluster.Tally.of(node)), tmp_path / "driver", driver, Progress(False), threading.Event(), set()
    )
    assert not (tmp_path / "driver").exists() and driver.counts["not-run"] == 1


def test_a_node_s_lines_come_whole() -> None:
    events: queue.Queue = queue.Queue()
    lines = cluster._Lines(events)
    lines.write("12:00:00 [cell] half")
    lines.write(" and the rest\nnext")
    assert events.get_nowait() == ("say", "12:00:00 [cell] half and the rest") and events.empty()
