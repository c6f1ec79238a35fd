"""torch.utils.flop_counter.FlopCounterMode. Returns the probe's common answer (answer.py).

FlopCounterMode is a TorchDispatchMode: it sees each aten op a forward pass dispatches, prices the
ops its flop_registry has a formula for (mm, addmm, bmm, convolution, attention...) and gives
every other op 0, silently. Its per-module numbers are its own get_flop_counts(), keyed
"ModelClass.module.path"; a recording mode nested inside it writes down each op as the counter
saw it (module, op, shapes, the FLOPs the counter added for it), so that the host can see which
op each layer ran and whether the counter has a formula for it.
"""
from __future__ import absolute_import, division, print_function

ROOT = "(the model's own forward)"  # ops the counter scoped to the root module, outside every submodule
OUTSIDE = "(outside the model)"  # ops under 'Global' alone


def _shape(value):
    return str(tuple(int(d) for d in value.shape))


def _shapes(values):
    import torch

    shapes = []
    for value in values:
        if isinstance(value, torch.Tensor):
            shapes.append(_shape(value))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
            shapes.append("[" + ", ".join(_shape(v) for v in value) + "]")
    return shapes


def _first_tensor(out):
    import torch

    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (list, tuple)):
        for value in out:
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def _place(parents, root):
    """The innermost module the counter's ModuleTracker had entered, as a module path."""
    inside = [name for name in parents if name.startswith(root + ".")]
    if inside:
        return max(inside, key=lambda name: name.count("."))[len(root) + 1:]
    return ROOT if root in parents else OUTSIDE


def _total(counter):
    return sum(counter.flop_counts.get("Global", {}).values())


def flop_counter_count(model_name):
    """`with FlopCounterMode(display=False) as counter: model(x)`, the model in eval mode."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    import answer
    import build_torch
    import installed
    import zoo

    abstract = bool(zoo.MODELS[model_name].get("abstract"))
    if abstract:  # too big to hold: built on the meta device, where FlopCounterMode reads shapes alone
        model, x = build_torch.on_meta(model_name)
    else:
        model = build_torch.builder(model_name)()
        x = build_torch.seed_input(model_name)
    model.eval()
    root = type(model).__name__
    counter = FlopCounterMode(display=False)
    seen = []  # (place, op packet, overload, input shapes, output shape, FLOPs the counter added, pointwise)

    class Recorder(TorchDispatchMode):
        """Innermost mode: passes each op on to the counter and notes what the counter added for it."""

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            before = _total(counter)
            out = func(*args, **(kwargs or {}))
            first = _first_tensor(out)
            seen.append((
                _place(set(counter.mod_tracker.parents), root),
                str(func._overloadpacket),
                func._overloadname,
                _shapes(args),
                _shape(first) if first is not None else "()",
                _total(counter) - before,
                torch.Tag.pointwise in func.tags,
                func._overloadpacket in counter.flop_registry,
            ))
            return out

    with counter:
        with Recorder():
            model(x)
    total = int(counter.get_total_flops())
    counts = counter.get_flop_counts()

    def formulas(packets):
        return ", ".join("%s (%s)" % (p, getattr(counter.flop_registry[p], "__name__", "?")) for p in packets)

    items, placed = [], 0
    for name, module in model.named_modules():
        if not name or list(module.children()):
            continue
        ops = counts.get(root + "." + name, {})
        raw = int(sum(ops.values()))
        placed += raw
        items.append({"name": name, "type": type(module).__name__, "raw": raw,
                      "rule": formulas(sorted(ops, key=str))})
    own = int(sum(counts.get(root, {}).values())) - placed
    if own:
        items.append({"name": ROOT, "type": root, "raw": own, "rule": formulas(sorted(counts.get(root, {}), key=str))})
    outside = total - int(sum(counts.get(root, {}).values()))
    if outside:
        items.append({"name": OUTSIDE, "type": "", "raw": outside, "rule": formulas(sorted(counts["Global"], key=str))})

    nodes, occurrences, skipped = [], {}, {}
    for place, op, overload, input_shapes, shape, flops, pointwise, has_formula in seen:
        key = (place, op)
        occurrences[key] = occurrences.get(key, 0) + 1
        nodes.append({
            "name": "%s/%s#%d" % (place, op, occurrences[key]),
            "op": op,
            "raw": int(flops),
            "rule": "counted" if has_formula else "no-rule",
            "shape": shape,
            "inputs": [],
            "input_shapes": input_shapes,
            "attrs": {"module": place, "overload": overload, "pointwise": pointwise},
        })
        if not has_formula:
            skipped.setdefault((pointwise, op), []).append(place)

    def listing(pointwise):
        rows = []
        for (is_pointwise, op), places in sorted(skipped.items()):
            if is_pointwise == pointwise:
                where = sorted(set(places))
                rows.append("%s: no formula in flop_registry, counted as 0 (%d call%s, in %s)"
                            % (op, len(places), "" if len(places) == 1 else "s", ", ".join(where)))
        return rows

    notes = [
        "FlopCounterMode prices only the aten ops its flop_registry has a formula for and says nothing"
        " of the others; 'unsupported' lists the pointwise ops (torch.Tag.pointwise) that ran without"
        " one, as the probe saw them dispatched",
        "a recording TorchDispatchMode nested inside the counter noted each op, its module (the"
        " counter's own ModuleTracker) and the FLOPs the counter added for it: 'nodes'",
    ]
    if abstract:
        notes.append("built on PyTorch's meta device (build_torch.on_meta): no weight was materialised; the"
                     " counter priced each op from its shapes")
    data = listing(False)
    if data:
        notes.append("ops without a formula that are not pointwise (views, copies, creation): " + "; ".join(data))
    return answer.make(total, items, build_torch.describe(model), ("torch", torch.__version__),
                       ("torch", installed.dist_version("torch")), listing(True), notes, nodes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "torch-flop-counter": {
        "framework": "torch",
        "unit": "FLOP",
        "recipe": "torch.utils.flop_counter.FlopCounterMode around one forward pass in eval mode (torch >= 2.1)",
        "function": "flop_counter_count",
        "breakdown": "module",
        "nodes_add_up": True,
        "abstract": "the model and its input built on PyTorch's meta device (shapes, no storage),"
            " counted by FlopCounterMode as usual",
    },
}
