"""torchprofile.profile_macs. Returns the probe's common answer (answer.py).

torchprofile traces the model (torch.jit's _get_trace_graph) and prices each traced node by the
handler its HANDLER_MAP gives the node's operator: a function, None (known, 0 MACs), or no entry
(skipped, with its warning 'No handlers found: "op". Skipped.'). The total is the plain call's;
the per-node record comes from a second call with reduction=None, made while torch.jit's
_trace_module_map names the modules (as torch.jit.trace itself does), because _get_trace_graph
alone leaves every node's scope empty. The unsupported list is torchprofile's own warnings.
"""
from __future__ import absolute_import, division, print_function

import warnings

ROOT = "(the model's own forward)"  # nodes traced in the root module's forward, outside every submodule


def _handler_map():
    """operator -> handler (None: known, 0 MACs). torchprofile 0.1 has HANDLER_MAP; 0.0.x a tuple of
    (operator or operators, handler) pairs that profile_macs searches in order (the first match wins)."""
    import torchprofile.handlers as handlers

    if hasattr(handlers, "HANDLER_MAP"):
        return handlers.HANDLER_MAP
    found = {}
    for operators, handler in handlers.handlers:
        for operator in [operators] if isinstance(operators, str) else operators:
            found.setdefault(operator, handler)
    return found


def _shape(variable):
    return "" if variable.shape is None else str(tuple(int(d) for d in variable.shape))


def _module(scope):
    """The innermost module of a traced scope ("a/a.b" when nested), or ROOT for the model's own."""
    return scope.split("/")[-1] if scope else ROOT


def _scoped(model, x, profile_macs, profile):
    """profile_macs(model, x, reduction=None) with module scopes, and the graph it traced."""
    import torch

    graphs = []
    original = profile.trace

    def keeping(*args, **kwargs):
        graph = original(*args, **kwargs)
        graphs.append(graph)
        return graph

    previous = torch.jit._trace._trace_module_map
    torch.jit._trace._trace_module_map = dict((m, name) for name, m in model.named_modules() if name)
    profile.trace = keeping
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            per_node = profile_macs(model, x, reduction=None)
    finally:
        profile.trace = original
        torch.jit._trace._trace_module_map = previous
    return per_node, graphs[0]


def torchprofile_count(model_name):
    """`torchprofile.profile_macs(model, x)`, the model in eval mode, with a per-node record."""
    import torch
    import torchprofile
    import torchprofile.profile as profile

    import answer
    import build_torch
    import installed

    model = build_torch.builder(model_name)()
    model.eval()
    x = build_torch.seed_input(model_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        macs = int(torchprofile.profile_macs(model, x))
    said = []
    for warning in caught:
        text = str(warning.message)
        if text.startswith("No handlers found") and text not in said:
            said.append(text)

    per_node, graph = _scoped(model, x, torchprofile.profile_macs, profile)
    handler_map = _handler_map()
    nodes, by_module, occurrences = [], {}, {}
    for node in graph.nodes:
        priced = node in per_node
        if node.operator.startswith("prim::") and not priced:
            continue  # constants and list plumbing: in torchprofile's zero-cost list
        place = _module(node.scope)
        handler = handler_map.get(node.operator, "missing")
        if handler == "missing":
            rule, words = "no-rule", "no handler, skipped"
        elif handler is None:
            rule, words = "counted", "zero-cost"
        else:
            rule, words = "counted", handler.__name__
        raw = int(per_node.get(node, 0))
        key = (place, node.operator)
        occurrences[key] = occurrences.get(key, 0) + 1
        nodes.append({
            "name": "%s/%s#%d" % (place, node.operator, occurrences[key]),
            "op": node.operator,
            "raw": raw,
            "rule": rule,
            "shape": _shape(node.outputs[0]) if node.outputs else "",
            "inputs": [],
            "input_shapes": [_shape(v) for v in node.inputs if v.shape is not None],
            "attrs": {"module": place, "handler": words},
        })
        entry = by_module.setdefault(place, {"raw": 0, "rules": []})
        entry["raw"] += raw
        label = "%s: %s" % (node.operator, words)
        if label not in entry["rules"]:
            entry["rules"].append(label)

    items = []
    for name, module in model.named_modules():
        if not name or list(module.children()):
            continue
        entry = by_module.pop(name, {"raw": 0, "rules": []})
        items.append({"name": name, "type": type(module).__name__, "raw": entry["raw"],
                      "rule": "; ".join(entry["rules"])})
    for name in sorted(by_module):
        entry = by_module[name]
        if entry["raw"]:
            kind = type(model).__name__ if name == ROOT else ""
            items.append({"name": name, "type": kind, "raw": entry["raw"], "rule": "; ".join(entry["rules"])})

    notes = [
        "torchprofile.profile_macs(model, x) gave the total; the per-node record is a second call,"
        " profile_macs(model, x, reduction=None), made with torch.jit._trace._trace_module_map naming"
        " the modules so that each traced node's scope names its module (the prices do not depend on it)",
    ]
    own = [n["op"] for n in nodes if n["attrs"]["module"] == ROOT and n["raw"]]
    if own:
        notes.append("priced nodes traced in the model's own forward, outside every submodule: " + ", ".join(own))
    unsupported = ["%s (in %s)" % (text, ", ".join(_where(text, nodes))) for text in said]
    return answer.make(macs, items, build_torch.describe(model), ("torch", torch.__version__),
                       ("torchprofile", installed.dist_version("torchprofile")), unsupported, notes, nodes)


def _where(text, nodes):
    """The modules whose traced nodes a 'No handlers found: "op"' warning is about."""
    places = []
    for node in nodes:
        if '"%s"' % node["op"] in text and node["attrs"]["module"] not in places:
            places.append(node["attrs"]["module"])
    return places or ["?"]


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "torchprofile": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "torchprofile.profile_macs(model, x): a traced graph's MACs",
        "function": "torchprofile_count",
        "breakdown": "module",
        "nodes_add_up": True,
        "preload": ("torchprofile",),
    },
}
