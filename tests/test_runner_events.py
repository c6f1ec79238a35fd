"""The host accepts from a probe only events that fit the job it may speak for now: anything else fails
that job in one line, and the jobs left get a new container. A fake client feeds the lines (the real
forgery from inside a container is tests/test_forge_docker.py)."""

from __future__ import annotations

import pytest

from bench.records.results import Key
from bench.run import runner
from tests import fakes, samples
from tests.fakes import line

KEYS = [Key("torch-x", "toy", "thop"), Key("torch-x", "toy", "fvcore"), Key("torch-x", "toy", "torchinfo")]
LIMITS = runner.Limits(timeout_s=5)


def runs(*scripts: list[bytes]) -> tuple[list[runner.ProbeRun], fakes.Client]:
    client = fakes.Client(*scripts)
    return list(runner.run_cell(client, "image", "torch-x", KEYS, {}, LIMITS)), client


def done(job: int, counter: str, raw: int = 10) -> bytes:
    return line(job=job, event="done", document=samples.probe_document(counter=counter, raw=raw))


def test_events_in_order_are_accepted() -> None:
    script = []
    for job, key in enumerate(KEYS):
        script += [line(job=job, event="start"), done(job, key.job)]
    found, client = runs(script)
    assert [(r.key, r.failure) for r in found] == [(k, "") for k in KEYS]
    assert len(client.containers.made) == 1
    assert "--go" in client.containers.commands[0]
    assert len(client.containers.made[0].archives) == 1 + len(KEYS)  # the probe, then a go-ahead per job


@pytest.mark.parametrize(
    ("events", "why"),
    [
        ([line(job=7, event="done", document={})], "job 7 is not one of the 3 jobs asked"),
        ([line(job=-1, event="start")], "job -1 is not one of the 3 jobs asked"),
        ([line(job="0", event="start")], 'job "0" is not one of the 3 jobs asked'),
        ([line(job=True, event="start")], "job true is not one of the 3 jobs asked"),
        ([line(job=0.0, event="start")], "job 0.0 is not one of the 3 jobs asked"),
        ([line(job=1, event="start")], "job 1 starts while job 0 is due"),
        ([line(job=0, event="start"), line(job=0, event="start")], "job 0 starts while job 0 is due"),
        ([line(job=0, event="start"), done(1, "fvcore")], "job 1 ends while job 0 is running"),
        ([done(0, "thop")], "job 0 ends while job 0 is not started"),
        ([line(job=0, event="start"), line(job=0, event="done", document=[1])], "job 0's document is not an object"),
        ([line(job=0, event="start"), line(job=0, event="done")], "job 0's document is not an object"),
        ([line(job=0, event="start"), line(job=0, event="failed", reason=5)], "job 0's reason or log tail is not text"),
        ([line(job=0, event="start"), line(job=0, event="failed")], "job 0's reason or log tail is not text"),
        ([line(job=0, event="start"), line(job=0, event="finished")], 'event "finished" is none of start'),
    ],
)
def test_an_event_that_does_not_fit_fails_that_job_alone_in_one_line(events: list[bytes], why: str) -> None:
    rest = [line(job=0, event="start"), done(0, "fvcore"), line(job=1, event="start"), done(1, "torchinfo")]
    found, client = runs(events, rest)
    assert found[0].key == KEYS[0] and found[0].document is None
    assert found[0].failure.startswith(f"probe sent an event that does not fit: {why}")
    assert "\n" not in found[0].failure
    assert client.containers.made[0].killed and all(c.removed for c in client.containers.made)
    assert [(r.key, r.failure) for r in found[1:]] == [(KEYS[1], ""), (KEYS[2], "")]  # in a new container


def test_a_done_event_for_another_job_is_not_taken_for_it() -> None:
    """The twin: without the order check, job 1's forged answer sent during job 0 would be job 1's record."""
    forged = [line(job=0, event="start"), done(1, "fvcore", raw=30_000_000)]
    found, _ = runs(forged, [])
    assert all(r.document is None or r.document["raw_total"] != 30_000_000 for r in found)
    assert runner._misfit({"job": 1, "event": "done", "document": {}}, 0, 0, 3)
    assert not runner._misfit({"job": 0, "event": "done", "document": {}}, 0, 0, 3)


def test_the_probe_is_the_containers_first_process_and_keeps_its_own_budget() -> None:
    """No `timeout` above the probe: as the container's first process it would hold the event pipe, and a
    job could write to it through /proc (its own time limit: tests/test_probe_isolation.py)."""
    command = runner.probe_command("c", KEYS, runner.Limits(timeout_s=10))
    assert command[:2] == [runner.PYTHON, "/probe/probe.py"] and "timeout" not in command
    assert command[command.index("--budget") + 1] == str(10 * len(KEYS) + 10 + 60)
