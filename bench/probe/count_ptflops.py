"""ptflops' get_model_complexity_info with its two backends. Each returns the probe's common answer
(answer.py).

ptflops 0.6.7 (2021) and earlier has one module, flops_counter.py, and the module hooks alone: no
`backend` argument, no aten backend, no patched functions, and it leaves each module's `__flops__`
in place after the call. pytorch_engine and `backend` come with 0.6.8, the patched functions with
0.7.1, the aten backend with 0.7.3. The pytorch counter passes `backend` only where the installed
ptflops has it, reads the old layout where there is no pytorch_engine, and taps whichever of the
patched-function tables exist.

Both are called the plain way: input_res is the input shape without the batch dimension (ptflops
adds a batch of 1 itself), as_strings=False, print_per_layer_stat=False. A model whose input is token
ids (not floating point) also gets input_constructor with the first row of its own example input,
since ptflops' own input is an uninitialised float tensor that no embedding can index (_constructor). verbose=True only makes
ptflops print its zero-op warnings, kept word for word as the record's `unsupported` list; it
changes no count. The per-module numbers are read from what ptflops itself computed, without
changing it:
- pytorch backend: each module's `__flops__` as its hook left it (read just before ptflops deletes
  it), and each call of the functional and tensor-op handlers ptflops patches in, placed on the
  module that was running;
- aten backend: the flop_counts table of ptflops' own FlopCounterMode (per top-level child module
  and aten op).
"""
from __future__ import absolute_import, division, print_function

import io

ROOT = "(the model's own forward)"  # work done outside every submodule


def _has_backends():
    """Whether the installed ptflops takes a `backend` argument (0.6.8 and later)."""
    import inspect

    import ptflops

    return "backend" in inspect.signature(ptflops.get_model_complexity_info).parameters


def _plain_call(model, model_name, backend):
    """The one call, as a user makes it; returns (MACs, ptflops' printed lines, the input it ran)."""
    import ptflops

    import build_torch

    example = build_torch.seed_input(model_name)
    shape = tuple(example.shape[1:])
    seen = []
    handle = model.register_forward_pre_hook(
        lambda module, inputs: seen.append(tuple(inputs[0].shape) if inputs else (1,) + shape))
    printed = io.StringIO()
    options = {"as_strings": False, "print_per_layer_stat": False, "verbose": True, "ost": printed}
    constructor, given = _constructor(model, example)
    if constructor is not None:
        options["input_constructor"] = constructor
    if _has_backends():
        options["backend"] = backend
    elif backend != "pytorch":
        raise RuntimeError("ptflops %s has no %s backend: its module hooks are its only engine"
                           % (_version(), backend))
    try:
        model.eval()
        macs, _params = ptflops.get_model_complexity_info(model, shape, **options)
    finally:
        handle.remove()
    if macs is None:
        raise RuntimeError("ptflops (%s backend) gave no count: see the log above" % backend)
    note = "input_res %s: ptflops ran the model on an input of shape %s" % (shape, seen[0] if seen else "?")
    if given:
        note += " (" + given + ")"
    if "backend" not in options:
        note = "called without `backend` (ptflops %s has only its module hooks); " % _version() + note
    if seen and seen[0] == (1,) + shape and not given:
        note += ", the batch dimension of 1 added by ptflops itself"
    return int(macs), printed.getvalue().splitlines(), note


def _constructor(model, example):
    """(input_constructor, words) for a model whose input is not floating point (token ids): ptflops' own
    input is an uninitialised float tensor (new_empty), which no nn.Embedding can take, so the call passes
    the model's real example input, at batch 1 as ptflops' own would be, as the keyword of its forward's
    first parameter (ptflops 0.6.7 calls model(**input_constructor(input_res)); later ones do the same with
    a dict), as a user with such a model must. (None, "") for a float input: the plain call."""
    import inspect

    if example.is_floating_point():
        return None, ""
    name = list(inspect.signature(model.forward).parameters)[0]
    first = example[:1]  # batch 1, as ptflops builds its own input: (1,) + input_res
    words = "input_constructor=lambda res: {%r: x[:1]}: the first row of the model's own %s example input, shape" \
        " %s, since ptflops' own input is float" % (name, str(example.dtype).replace("torch.", ""), tuple(first.shape))
    return (lambda input_res: {name: first}), words


def _version():
    import installed

    return installed.dist_version("ptflops")


def _answer(model, macs, items, unsupported, notes):
    import torch

    import answer
    import build_torch

    return answer.make(macs, items, build_torch.describe(model), ("torch", torch.__version__),
                       ("ptflops", _version()), unsupported, notes)


class _Taps(object):
    """Read-only taps on ptflops' pytorch engine, undone by close(). Up to 0.6.7 the engine is
    ptflops.flops_counter, which patches no function and leaves `__flops__` on each module."""

    def __init__(self, model):
        try:
            import ptflops.pytorch_engine as engine
            import ptflops.pytorch_ops as ops
        except ImportError:  # ptflops <= 0.6.7: one module, hooks only
            import ptflops.flops_counter as engine
            ops = None
        self.engine, self.ops = engine, ops
        self.flops = {}  # module -> __flops__ as ptflops' hook left it
        self.calls = []  # (module name, patched function, handler, MACs) per handler call
        self.running = []  # names of the modules whose forward is running
        self.batches = []
        self.handles = []
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._enter(name)))
            self.handles.append(module.register_forward_hook(self._exit()))
        self.remove = getattr(engine, "remove_flops_counter_variables", None)
        if self.remove is not None:
            engine.remove_flops_counter_variables = self._snapshot
        self.mappings = []  # the patched-function tables (ptflops >= 0.7.1)
        for table in ("FUNCTIONAL_MAPPING", "TENSOR_OPS_MAPPING"):
            mapping = getattr(ops, table, None)
            if mapping is not None:
                self.mappings.append((mapping, dict(mapping)))
        for mapping, original in self.mappings:
            for function, handler in original.items():
                mapping[function] = self._recording(function, handler)
        self.model = model

    def _enter(self, name):
        def hook(module, inputs):
            self.running.append(name)
        return hook

    def _exit(self):
        def hook(module, inputs, output):
            self.running.pop()
        return hook

    def _snapshot(self, module):
        if hasattr(module, "__flops__"):
            self.flops[module] = module.__flops__
        if module is self.model and hasattr(module, "__batch_counter__"):
            self.batches.append(module.__batch_counter__)
        return self.remove(module)

    def _recording(self, function, handler):
        def recording(*args, **kwargs):
            macs = handler(*args, **kwargs)
            where = self.running[-1] if self.running else ""
            self.calls.append((where, _function_name(function), handler.__name__, macs))
            return macs
        return recording

    def close(self):
        if self.remove is not None:
            self.engine.remove_flops_counter_variables = self.remove
        else:  # ptflops < 0.7 deletes nothing: read what its hooks left on each module
            for module in self.model.modules():
                if hasattr(module, "__flops__"):
                    self.flops[module] = module.__flops__
            if hasattr(self.model, "__batch_counter__"):
                self.batches.append(self.model.__batch_counter__)
        for mapping, original in self.mappings:
            mapping.clear()
            mapping.update(original)
        for handle in self.handles:
            handle.remove()


def _function_name(function):
    owner = getattr(function, "__module__", "") or ""
    short = {"torch.nn.functional": "F", "torch": "torch", "torch._C._nn": "F"}.get(owner, owner)
    qualified = getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))
    return "%s.%s" % (short, qualified) if short else qualified


def _module_items(taps, model):
    """Walk the model as ptflops' accumulate_flops does: a module with a hook gives its __flops__,
    any other module the sum of its children's; a leaf without a hook gives 0."""
    engine = taps.engine
    batch = taps.batches[-1] if taps.batches else 1
    items = []

    def walk(name, module):
        kind = type(module).__name__
        if engine.is_supported_instance(module):
            hook = engine.MODULES_MAPPING[type(module)]
            rule = getattr(hook, "__name__", None) or getattr(getattr(hook, "func", None), "__name__", repr(hook))
            items.append({"name": name, "type": kind, "raw": _divide(taps.flops.get(module, 0), batch),
                          "rule": rule})
            return
        children = list(module.named_children())
        if not children and name:
            items.append({"name": name, "type": kind, "raw": 0, "rule": ""})
        for child, sub in children:
            walk(child if not name else name + "." + child, sub)

    walk("", model)
    return items, batch


def _divide(flops, batch):
    whole = int(flops) // batch
    if whole * batch != int(flops) or int(flops) != flops:
        raise RuntimeError("ptflops' __flops__ %r is not a whole multiple of its batch counter %r" % (flops, batch))
    return whole


def _call_items(taps, model):
    """The patched functional and tensor-op handlers' MACs, one item per (module, function)."""
    kinds = dict((name, type(module).__name__) for name, module in model.named_modules())
    summed, order = {}, []
    for where, function, handler, macs in taps.calls:
        key = (where, function, handler)
        if key not in summed:
            order.append(key)
            summed[key] = 0
        summed[key] += int(macs)
    items = []
    for where, function, handler in order:
        items.append({"name": where or ROOT, "type": kinds.get(where, ""), "raw": summed[(where, function, handler)],
                      "rule": "%s: %s" % (function, handler)})
    return items


def ptflops_pytorch(model_name):
    """`get_model_complexity_info(model, input_res, backend='pytorch')`: module hooks plus patched functions."""
    import build_torch

    model = build_torch.builder(model_name)()
    taps = _Taps(model)
    try:
        macs, printed, shape_note = _plain_call(model, model_name, "pytorch")
    finally:
        taps.close()
    items, batch = _module_items(taps, model)
    items += _call_items(taps, model)
    leaves = set(type(m).__name__ for n, m in model.named_modules() if n and not list(m.children()))
    unsupported, notes = [], [shape_note]
    for line in printed:
        word = line.split("module ", 1)[-1].split(" ", 1)[0]
        if line.startswith("Warning: module") and word in leaves:
            unsupported.append(line)
        elif line.strip():
            container = word == type(model).__name__
            notes.append("ptflops printed: " + line + (" (the model's container: ptflops sums its children)"
                                                       if container else ""))
    notes.append("ptflops' batch counter saw a batch of %d; each module's __flops__ is divided by it" % batch)
    for where, function, handler in sorted(set(call[:3] for call in taps.calls)):
        notes.append("ptflops' patched %s ran inside %s and was priced by %s on top of the module hooks"
                     % (function, where or ROOT, handler))
    return _answer(model, macs, items, unsupported, notes)


def _recording_mode(seen):
    import ptflops.aten_engine as engine

    base = engine.FlopCounterMode

    class Recording(base):
        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            seen.append(self)

    return Recording


def ptflops_aten(model_name):
    """`get_model_complexity_info(model, input_res, backend='aten')`: aten ops under a dispatch mode."""
    try:
        import ptflops.aten_engine as engine
    except ImportError:  # ptflops < 0.7.3
        engine = None
    if engine is None:
        raise RuntimeError("ptflops %s has no aten backend (it comes with 0.7.3)" % _version())

    import build_torch

    seen = []
    mode = engine.FlopCounterMode
    engine.FlopCounterMode = _recording_mode(seen)
    model = build_torch.builder(model_name)()
    try:
        macs, printed, shape_note = _plain_call(model, model_name, "aten")
    finally:
        engine.FlopCounterMode = mode
    if len(seen) != 1:
        raise RuntimeError("expected one ptflops FlopCounterMode, saw %d" % len(seen))
    counts = seen[0].flop_counts
    items, placed = [], {}
    for name, module in model.named_children():
        ops = counts.get(name, {})
        if not ops:
            items.append({"name": name, "type": type(module).__name__, "raw": 0, "rule": ""})
        for op in sorted(ops, key=str):
            placed[op] = placed.get(op, 0) + int(ops[op])
            items.append({"name": name, "type": type(module).__name__, "raw": int(ops[op]), "rule": str(op)})
    for op in sorted(counts.get("Global", {}), key=str):
        rest = int(counts["Global"][op]) - placed.get(op, 0)
        if rest:
            items.append({"name": ROOT, "type": type(model).__name__, "raw": rest, "rule": str(op)})
    times, order = {}, []
    for line in printed:
        if not line.strip():
            continue
        if line not in times:
            order.append(line)
            times[line] = 0
        times[line] += 1
    unsupported = ["%s (%d time%s)" % (line, times[line], "" if times[line] == 1 else "s") for line in order]
    notes = [shape_note, "ptflops' aten backend places ops on the model's top-level children only (its pre-hooks)"]
    return _answer(model, macs, items, unsupported, notes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "ptflops-pytorch": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "ptflops.get_model_complexity_info(model, shape, backend='pytorch'): module hooks, MACs",
        "function": "ptflops_pytorch",
        "breakdown": "module",
        "per_sample": "ptflops builds its own input, of batch 1, from the shape without the batch dimension",
        "preload": ("ptflops",),
    },
    "ptflops-aten": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "ptflops.get_model_complexity_info(model, shape, backend='aten'): aten ops, MACs",
        "function": "ptflops_aten",
        "breakdown": "module",
        "per_sample": "ptflops builds its own input, of batch 1, from the shape without the batch dimension",
        "preload": ("ptflops",),
    },
}
