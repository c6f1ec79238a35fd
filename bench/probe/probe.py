"""Count one model's FLOPs with one counter and print one JSON document (schema: catalog.SCHEMA).

Runs unchanged under Python 2.7 and 3.6+ inside every cell's image:
    python probe.py --cell tf-1.12.0 --model seed --counter tf-profiler-seed
    python probe.py --cell twins --model seed --check equivalence   (schema: catalog.CHECK_SCHEMA)
Exit 0 with the document on stdout; exit 2 for a request it does not know; anything else is a
crash whose traceback is on stderr. Frameworks print to stdout too (thop's [INFO] lines, the
TF profiler's tables), so stdout is handed to stderr while they work.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import sys
import time

import catalog
import installed
import zoo


def _claim_stdout():
    """Point fd 1 at stderr for everyone else; return a descriptor for our JSON alone."""
    sys.stdout.flush()
    ours = os.dup(1)
    os.dup2(2, 1)
    return ours


def _provenance(answer):
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "framework": answer["framework"],
        "counter_tool": answer["tool"],
        "pip_freeze": installed.pip_freeze(),
    }


def _counter_function(counter):
    framework = catalog.COUNTERS[counter][0]
    if framework == "tensorflow":
        import count_tf as module
    else:
        import count_torch as module
    return module.COUNTERS[counter]


def measure(cell, model, counter):
    _framework, unit, flops_per_unit, description = catalog.COUNTERS[counter]
    started = time.time()
    answer = _counter_function(counter)(model)
    raw_total = answer["raw_total"]
    return {
        "schema": catalog.COUNT_SCHEMA,
        "cell": cell,
        "model": model,
        "counter": counter,
        "recipe": description,
        "unit": unit,
        "flops_per_unit": flops_per_unit,
        "raw_total": raw_total,
        "flops": raw_total * flops_per_unit,
        "definition": zoo.MODELS[model],
        "definition_sha256": zoo.fingerprint(zoo.MODELS[model]),
        "breakdown": answer["breakdown"],
        "nodes": answer.get("nodes", []),
        "layers": answer["layers"],
        "unsupported": answer["unsupported"],
        "notes": answer.get("notes", []),
        "duration_s": round(time.time() - started, 3),
        "provenance": _provenance(answer),
    }


def check(cell, model, name):
    import equivalence

    started = time.time()
    answer = equivalence.CHECKS[name](model)
    return {
        "schema": catalog.CHECK_SCHEMA,
        "cell": cell,
        "model": model,
        "check": name,
        "recipe": catalog.CHECKS[name],
        "holds": all(c["holds"] for c in answer["comparisons"]),
        "result": dict((k, v) for k, v in answer.items() if k not in ("framework", "tool")),
        "duration_s": round(time.time() - started, 3),
        "provenance": _provenance(answer),
    }


def _refuse(what, name, known):
    sys.stderr.write("probe: unknown %s %r (known: %s)\n" % (what, name, ", ".join(sorted(known))))
    return 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", required=True)
    parser.add_argument("--model", required=True)
    job = parser.add_mutually_exclusive_group(required=True)
    job.add_argument("--counter")
    job.add_argument("--check")
    args = parser.parse_args(argv)
    if args.model not in catalog.MODELS:
        return _refuse("model", args.model, catalog.MODELS)
    if args.counter and args.counter not in catalog.COUNTERS:
        return _refuse("counter", args.counter, catalog.COUNTERS)
    if args.check and args.check not in catalog.CHECKS:
        return _refuse("check", args.check, catalog.CHECKS)
    out = _claim_stdout()
    if args.counter:
        document = measure(args.cell, args.model, args.counter)
    else:
        document = check(args.cell, args.model, args.check)
    os.write(out, (json.dumps(document, sort_keys=True) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
