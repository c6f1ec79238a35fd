"""PyTorch counters. Each returns the probe's common answer (answer.py)."""
from __future__ import absolute_import, division, print_function

import sys


def thop_count(model_name):
    """The blog's `thop.profile(model, inputs=(x,))`, with a per-module record of thop's rules."""
    import thop
    import torch

    import answer
    import build_torch
    import installed

    model = build_torch.builder(model_name)()
    x = build_torch.seed_input(model_name)
    # thop's rule tables are module-level dicts; `thop.profile` is shadowed by the function.
    profile = sys.modules["thop.profile"]
    rules = profile.register_hooks
    zero_ops = getattr(profile, "zero_ops", None)
    # ultralytics-thop 2.x also prices products run functionally (torch.matmul, F.scaled_dot_product_attention,
    # ...) outside every module that has a rule of its own: a table of its own, absent from thop
    functions = getattr(profile, "functional_hooks", {})
    counted, functional, running = {}, {}, [model]

    def recording(rule):
        def hook(module, inputs, output):
            rule(module, inputs, output)
            counted[module] = int(module.total_ops)  # a tensor in thop, an int in ultralytics-thop
        return hook

    def recording_function(rule):
        def count(args, kwargs, y):
            ops = rule(args, kwargs, y)
            owner = functional.setdefault(running[-1], {})  # the innermost module running the product
            owner[rule.__name__] = owner.get(rule.__name__, 0) + int(ops)
            return ops
        return count

    # custom_ops takes precedence over thop's own table; each wrapper calls thop's own rule. zero_ops stays
    # thop's own: ultralytics-thop hooks no module whose rule `is zero_ops` (it would hide its products)
    custom_ops = dict((kind, recording(rule)) for kind, rule in rules.items() if rule is not zero_ops)

    def enter(module, inputs):
        running.append(module)

    def leave(module, inputs, output):
        running.pop()  # a hook returning a value would replace the module's output

    handles = []
    for module in model.modules():  # which module runs each functional product
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    originals = dict(functions)
    functions.update((function, recording_function(rule)) for function, rule in originals.items())
    try:
        macs, _params = thop.profile(model, inputs=(x,), custom_ops=custom_ops)
    finally:
        functions.update(originals)
        for handle in handles:
            handle.remove()

    items, unsupported = [], []
    for name, module in model.named_modules():
        own = module in counted or module in functional  # a rule of a module with children, or its products
        if not (own or (name and not list(module.children()))):
            continue
        kind = type(module).__name__
        rule = _rule(profile, type(module))
        if rule is None and name:
            more = "; the products it runs by functional_hooks" if module in functional else ""
            unsupported.append("%s (%s): no thop rule, counted as 0%s" % (name, kind, more))
        item = {"name": name, "type": kind, "raw": counted.get(module, 0), "rule": rule.__name__ if rule else ""}
        if module in functional:
            item["functions"] = functional[module]
            item["raw"] += sum(functional[module].values())
        items.append(item)
    return answer.make(int(macs), items, build_torch.describe(model), ("torch", torch.__version__),
                       _thop_distribution(installed), unsupported)


def _rule(profile, kind):
    """The rule thop applies to a module class: ultralytics-thop (_resolve_rule) walks the class's MRO, thop
    looks the class itself up."""
    bases = kind.__mro__ if hasattr(profile, "_resolve_rule") else (kind,)
    for base in bases:
        if base in profile.register_hooks:
            return profile.register_hooks[base]
    return None


def _thop_distribution(installed):
    """thop, or ultralytics-thop: the maintained fork installs the same `thop` module."""
    for name in ("thop", "ultralytics-thop"):
        try:
            return name, installed.dist_version(name)
        except Exception:  # importlib.metadata.PackageNotFoundError, or pkg_resources' DistributionNotFound
            continue
    return "thop", "unknown"


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "thop": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "thop.profile(model, inputs=(x,)): multiply-accumulates; FLOPs = 2 x MACs as the blog does",
        "function": "thop_count",
        "breakdown": "module",
        "preload": ("thop",),
    },
}
