"""DeepSpeed's flops profiler (get_model_profile): its FLOPs, with each module's FLOPs and the rules that made them.

get_model_profile runs the model once to warm up, then starts a FlopsProfiler: it patches
torch.nn.functional, some tensor methods and einops.einsum; each patched call adds (FLOPs, MACs)
to the module whose forward is running, and recurrent modules get a forward hook of their own
(MODULE_HOOK_MAPPING). Each module keeps __flops__ and __macs__ until end_profile deletes them;
the probe copies them just before. calflops was derived from this profiler and keeps the same
bookkeeping, so the probe lists each leaf's patched calls with count_calflops' hooks.
"""
from __future__ import absolute_import, division, print_function

import os
import sys


def deepspeed_count(model_name):
    """`get_model_profile(model=model, args=[x], print_profile=False, detailed=False, as_string=False)`."""
    # no GPU in the image: name the accelerator rather than leave DeepSpeed to guess it (and warn)
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import torch
    from deepspeed.profiling.flops_profiler import get_model_profile

    import answer
    import build_torch
    import installed
    from count_calflops import breakdown, record_calls

    profiler = sys.modules["deepspeed.profiling.flops_profiler.profiler"]
    model = build_torch.builder(model_name)()
    model.eval()
    x = build_torch.seed_input(model_name)

    counts = {}  # module name -> (__flops__, __macs__) as the profiler left them
    original_end = profiler.FlopsProfiler.end_profile

    def end_profile(self):
        if self.started:
            for name, module in self.model.named_modules():
                counts[name] = (int(getattr(module, "__flops__", 0)), int(getattr(module, "__macs__", 0)))
        return original_end(self)

    calls = {}
    original_start = profiler.FlopsProfiler.start_profile

    def start_profile(self, *args, **kwargs):
        # after the warm-up run, before the profiler's own hooks: ours then run first, while the
        # module's list of patched calls is still on the profiler's stack
        handles.extend(record_calls(self.model, profiler, calls))
        return original_start(self, *args, **kwargs)

    handles = []
    profiler.FlopsProfiler.end_profile = end_profile
    profiler.FlopsProfiler.start_profile = start_profile
    try:
        flops, macs, _params = get_model_profile(
            model=model, args=[x], print_profile=False, detailed=False, as_string=False
        )
    finally:
        profiler.FlopsProfiler.end_profile = original_end
        profiler.FlopsProfiler.start_profile = original_start
        for handle in handles:
            handle.remove()

    hooks = [f.__name__ for f in profiler.MODULE_HOOK_MAPPING.values()]
    items, unsupported, notes = breakdown(
        model, counts, calls, hooks, macs, "DeepSpeed", "the flops profiler", "DeepSpeed's"
    )
    notes.append("DS_ACCELERATOR=%s (the image has no GPU)" % os.environ.get("DS_ACCELERATOR"))
    return answer.make(int(flops), items, build_torch.describe(model), ("torch", torch.__version__),
                       ("deepspeed", installed.dist_version("deepspeed")), unsupported, notes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "deepspeed": {
        "framework": "torch",
        "unit": "FLOP",
        "recipe": "deepspeed.profiling.flops_profiler.get_model_profile(model, args=[x], as_string=False): its FLOPs",
        "function": "deepspeed_count",
        "breakdown": "module",
    },
}
