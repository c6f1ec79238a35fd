"""onnx-tool over an ONNX export of the model's PyTorch or Keras build. Returns the probe's common answer
(answer.py).

The model is exported the plain way for its framework, then profiled as `onnx_tool.model_profile(path)`
does (loadmodel, graph_reorder_nodes, shape_infer, profile with its NoMacsOps hidden), but through the
same calls so that every node's own figure is kept: onnx-tool's per-node "Forward_MACs" table, with
each node's op type, output and input shapes, attributes, which inputs are weights (initializers) and
the scope its name gives (`/conv2d/Conv` -> `conv2d`). onnx-tool's words for an op it has no profiler
for ("node X is not registed for profiling, return 0 Macs ...") are kept as the unsupported list.
- PyTorch: torch.onnx.export(model, (x,), path, dynamo=False): the TorchScript exporter, one ONNX op
  per traced aten op (nn.GRU is one GRU op). torch 2.13's default, the torch.export-based exporter,
  needs onnxscript, which this cell does not install (see the README).
- Keras: tf2onnx.convert.from_keras(model, input_signature=...), tf2onnx's own default opset.
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import tempfile
import warnings

import answer
import installed
import zoo

ATTR_TYPES = (int, float, str)


def _plain(value):
    """An ONNX attribute as JSON: numbers, strings and lists of them; graphs and tensors named only."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, ATTR_TYPES):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, ATTR_TYPES + (bytes,)) for v in value):
        return [_plain(v) for v in value]
    return "<%s>" % type(value).__name__


def _shape(graph, name):
    if not name or name not in graph.tensormap:
        return ""
    try:
        return str(tuple(int(d) for d in graph.tensormap[name].get_shape()))
    except (TypeError, ValueError):
        return "?"


def scope(name):
    """The module or layer a node's name places it in: `/gru/GRU` -> `gru`, `/Reshape` -> ''."""
    parts = [p for p in name.split("/") if p]
    return "/".join(parts[:-1])


def profile(path):
    """onnx-tool's model_profile steps over one ONNX file: (total MACs, nodes, its warnings, its version)."""
    import onnx_tool

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = onnx_tool.loadmodel(path, {"verbose": False})
        graph = model.graph
        graph.graph_reorder_nodes()
        graph.shape_infer(None)
        hidden = set(onnx_tool.NoMacsOps)
        graph.profile(exclude_ops=hidden)
    if not graph.valid_profile:
        raise RuntimeError("onnx-tool gave no valid profile: " + "; ".join(str(w.message) for w in caught))
    registered = onnx_tool.NODE_REGISTRY
    nodes = []
    for name, node in graph.nodemap.items():
        if node.op_type in hidden:
            rule, raw, words = "counted", 0, "hidden (NoMacsOps): not profiled"
        elif registered.get(node.op_type + "Node") is None:
            rule, raw, words = "no-rule", int(round(node.macs[0])), "not registered for profiling"
        else:
            rule, raw, words = "counted", int(round(node.macs[0])), type(node).__name__
        attrs = dict((k, _plain(v)) for k, v in sorted(node.attr.items()) if node.op_type != "Constant")
        attrs.update(
            {
                "module": scope(name),
                "profiler": words,
                "weights": [i for i in node.input if i in graph.initials],
                "outputs": list(node.output),
            }
        )
        nodes.append(
            {
                "name": name,
                "op": node.op_type,
                "raw": raw,
                "rule": rule,
                "shape": _shape(graph, node.output[0]) if node.output else "",
                "inputs": list(node.input),
                "input_shapes": [_shape(graph, i) for i in node.input],
                "attrs": attrs,
            }
        )
    said = []
    for warning in caught:
        text = str(warning.message)
        if text not in said:
            said.append(text)
    return int(round(graph.macs[0])), nodes, said


def _answer(total, nodes, said, layers, framework, notes):
    by_scope = {}
    for node in nodes:
        entry = by_scope.setdefault(node["attrs"]["module"], {"raw": 0, "ops": []})
        entry["raw"] += node["raw"]
        if node["raw"] and node["op"] not in entry["ops"]:
            entry["ops"].append(node["op"])
    items = [
        {
            "name": name or "(the graph's own)",
            "type": "scope",
            "raw": by_scope[name]["raw"],
            "rule": ", ".join(by_scope[name]["ops"]),
        }
        for name in sorted(by_scope)
    ]
    unsupported = [text for text in said if "not registed for profiling" in text]
    notes = notes + ["onnx-tool's other warnings: " + text for text in said if text not in unsupported]
    return answer.make(total, items, layers, framework, ("onnx-tool", installed.dist_version("onnx-tool")),
                       unsupported, notes, nodes)


def _export_and_profile(export):
    """export(path) writes the ONNX file; returns its opsets and onnx-tool's (total, nodes, warnings)."""
    import onnx

    where = tempfile.mkdtemp()
    try:
        path = os.path.join(where, "model.onnx")
        export(path)
        opsets = onnx.load(path).opset_import
        opset = ", ".join("%s %d" % (o.domain or "ai.onnx", o.version) for o in opsets)
        return (opset,) + profile(path)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def torch_count(model_name):
    """torch.onnx.export (TorchScript exporter) of the PyTorch build, counted by onnx-tool."""
    import torch

    import build_torch

    model = build_torch.builder(model_name)()
    model.eval()
    x = build_torch.seed_input(model_name)

    def export(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecation notice and the GRU batch-size advice
            torch.onnx.export(model, (x,), path, dynamo=False)

    opset, total, nodes, said = _export_and_profile(export)
    notes = ["exported with torch.onnx.export(model, (x,), path, dynamo=False), opset %s; counted as"
             " onnx_tool.model_profile(path) counts, every node's MACs kept" % opset]
    return _answer(total, nodes, said, build_torch.describe(model), ("torch", torch.__version__), notes)


def keras_count(model_name):
    """tf2onnx.convert.from_keras of the Keras build, counted by onnx-tool."""
    import tensorflow as tf
    import tf2onnx

    import build_keras

    shape = tuple(zoo.MODELS[model_name]["input"])
    model = build_keras.builder(model_name)(shape)
    signature = [tf.TensorSpec(shape, tf.float32, name="x")]
    opset, total, nodes, said = _export_and_profile(
        lambda path: tf2onnx.convert.from_keras(model, input_signature=signature, output_path=path))
    notes = ["exported with tf2onnx %s: tf2onnx.convert.from_keras(model, input_signature=...), opset %s;"
             " counted as onnx_tool.model_profile(path) counts, every node's MACs kept"
             % (installed.dist_version("tf2onnx"), opset)]
    return _answer(total, nodes, said, build_keras.describe(model), ("tensorflow", tf.__version__), notes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    # onnx-tool labels its figures MACs: multiply-accumulates for Conv, Gemm, MatMul and the recurrent
    # ops' products, plus its own per-value instruction estimates for the rest (1 per add, multiply,
    # compare or ReLU, 4 per divide, 32 per sigmoid or exp, 76 per Tanh node value, 38 per tanh inside a GRU
    # or LSTM), all in one "MACs" total.
    "onnx-tool-torch": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "torch.onnx.export(model, (x,), path, dynamo=False), then onnx-tool's model_profile over that"
            " file: its Forward_MACs (multiply-accumulates, plus its instruction estimates for other ops)",
        "function": "torch_count",
        "breakdown": "scope",
        "nodes_add_up": True,
        "preload": ("onnx_tool",),
    },
    "onnx-tool-keras": {
        "framework": "tensorflow",
        "unit": "MAC",
        "recipe": "tf2onnx.convert.from_keras(model, input_signature=[...]), then onnx-tool's model_profile over"
            " that file: its Forward_MACs (multiply-accumulates, plus its instruction estimates for other ops)",
        "function": "keras_count",
        "breakdown": "scope",
        "nodes_add_up": True,
        "preload": ("onnx_tool",),
    },
}
