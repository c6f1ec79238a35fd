import io
import json
import re
import tarfile

import pytest

from bench.records.results import Key
from bench.run import runner
from tests import samples

KEY = Key("torch-x", "toy", "thop")


def encode(document: dict) -> bytes:
    return (json.dumps(document) + "\n").encode()


def test_a_valid_document_is_accepted() -> None:
    assert runner.parse(encode(samples.probe_document()), KEY)["flops"] == 20


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        (b"", "printed no JSON document"),
        (b"[INFO] Register count_convNd()\n{", "stdout began: '[INFO] Register"),
        (b'{"schema": "flops-matrix/probe/3"}', "breaks schema flops-matrix/probe/3 at document"),
    ],
)
def test_garbage_is_refused_in_one_line(stdout: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        runner.parse(stdout, KEY)
    assert "\n" not in str(caught.value)


def test_a_wrong_field_is_named() -> None:
    document = samples.probe_document()
    document["unit"] = "GFLOP"
    with pytest.raises(ValueError, match="at unit"):
        runner.parse(encode(document), KEY)


def test_an_answer_to_another_request_is_refused() -> None:
    with pytest.raises(ValueError, match="different request: {'model': 'toy'}"):
        runner.parse(encode(samples.probe_document()), Key("torch-x", "seed-conv", "thop"))


def test_inconsistent_totals_are_refused() -> None:
    document = samples.probe_document()
    document["flops"] += 1
    with pytest.raises(ValueError, match="not raw_total x flops_per_unit"):
        runner.parse(encode(document), KEY)


def test_the_probe_archive_holds_every_probe_module() -> None:
    with tarfile.open(fileobj=io.BytesIO(runner.probe_archive())) as tar:
        names = set(tar.getnames())
    assert {"probe.py", "catalog.py", "count_tf.py", "count_torch.py"} <= names


def test_the_probe_archive_and_its_hash_do_not_change_between_calls() -> None:
    assert runner.probe_archive() == runner.probe_archive()  # no times or owners: the hash keys cached results
    assert len(runner.probe_hash()) == 64


def test_a_check_document_is_judged_by_its_own_schema() -> None:
    document = {"schema": "flops-matrix/check/1", "cell": "twins", "model": "seed", "check": "equivalence"}
    with pytest.raises(ValueError, match="breaks schema flops-matrix/check/1"):
        runner.parse(encode(document), Key("twins", "seed", "equivalence", "check"))


def test_a_failed_jobs_reason_is_its_exception_line_not_keras_last_bullet() -> None:
    tail = (
        'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: Exception encountered when calling'
        " Functional.call().\n\nan input of the wrong rank\n\nArguments received by Functional.call():\n"
        "  \u2022 inputs=tf.Tensor(shape=(1, 3))\n  \u2022 kwargs=<class 'inspect._empty'>\n"
    )
    reason = "probe exited with code 1: \u2022 kwargs=<class 'inspect._empty'>"
    assert (
        runner._why(reason, tail) == "probe exited with code 1: ValueError: Exception encountered when calling"
        " Functional.call()."
    )
    # the twins: a tail with no exception line keeps its last line; other failures keep their reason
    assert runner.reason_line("warning: x\nlast words\n") == "last words"
    assert runner._why("probe timed out after 5 s", tail) == "probe timed out after 5 s"
