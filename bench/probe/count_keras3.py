"""Keras 3 on JAX: XLA's cost analysis of the jitted model call. Returns the probe's common answer (answer.py).

The model is built from the zoo definition with keras.layers (build_keras.from_definition), for `seed` too: the
blog's builder needs tf.keras. The count is the one a user gets:
    compiled = jax.jit(lambda x: model(x)).lower(x).compile(); compiled.cost_analysis()["flops"]
jax exposes XLA's HloCostAnalysis only as the module's total (no per-instruction figure), so the
breakdown is that one total, and the evidence is the compiled module itself: every HLO instruction of
`compiled.as_text()` with its opcode, output shape, operand shapes, the Keras op_name from its
metadata and the computation it sits in (the entry, a fusion, a while loop's body or condition).
Nodes carry raw 0: XLA gives no number per instruction; the host's rule model prices them.
"""
from __future__ import absolute_import, division, print_function

import re

import answer
import build_keras
import installed
import zoo

_COMPUTATION = re.compile(r"^(ENTRY\s+)?%([\w.\-]+)\s*\((.*)\)\s*->\s*(.*)\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(ROOT\s+)?%([\w.\-]+)\s*=\s*(.*)$")
_SHAPE = re.compile(r"^(\w+\[[\d,]*\])(\{[^}]*\})?")
_OPERAND = re.compile(r"%([\w.\-]+)")
_ATTR = re.compile(r"\b(calls|body|condition|to_apply|window|dim_labels|lhs_contracting_dims|rhs_contracting_dims"
                   r"|lhs_batch_dims|rhs_batch_dims|feature_group_count|dimensions|kind)=(\{[^}]*\}|[\w.%\->]+)")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_PARAM = re.compile(r"([\w.\-]+):\s*(\w+\[[\d,]*\]|\([^)]*\))")


def _split_type(text):
    """(output shape, rest) of an instruction's right-hand side: `f32[1,96]{1,0} dot(...)` or a tuple."""
    if text.startswith("("):
        depth = 0
        for i, c in enumerate(text):
            depth += c == "("
            depth -= c == ")"
            if depth == 0:
                return re.sub(r"\{[^}]*\}", "", text[:i + 1]), text[i + 1:].strip()
    m = _SHAPE.match(text)
    return m.group(1), text[m.end():].strip()


def _operands(text):
    """The operand list of `opcode(a, b), attrs`: up to the parenthesis that closes it."""
    depth = 0
    for i, c in enumerate(text):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and c == ")":
            return text[:i], text[i + 1:]
    return text, ""


def hlo_nodes(text):
    """Every instruction of an HLO module's text, as probe nodes (raw 0: XLA exposes no per-instruction count)."""
    nodes = []
    computation, entry, shapes = "", False, {}
    for line in text.splitlines():
        head = _COMPUTATION.match(line)
        if head:
            computation, entry = head.group(2), bool(head.group(1))
            shapes = dict(_PARAM.findall(head.group(3)))
            continue
        m = _INSTRUCTION.match(line)
        if not m or not computation:
            continue
        name, rhs = m.group(2), m.group(3)
        shape, rest = _split_type(rhs)
        opcode = rest.split("(", 1)[0].strip()
        args, attrs_text = _operands(rest[len(opcode):])
        inputs = [i for i in _OPERAND.findall(args)]
        shapes[name] = shape
        attrs = dict((k, v) for k, v in _ATTR.findall(attrs_text))
        op_name = _OP_NAME.search(attrs_text)
        attrs.update({"computation": computation, "entry": entry, "root": bool(m.group(1)),
                      "op_name": op_name.group(1) if op_name else ""})
        if opcode == "constant" and "[" in shape and "[]" not in shape:
            literal = args.strip()
            attrs["literal"] = literal if len(literal) < 40 else "{...}"
        elif opcode == "constant":
            attrs["literal"] = args.strip()
        nodes.append({"name": name, "op": opcode, "raw": 0, "rule": "counted", "shape": shape,
                      "inputs": inputs, "input_shapes": [shapes.get(i, "") for i in inputs], "attrs": attrs})
    return nodes


def build(model_name):
    """A Keras 3 model from the zoo definition, on whichever backend KERAS_BACKEND names."""
    import keras

    definition = zoo.MODELS[model_name]
    if definition.get("python"):
        return build_keras.builder(model_name)()
    return build_keras.from_definition(definition, definition["input"], keras)


def _abstract(model_name):
    """(model, compiled) of a model too big to hold: Keras 3 leaves the variables it creates inside
    StatelessScope(initialize_variables=False) uninitialized (shapes and dtypes, no values), and the
    model's stateless call is jitted and lowered on jax.ShapeDtypeStructs of them and of the input."""
    import jax
    import keras

    definition = zoo.MODELS[model_name]
    with keras.StatelessScope(initialize_variables=False):
        model = build_keras.from_definition(definition, definition["input"], keras)

    def shapes(variables):
        return [jax.ShapeDtypeStruct(tuple(v.shape), v.dtype) for v in variables]

    dtype = "int32" if definition.get("input_dtype") == "int64" else "float32"
    x = jax.ShapeDtypeStruct(tuple(definition["input"]), dtype)
    call = jax.jit(lambda trainable, other, x: model.stateless_call(trainable, other, x)[0])
    lowered = call.lower(shapes(model.trainable_variables), shapes(model.non_trainable_variables), x)
    return model, lowered.compile()


def xla_cost(model_name):
    import jax
    import numpy as np

    abstract = bool(zoo.MODELS[model_name].get("abstract"))
    if abstract:
        model, compiled = _abstract(model_name)
    else:
        model = build(model_name)
        x = np.zeros(build_keras.input_shape(model_name), dtype="float32")
        compiled = jax.jit(lambda x: model(x)).lower(x).compile()
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    total = int(analysis["flops"])
    notes = [
        "built from the zoo definition with keras.layers (Keras 3), for the seed too: the blog's builder"
        " needs tf.keras",
        "cost_analysis(): flops %d, transcendentals %d, bytes accessed %d"
        % (total, int(analysis.get("transcendentals", 0)), int(analysis.get("bytes accessed", 0))),
        "jax exposes XLA's cost analysis as the module's total only: the breakdown is that total, and the"
        " nodes (the compiled module's HLO instructions) carry raw 0",
    ]
    if abstract:
        notes.append("too big to hold: counted without weights (count_keras3._abstract): variables created"
                     " uninitialized in keras.StatelessScope(initialize_variables=False), model.stateless_call"
                     " jitted and lowered on jax.ShapeDtypeStructs; the weights are the function's arguments")
    program = [{"name": "jit(<lambda>)", "type": "HloModule", "raw": total, "rule": "HloCostAnalysis flops"}]
    nodes = hlo_nodes(compiled.as_text())
    return answer.make(total, program, build_keras.describe(model), ("jax", jax.__version__),
                       ("keras", installed.dist_version("keras")), (), notes, nodes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "keras3-jax-xla": {
        "framework": "jax",
        "unit": "FLOP",
        "recipe": "Keras 3 on its JAX backend: jax.jit(model call).lower(x).compile().cost_analysis()['flops'],"
            " XLA's own count of the compiled function",
        "function": "xla_cost",
        "breakdown": "program",
        "abstract": "Keras 3 variables created uninitialized (keras.StatelessScope(initialize_variables=False)),"
            " model.stateless_call jitted and lowered on jax.ShapeDtypeStructs, XLA's cost analysis of the compiled"
            " function",
    },
}
