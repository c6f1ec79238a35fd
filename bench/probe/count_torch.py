"""PyTorch counters. Each returns the probe's common answer (see probe.py)."""
from __future__ import absolute_import, division, print_function

import sys


def thop_count(model_name):
    """The blog's `thop.profile(model, inputs=(x,))`, with a per-module record of thop's rules."""
    import thop
    import torch

    import build_torch
    import installed

    model = build_torch.builder(model_name)()
    x = build_torch.seed_input(model_name)
    # thop's rule table is a module-level dict; `thop.profile` is shadowed by the function.
    rules = sys.modules["thop.profile"].register_hooks
    counted = {}

    def recording(rule):
        def hook(module, inputs, output):
            rule(module, inputs, output)
            counted[module] = int(module.total_ops)  # a tensor in thop, an int in ultralytics-thop
        return hook

    # custom_ops takes precedence over thop's own table; each wrapper calls thop's own rule.
    custom_ops = dict((kind, recording(rule)) for kind, rule in rules.items())
    macs, _params = thop.profile(model, inputs=(x,), custom_ops=custom_ops)

    items, unsupported = [], []
    for name, module in model.named_modules():
        if not name or list(module.children()):
            continue
        kind = type(module).__name__
        rule = rules.get(type(module))
        if rule is None:
            unsupported.append("%s (%s): no thop rule, counted as 0" % (name, kind))
        items.append({"name": name, "type": kind, "raw": counted.get(module, 0),
                      "rule": rule.__name__ if rule else ""})
    return {
        "raw_total": int(macs),
        "breakdown": {"by": "module", "items": items},
        "layers": build_torch.describe(model),
        "unsupported": unsupported,
        "framework": {"name": "torch", "version": torch.__version__},
        "tool": _thop_distribution(installed),
    }


def _thop_distribution(installed):
    """thop, or ultralytics-thop: the maintained fork installs the same `thop` module."""
    for name in ("thop", "ultralytics-thop"):
        try:
            return {"name": name, "version": installed.dist_version(name)}
        except Exception:  # importlib.metadata.PackageNotFoundError, or pkg_resources' DistributionNotFound
            continue
    return {"name": "thop", "version": "unknown"}


COUNTERS = {"thop": thop_count}
