"""Named variants: a counter called under switches that change what the framework runs, and so its number.

A job `<counter>@<variant>` runs the counter exactly as the plain job `<counter>` does, inside the variant's
switches (a context manager around the whole call: the model's build, its input and the count). The plain
job stays the way a user calls the tool; each variant is a separate measurement, read by the counter's own
host adapter. The host and the probe share this registry: plain data and small functions, Python 2.7 too.
"""
from __future__ import absolute_import, division, print_function

SEPARATOR = "@"


def _no_grad():
    import torch

    return torch.no_grad()


def _inference_mode():
    import torch

    return torch.inference_mode()


def _mkldnn_off():
    import torch

    return torch.backends.mkldnn.flags(enabled=False)


def _sdpa(backend):
    def enter():
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel(getattr(SDPBackend, backend))

    return enter


def _meta():
    import torch

    return torch.device("meta")


def _fake():
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode()


# What the rule models do not know of a variant: they state each tool's rules as it runs on real CPU tensors.
# Seen in the torch 2.13 image: a patched F.relu called twice under torch.device("meta"), and a patched torch.mm
# called from torch/_decomp/decompositions.py (nn.GRU's, nn.Linear's) under torch.device("meta") and FakeTensorMode.
DECOMPOSED = ("torch runs Python decompositions of some ops (torch/_decomp: nn.GRU's, nn.Linear's), whose torch.mm"
              " calls a tool that patches torch functions prices on top of the module's own hook")
FUNCTION_MODE = ("torch.device(...) as a context manager is a TorchFunctionMode: a torch.nn.functional call is handed"
                 " to it and called again through the module's global name, which a tool that patches"
                 " torch.nn.functional has replaced, so the tool prices that call twice")
UNMODELLED = "; the rule models do not model this, so a residual under this variant is that second count"
NO_VALUES = ("a counter that needs tensor values, or puts the model on a device of its own, fails without real"
             " tensors: the failure is the tool's limit, recorded")

# The layer kinds whose kernels a switch changes: fused attention paths, recurrent kernels.
ATTENTION = ("transformer_encoder", "attention", "llama_block")
RECURRENT = ("gru", "lstm", "simple_rnn")

# variant -> framework of the counters it applies to, the layer kinds of the models it runs on (None: every
# model with a definition; a switch is measured only where it can change what runs), what it does (the report's words), the switches it
# sets (recorded in the record's provenance), the context manager, and why a counter may fail under it
# ("" when a failure would be a bug), and what the host's rule models do not model of it ("" when they do: a
# residual is then a fault).
VARIANTS = {
    "no-grad": {
        "framework": "torch",
        "kinds": ATTENTION,
        "summary": "torch.no_grad() around the call, as inference code runs: nn.TransformerEncoderLayer may"
                   " take its fused fast path",
        "switches": {"grad_enabled": False},
        "enter": _no_grad,
        "may_fail": "",
        "unmodelled": "",
    },
    "inference-mode": {
        "framework": "torch",
        "kinds": None,
        "summary": "torch.inference_mode() around the call: no autograd at all, the fast paths no_grad allows",
        "switches": {"grad_enabled": False, "inference_mode": True},
        "enter": _inference_mode,
        "may_fail": "",
        "unmodelled": "",
    },
    "mkldnn-off": {
        "framework": "torch",
        "kinds": RECURRENT,
        "summary": "torch.backends.mkldnn.flags(enabled=False): nn.GRU/nn.LSTM (and convolutions) run aten's"
                   " own kernels instead of oneDNN's",
        "switches": {"mkldnn_enabled": False},
        "enter": _mkldnn_off,
        "may_fail": "",
        "unmodelled": "",
    },
    "sdpa-math": {
        "framework": "torch",
        "kinds": ATTENTION,
        "summary": "torch.nn.attention.sdpa_kernel(SDPBackend.MATH): scaled_dot_product_attention as matmuls"
                   " and a softmax",
        "switches": {"sdpa_backends": ["math"]},
        "enter": _sdpa("MATH"),
        "may_fail": "",
        "unmodelled": "",
    },
    "sdpa-flash": {
        "framework": "torch",
        "kinds": ATTENTION,
        "summary": "torch.nn.attention.sdpa_kernel(SDPBackend.FLASH_ATTENTION): the fused kernel (CPU has one)",
        "switches": {"sdpa_backends": ["flash"]},
        "enter": _sdpa("FLASH_ATTENTION"),
        "may_fail": "a model whose attention the fused kernel cannot take has no kernel left under this switch",
        "unmodelled": "",
    },
    "meta": {
        "framework": "torch",
        "kinds": RECURRENT + ATTENTION,  # where the double counts were seen, and models too big to hold are made of
        "summary": "the call under torch.device('meta'): model and input on the meta device, shapes without"
                   " values, as for a model too big to hold",
        "switches": {"device": "meta"},
        "enter": _meta,
        "may_fail": NO_VALUES,
        "unmodelled": FUNCTION_MODE + "; and " + DECOMPOSED + UNMODELLED,
    },
    "fake": {
        "framework": "torch",
        "kinds": RECURRENT + ATTENTION,  # where the double counts were seen, and models too big to hold are made of
        "summary": "the call under FakeTensorMode: parameters and input are fake tensors (shapes without"
                   " storage)",
        "switches": {"tensor_type": "FakeTensor"},
        "enter": _fake,
        "may_fail": NO_VALUES,
        "unmodelled": "under FakeTensorMode " + DECOMPOSED + UNMODELLED,
    },
}


def split(job):
    """(counter, variant) of a job name; variant "" for the plain job."""
    counter, _, variant = job.partition(SEPARATOR)
    return counter, variant


def job(counter, variant):
    return counter + SEPARATOR + variant if variant else counter


def unknown(job_name, counters):
    """What of `counter[@variant]` is unknown, as (what, name, known), or None when both are known."""
    counter, variant = split(job_name)
    if counter not in counters:
        return "counter", counter, counters
    if job_name != counter and variant not in VARIANTS:
        return "variant", variant, VARIANTS
    if variant and VARIANTS[variant]["framework"] != counters[counter].framework:
        known = [v for v, spec in VARIANTS.items() if spec["framework"] == counters[counter].framework]
        return "variant for %s" % counter, variant, known
    return None


def kinds(definition):
    """Every layer kind a definition holds, composite layers' parts included (empty without a definition)."""
    found, stack = set(), list(definition.get("layers") or [])
    while stack:
        spec = stack.pop()
        found.add(spec["kind"])
        for value in spec.values():
            if isinstance(value, list):
                stack += [part for part in value if isinstance(part, dict) and "kind" in part]
    return found


def runs_on(job_name, definition, abstract=False):
    """Whether a job runs on a model: a plain job always; a variant on a defined model with a kind it
    changes, held in memory (a model too big to hold is counted the one way that needs no weights)."""
    variant = split(job_name)[1]
    if not variant:
        return True
    if abstract:
        return False
    wanted, present = VARIANTS[variant]["kinds"], kinds(definition)
    return bool(present) and (wanted is None or bool(present & set(wanted)))


def applied(variant):
    """The variant's switches, entered around the call (a context manager); none for the plain job."""
    if not variant:
        return _Nothing()
    return VARIANTS[variant]["enter"]()


class _Nothing(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
