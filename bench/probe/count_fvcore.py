"""fvcore's FlopCountAnalysis. Returns the probe's common answer (answer.py).

fvcore traces the model with torch.jit and prices each traced op by the handle its table maps the
op's kind to; its "flops" are multiply-accumulates. The per-module numbers are fvcore's own
by_module_and_operator(), the unsupported operators its own warnings, word for word.
"""
from __future__ import absolute_import, division, print_function

import logging

ROOT = "(the model's own forward)"  # ops fvcore scopes to the root module, outside every submodule


class _Kept(logging.Handler):
    """Keeps what fvcore logs (its unsupported-operator and uncalled-module warnings)."""

    def __init__(self):
        logging.Handler.__init__(self, logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _leaves(model):
    return [(name, module) for name, module in model.named_modules() if name and not list(module.children())]


def _items(analysis, model):
    """One item per (leaf module, fvcore operator name); the root's own ops as one more item."""
    counts = analysis.by_module_and_operator()
    items, placed = [], {}
    for name, module in _leaves(model):
        kind = type(module).__name__
        canonical = analysis.canonical_module_name(name)
        unsupported = dict(analysis.unsupported_ops(canonical))
        ops = counts.get(canonical, {})
        if not ops:
            items.append({"name": name, "type": kind, "raw": 0, "rule": "", "unsupported": unsupported})
        for op in sorted(ops):
            raw = int(ops[op])
            placed[op] = placed.get(op, 0) + raw
            items.append({"name": name, "type": kind, "raw": raw, "rule": op, "unsupported": unsupported})
    for op in sorted(counts.get("", {})):
        rest = int(counts[""][op]) - placed.get(op, 0)
        if rest:
            items.append({"name": ROOT, "type": type(model).__name__, "raw": rest, "rule": op, "unsupported": {}})
    return items


def _own_unsupported(analysis, model):
    """Unsupported ops fvcore scoped to the root module itself, not to any leaf below it."""
    total = dict(analysis.unsupported_ops(""))
    for name, _module in _leaves(model):
        for op, count in analysis.unsupported_ops(analysis.canonical_module_name(name)).items():
            total[op] = total.get(op, 0) - count
    return dict((op, count) for op, count in total.items() if count)


def fvcore_count(model_name):
    """`FlopCountAnalysis(model, x).total()`, the model in eval mode, with fvcore's per-module record."""
    import fvcore.nn
    import torch

    import answer
    import build_torch
    import installed

    model = build_torch.builder(model_name)()
    model.eval()
    x = build_torch.seed_input(model_name)
    kept = _Kept()
    logger = logging.getLogger("fvcore.nn.jit_analysis")
    logger.addHandler(kept)
    try:
        analysis = fvcore.nn.FlopCountAnalysis(model, x)
        total = int(analysis.total())
    finally:
        logger.removeHandler(kept)

    notes = ["fvcore traced the model with torch.jit and prices only ops with a handle; its 'flops' are MACs"]
    own = _own_unsupported(analysis, model)
    if own:
        notes.append("unsupported operators fvcore scoped to the model's own forward, outside its submodules: "
                     + ", ".join("%s x%d" % (op, count) for op, count in sorted(own.items())))
    unsupported = [m for m in kept.messages if m.startswith("Unsupported operator")]
    notes += [m for m in kept.messages if not m.startswith("Unsupported operator")]
    uncalled = sorted(analysis.uncalled_modules())
    if uncalled:
        notes.append("modules fvcore saw no op of: " + ", ".join(uncalled))
    return answer.make(total, _items(analysis, model), build_torch.describe(model), ("torch", torch.__version__),
                       ("fvcore", installed.dist_version("fvcore")), unsupported, notes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "fvcore": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "fvcore.nn.FlopCountAnalysis(model, x).total() in eval mode: its 'flops' are multiply-accumulates",
        "function": "fvcore_count",
        "breakdown": "module",
        "preload": ("fvcore.nn",),
    },
}
