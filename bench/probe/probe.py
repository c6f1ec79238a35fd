"""Count one model's FLOPs with one counter and print one JSON document (schema: catalog.SCHEMA).

Runs unchanged under Python 2.7 and 3.6+ inside every cell's image:
    python probe.py --cell tf-1.12.0 --model seed --counter tf-profiler-seed
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


def _claim_stdout():
    """Point fd 1 at stderr for everyone else; return a descriptor for our JSON alone."""
    sys.stdout.flush()
    ours = os.dup(1)
    os.dup2(2, 1)
    return ours


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
        "schema": catalog.SCHEMA,
        "cell": cell,
        "model": model,
        "counter": counter,
        "recipe": description,
        "unit": unit,
        "flops_per_unit": flops_per_unit,
        "raw_total": raw_total,
        "flops": raw_total * flops_per_unit,
        "breakdown": answer["breakdown"],
        "nodes": answer.get("nodes", []),
        "unsupported": answer["unsupported"],
        "notes": answer.get("notes", []),
        "duration_s": round(time.time() - started, 3),
        "provenance": {
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "framework": answer["framework"],
            "counter_tool": answer["tool"],
            "pip_freeze": installed.pip_freeze(),
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--counter", required=True)
    args = parser.parse_args(argv)
    if args.model not in catalog.MODELS:
        sys.stderr.write("probe: unknown model %r (known: %s)\n" % (args.model, ", ".join(sorted(catalog.MODELS))))
        return 2
    if args.counter not in catalog.COUNTERS:
        sys.stderr.write("probe: unknown counter %r (known: %s)\n" % (args.counter, ", ".join(sorted(catalog.COUNTERS))))
        return 2
    out = _claim_stdout()
    document = measure(args.cell, args.model, args.counter)
    os.write(out, (json.dumps(document, sort_keys=True) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
