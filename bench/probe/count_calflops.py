"""calflops.calculate_flops: its FLOPs, with each module's FLOPs and the calflops rules that made them.

calflops (0.3.2) patches torch.nn.functional and some tensor functions for the run: each patched
call adds (FLOPs, MACs) to the module whose forward is running, and recurrent modules get a forward
hook of their own (MODULE_HOOK_MAPPING). Each module keeps __flops__ and __macs__ until
calculate_flops ends, when end_flops_calculate deletes them; the probe copies them just before.
"""
from __future__ import absolute_import, division, print_function

import sys


def record_calls(model, pipeline, calls):
    """Forward hooks, registered before calflops' own, that list the patched calls each leaf made (shared with
    count_deepspeed: calflops keeps DeepSpeed's bookkeeping)."""
    handles = []
    for name, module in model.named_modules():
        if list(module.children()):
            continue
        rule = pipeline.MODULE_HOOK_MAPPING.get(type(module))
        if rule is not None:
            calls[name] = [rule.__name__]
            continue

        def hook(module, inputs, output, name=name):
            # calflops' pre-hook pushed this module's list; its post-hook, after this one, pops it
            entries = pipeline.module_flop_count[-1] if pipeline.module_flop_count else []
            called = [getattr(pipeline.old_functions.get(key), "__name__", str(key)) for key, _flops in entries]
            known = calls.setdefault(name, [])
            for call in called:  # each call named once, however often the module runs
                if call not in known:
                    known.append(call)

        handles.append(module.register_forward_hook(hook))
    return handles


def breakdown(model, counts, calls, hooks, macs, tool, patcher, owner):
    """Each leaf module's FLOPs (and MACs) as the profiler left them, with the patched calls that made
    them; what a container's own forward called; the modules no patched call priced. Shared with
    count_deepspeed: calflops keeps DeepSpeed's bookkeeping. `tool` names it ("calflops"), `patcher`
    as what patches, `owner` in the possessive."""
    items, unsupported, notes = [], [], []
    per_module_macs = []
    for name, module in model.named_modules():
        module_flops, module_macs = counts.get(name, (0, 0))
        kind = type(module).__name__
        leaf = not list(module.children())
        if leaf:
            rule = "+".join(calls.get(name, []))
            if not rule:
                unsupported.append(
                    "%s (%s): its forward calls none of the functions %s patches, counted as 0" % (name, kind, patcher)
                )
            items.append({"name": name, "type": kind, "raw": module_flops, "rule": rule, "macs": module_macs})
            per_module_macs.append("%s %d" % (name, module_macs))
            if module_flops and not module_macs and rule in hooks:
                notes.append(
                    "%s: %s adds %d to __flops__ and nothing to __macs__, so %s MACs leave it out"
                    % (name, rule, module_flops, owner)
                )
        elif module_flops or module_macs:
            # functions a container's own forward called, outside any leaf module
            items.append({"name": (name or "(model)") + " own forward", "type": kind, "raw": module_flops,
                          "rule": "functions called in the container's forward", "macs": module_macs})
            per_module_macs.append("%s own forward %d" % (name or "(model)", module_macs))
    notes.insert(0, "%s MACs (its second figure): %d; per module: %s" % (tool, int(macs), ", ".join(per_module_macs)))
    return items, unsupported, notes


def calflops_count(model_name):
    """`calculate_flops(model=model, args=[x], output_as_string=False)`: its FLOPs, per module."""
    import torch
    from calflops import calculate_flops

    import answer
    import build_torch
    import installed

    pipeline = sys.modules["calflops.calculate_pipline"]
    model = build_torch.builder(model_name)()
    model.eval()
    x = build_torch.seed_input(model_name)

    counts = {}  # module name -> (__flops__, __macs__) as calflops left them
    original_end = pipeline.CalFlopsPipline.end_flops_calculate

    def end_flops_calculate(self):
        for name, module in self.model.named_modules():
            counts[name] = (int(getattr(module, "__flops__", 0)), int(getattr(module, "__macs__", 0)))
        return original_end(self)

    calls = {}
    handles = record_calls(model, pipeline, calls)
    pipeline.CalFlopsPipline.end_flops_calculate = end_flops_calculate
    try:
        flops, macs, _params = calculate_flops(
            model=model, args=[x], output_as_string=False, print_results=False, print_detailed=False
        )
    finally:
        pipeline.CalFlopsPipline.end_flops_calculate = original_end
        for handle in handles:
            handle.remove()

    hooks = [f.__name__ for f in pipeline.MODULE_HOOK_MAPPING.values()]
    items, unsupported, notes = breakdown(model, counts, calls, hooks, macs, "calflops", "calflops", "calflops'")
    return answer.make(int(flops), items, build_torch.describe(model), ("torch", torch.__version__),
                       ("calflops", installed.dist_version("calflops")), unsupported, notes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "calflops": {
        "framework": "torch",
        "unit": "FLOP",
        "recipe": "calflops.calculate_flops(model, args=[x], output_as_string=False): its FLOPs",
        "function": "calflops_count",
        "breakdown": "module",
        "preload": ("calflops",),
    },
}
