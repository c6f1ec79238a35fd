"""exact-jax: the project's own counter for JAX. It walks the jaxpr of one forward pass of the Keras 3 model
(jax.make_jaxpr of model.stateless_call, on shapes alone) and prices every equation by a formula from its avals'
shapes, in the analytic reference's vocabulary (bench/reference/formulas.py): per Keras layer (the equation's
name stack, inherited into the sub-jaxprs it calls) and component (`mac`, `bias`, `elementwise`, `act:<name>`).

Why it has no blind spot: a primitive without a formula is a loud failure naming it, never a silent 0; the
primitives that compute nothing (layout, copies, creation, lookups) are listed by name as costing nothing; a
scan's body is priced times its length, a while's times its trip count from static bounds, and the sub-jaxprs
of jit, custom_jvp/vjp, remat and cond are walked. `dot_general` and `conv_general_dilated` are priced by their
dimension numbers; a transposed convolution (lhs dilation) counts only the taps that land on a real input value,
not the holes between them nor the padding around them.

Where JAX's decomposition of a layer is not the reference's formula, a known composite is priced whole, as
count_exact.py prices aten.native_layer_norm, and the primitive-level count is kept beside it as evidence (a
node's attrs.primitives):
- a Keras LayerNormalization, BatchNormalization or RMSNorm layer (by its class, found by its name scope): the
  reference's layer_norm (7n + 1 element-wise, one rsqrt per row), batch_norm (2 per value, the inference scale and
  shift folded) and rms_norm (4n + 1, one rsqrt per row);
- softmax (exp, its sum and the division, with the max subtracted first): one act:softmax per value;
- the exact GELU (x * erfc(-x / sqrt 2) / 2): one act:gelu per value;
- jax.nn's named activations (a jit named relu, relu6, silu, gelu...): one act:<name> per value.
An add whose one operand is a trainable variable (through reshapes, slices, broadcasts) is the `bias`.

The formulas are plain functions of shapes (no jax), so the host tests them on recorded shapes.
"""
from __future__ import absolute_import, division, print_function

DEFAULT = {"mac": 2}  # FLOPs per component under the reference's default convention
ROOT = "(the model's own forward)"  # equations outside every layer's name scope


class A(object):
    """An abstract value as the formulas see it: its shape and dtype name."""

    def __init__(self, shape, dtype="float32"):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = str(dtype)

    @property
    def numel(self):
        return _prod(self.shape)

    def __repr__(self):
        return "%s%s" % (self.dtype, list(self.shape))


def _prod(values):
    total = 1
    for value in values:
        total *= int(value)
    return total


def _numeric(aval):
    """Float work: integer and boolean results are index and mask arithmetic (an embedding's index wrap)."""
    return aval.dtype.startswith(("float", "bfloat", "complex"))


def _per_value(component):
    def price(ins, outs, params):
        return {component: outs[0].numel} if _numeric(outs[0]) else {}
    return price


def _reduce(ins, outs, params):
    """A reduction: n - 1 operations for n values into each result (a mean's division is its own `div`)."""
    return {"elementwise": ins[0].numel - outs[0].numel}


def _reduce_window(ins, outs, params):
    """Pooling: window - 1 operations per output value (an average's division is its own `div`)."""
    return {"elementwise": (_prod(params["window_dimensions"]) - 1) * outs[0].numel}


def _dot_general(ins, outs, params):
    """One multiply-accumulate per output value per value of the contracted axes."""
    (contracting, _batch) = params["dimension_numbers"]
    return {"mac": outs[0].numel * _prod(ins[0].shape[d] for d in contracting[0])}


def _landing(size, kernel, out, stride, low, dilation, lhs_dilation):
    """(output position, kernel tap) pairs along one axis that land on a real input value: not on padding, not
    on a hole of lhs dilation."""
    count = 0
    for tap in range(kernel):
        for position in range(out):
            index = position * stride - low + tap * dilation
            if index % lhs_dilation == 0 and 0 <= index // lhs_dilation < size:
                count += 1
    return count


def _conv(ins, outs, params):
    """conv_general_dilated by its dimension numbers: each output value costs its group's input features x the
    kernel taps (taps on zero padding included, as the reference counts a padded convolution); with lhs
    dilation (a transposed convolution) only the taps landing on a real input value: every input value meets
    every tap once, the reference's conv2d_transpose."""
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    if params.get("batch_group_count", 1) != 1:
        raise NotImplementedError("exact-jax: no formula for conv_general_dilated with batch_group_count %r"
                                  % params["batch_group_count"])
    lhs, rhs, out = ins[0].shape, ins[1].shape, outs[0].shape
    group_features = rhs[rhs_spec[1]]
    lhs_dilation = tuple(params.get("lhs_dilation") or (1,) * (len(lhs) - 2))
    kernel = [rhs[d] for d in rhs_spec[2:]]
    if all(d == 1 for d in lhs_dilation):
        return {"mac": outs[0].numel * group_features * _prod(kernel)}
    pairs = 1
    for axis in range(len(kernel)):
        pairs *= _landing(lhs[lhs_spec[2 + axis]], kernel[axis], out[out_spec[2 + axis]],
                          params["window_strides"][axis], params["padding"][axis][0],
                          (params.get("rhs_dilation") or (1,) * len(kernel))[axis], lhs_dilation[axis])
    return {"mac": lhs[lhs_spec[0]] * out[out_spec[1]] * group_features * pairs}


def _nothing(ins, outs, params):
    return {}


# Primitives that compute nothing: layout, copies, creation, indexing, lookups, gradients' markers.
ZERO = (
    "reshape", "broadcast_in_dim", "convert_element_type", "slice", "dynamic_slice", "dynamic_update_slice",
    "transpose", "squeeze", "expand_dims", "iota", "copy", "copy_p", "concatenate", "pad", "rev", "gather",
    "split", "select_and_gather_add", "stop_gradient", "bitcast_convert_type", "reduce_precision", "full",
    "device_put", "optimization_barrier", "sharding_constraint", "squeeze_p",
)
ELEMENTWISE = ("add", "sub", "mul", "div", "neg", "max", "min", "pow", "integer_pow", "square", "abs", "sign",
               "select_n", "rem", "floor", "ceil", "round", "clamp", "lt", "le", "gt", "ge", "eq", "ne", "and",
               "or", "not", "xor", "nextafter", "add_any")
# the layout primitives a trainable variable is followed through to its bias add (not a lookup: an embedding's
# rows are data)
LAYOUT = ("reshape", "broadcast_in_dim", "convert_element_type", "slice", "squeeze", "transpose", "expand_dims",
          "split", "copy", "rev", "concatenate")
# primitive -> the activation it is one evaluation of per value
ACTIVATION = {"logistic": "sigmoid", "tanh": "tanh", "rsqrt": "rsqrt"}
# transcendental functions outside a composite: one act:<name> per value, so an unrecognised composite shows up
# named (the reference has no such component: it is a residual)
TRANSCENDENTAL = ("exp", "exp2", "log", "log1p", "expm1", "erf", "erfc", "erf_inv", "sqrt", "cbrt", "sin", "cos",
                  "tan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh", "asin", "acos", "atan")

# primitive -> (formula, its words)
FORMULAS = {
    "dot_general": (_dot_general, "output values x contracted values multiply-accumulates"),
    "conv_general_dilated": (_conv, "output values x group input features x kernel taps (lhs-dilated: the taps"
                                    " that land on a real input value)"),
    "reduce_sum": (_reduce, "n - 1 per result of n values"),
    "reduce_max": (_reduce, "n - 1 per result of n values"),
    "reduce_min": (_reduce, "n - 1 per result of n values"),
    "reduce_prod": (_reduce, "n - 1 per result of n values"),
    "argmax": (_reduce, "n - 1 per result of n values"),
    "argmin": (_reduce, "n - 1 per result of n values"),
    "reduce_window_sum": (_reduce_window, "window - 1 per output value"),
    "reduce_window_max": (_reduce_window, "window - 1 per output value"),
    "reduce_window_min": (_reduce_window, "window - 1 per output value"),
}
FORMULAS.update(dict((p, (_per_value("elementwise"), "one per output value")) for p in ELEMENTWISE))
FORMULAS.update(dict((p, (_per_value("act:" + a), "one %s per value" % a)) for p, a in ACTIVATION.items()))
FORMULAS.update(dict((p, (_per_value("act:" + p), "one %s per value" % p)) for p in TRANSCENDENTAL))
FORMULAS.update(dict((p, (_nothing, "computes nothing")) for p in ZERO))

# jax.nn's activations, called as a named jit (or inside a custom_jvp): priced whole, one per output value
NAMED = {"relu": "relu", "relu6": "relu6", "silu": "silu", "swish": "silu", "gelu": "gelu", "sigmoid": "sigmoid",
         "tanh": "tanh", "softmax": "softmax", "_softmax": "softmax"}
# primitives that call sub-jaxprs walked in place (scan and while are priced times their trip count)
CALLS = ("pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr",
         "remat", "checkpoint", "remat2", "custom_lin")


def price(primitive, ins, outs, params=None):
    """The components of one equation from its input and output avals (A) and its plain params: a missing
    formula is an error that names the primitive."""
    if primitive not in FORMULAS:
        raise NotImplementedError("exact-jax: no formula for primitive %s (inputs %r, outputs %r)"
                                  % (primitive, ins, outs))
    cost = FORMULAS[primitive][0](ins, outs, params or {})
    return dict((k, v) for k, v in cost.items() if v)


def layer_norm(x):
    """The reference's layer_norm over the last axis: 7n + 1 element-wise (epsilon added to the variance) and one
    rsqrt per row."""
    rows = x.numel // x.shape[-1]
    return {"elementwise": 7 * x.numel + rows, "act:rsqrt": rows}


def rms_norm(x):
    """The reference's rms_norm over the last axis: 4n + 1 element-wise (epsilon added once per row) and one rsqrt
    per row."""
    rows = x.numel // x.shape[-1]
    return {"elementwise": 4 * x.numel + rows, "act:rsqrt": rows}


def batch_norm(x):
    """The reference's inference batch_norm: the scale and shift folded, 2 element-wise per value."""
    return {"elementwise": 2 * x.numel}


# Keras layer class -> its formula, applied to the layer's input (the largest value its equations read)
NORMS = {"LayerNormalization": layer_norm, "BatchNormalization": batch_norm, "RMSNorm": rms_norm}


def flops(components):
    """FLOPs of components under the reference's default convention (a MAC 2, everything else 1)."""
    return sum(count * DEFAULT.get(component, 1) for component, count in components.items())


def _add(total, cost, times=1):
    for component, count in cost.items():
        total[component] = total.get(component, 0) + count * times
    return total


class Eq(object):
    """One equation of the flattened forward pass: where it runs, what it reads and writes, how many times."""

    def __init__(self, path, primitive, ins, outs, invars, outvars, params, times):
        self.path, self.primitive, self.ins, self.outs = path, primitive, ins, outs
        self.invars, self.outvars, self.params, self.times = invars, outvars, params, times
        self.cost, self.rule, self.primitives, self.group = None, "", None, None


def price_group(eqs):
    """What the equations would cost priced one by one (a composite's evidence)."""
    total = {}
    for eq in eqs:
        _add(total, eq.cost if eq.cost is not None else price(eq.primitive, eq.ins, eq.outs, eq.params), eq.times)
    return total


def _group(members, anchor, primitive, cost, rule):
    """Price `members` as one composite on `anchor`: its cost, the members' own as evidence, the rest 0."""
    evidence = price_group(members)
    for eq in members:
        eq.cost, eq.rule, eq.group = {}, "part of %s, priced whole" % primitive, anchor
    anchor.cost, anchor.rule, anchor.primitives, anchor.primitive = cost, rule, evidence, primitive


def _maps(eqs):
    producer, consumers = {}, {}
    for eq in eqs:
        for var in eq.outvars:
            producer[var] = eq
        for var in eq.invars:
            if var is not None:
                consumers.setdefault(var, []).append(eq)
    return producer, consumers


def _back(eq, producer, through):
    """The equations that produced eq's inputs, followed through `through` primitives."""
    found, queue = [], [v for v in eq.invars if v is not None]
    while queue:
        given = producer.get(queue.pop())
        if given is not None and given.primitive in through and given.group is None and given not in found:
            found.append(given)
            queue.extend(v for v in given.invars if v is not None)
    return found


def softmaxes(eqs):
    """softmax(x) = exp(x - max x) / sum exp(x - max x): one act:softmax per value, its primitives as evidence."""
    producer, consumers = _maps(eqs)
    for eq in eqs:
        if eq.primitive != "exp" or eq.group is not None:
            continue
        after = consumers.get(eq.outvars[0], [])
        sums = [c for c in after if c.primitive == "reduce_sum"]
        divs = [c for c in after if c.primitive == "div"]
        if not sums or not divs:
            continue
        members = [eq] + sums + divs + _back(eq, producer, ("sub", "broadcast_in_dim", "stop_gradient", "max",
                                                             "reduce_max"))
        for total in sums:
            members += [c for c in consumers.get(total.outvars[0], []) if c.primitive == "broadcast_in_dim"]
        _group(members, eq, "softmax", {"act:softmax": eq.outs[0].numel}, "one softmax evaluation per value (exp,"
               " its sum, the division and the max subtracted, priced whole)")


def gelus(eqs):
    """The exact GELU, x * erfc(-x / sqrt 2) / 2: one act:gelu per value, its primitives as evidence."""
    unary = ("mul", "neg", "div", "copy", "convert_element_type")
    producer, consumers = _maps(eqs)
    for eq in eqs:
        if eq.primitive not in ("erfc", "erf") or eq.group is not None:
            continue
        before, source = [], eq.invars[0]
        given = producer.get(source)
        while given is not None and given.primitive in unary and len(consumers.get(given.outvars[0], [])) == 1:
            before.append(given)
            operand = [v for i, v in enumerate(given.invars) if v is not None and given.ins[i].shape]
            if len(operand) != 1:
                break
            source = operand[0]
            if len(consumers.get(source, [])) > 1:  # x: read by the chain and by the final product
                break
            given = producer.get(source)
        sources = set(v for b in before for v in b.invars) | set(eq.invars)
        after, value = [], eq.outvars[0]
        while True:
            nexts = [c for c in consumers.get(value, []) if c.primitive in unary]
            if len(nexts) != 1:
                break
            after.append(nexts[0])
            value = nexts[0].outvars[0]
            if any(v in sources and v not in eq.invars for v in nexts[0].invars):
                break
        members = before + [eq] + after
        members += [c for c in consumers.get(source, []) if c.primitive in unary and c not in members
                    and all(r in members for r in consumers.get(c.outvars[0], []))]  # x / 2, read by the product
        _group(members, eq, "gelu", {"act:gelu": eq.outs[0].numel},
               "one GELU per value (x * erfc(-x / sqrt 2) / 2 priced whole)")


def norms(eqs, classes):
    """Each Keras norm layer (NORMS, found by its name scope's class) priced whole by its formula."""
    by_layer = {}
    for eq in eqs:
        for path, kind in classes.items():
            if kind in NORMS and (eq.path == path or eq.path.startswith(path + "/")):
                by_layer.setdefault(path, []).append(eq)
    for path in sorted(by_layer):
        members = by_layer[path]
        x = max((a for eq in members for a in eq.ins), key=lambda a: a.numel)
        _group(members, members[0], classes[path], NORMS[classes[path]](x),
               "%s priced whole by the reference's formula on its input %r" % (classes[path], x))


def bias_or_priced(eq, params_of):
    """An add of a trainable variable (through reshapes and broadcasts) is the bias; else its formula."""
    cost = price(eq.primitive, eq.ins, eq.outs, eq.params)
    if eq.primitive == "add" and any(v in params_of for v in eq.invars) and "elementwise" in cost:
        return {"bias": cost["elementwise"]}, "one bias add per output value"
    return cost, FORMULAS[eq.primitive][1]


def count(eqs, classes, params_of):
    """Every equation's cost (composites first, then each left by its formula), in place."""
    norms(eqs, classes)
    softmaxes(eqs)
    gelus(eqs)
    for eq in eqs:
        if eq.cost is None:
            try:
                eq.cost, eq.rule = bias_or_priced(eq, params_of)
            except NotImplementedError as error:
                raise NotImplementedError("%s, in %s" % (error, eq.path or ROOT))
    return eqs


def priced(eqs, classes):
    """(breakdown, nodes) of priced equations: one item per name scope with its components, one node per
    equation that computes (a composite's on its anchor, with its primitives' own count as evidence)."""
    items, order, nodes, seen = {}, [], [], {}
    for eq in eqs:
        if eq.group is not None and eq.group is not eq:
            continue
        where = eq.path or ROOT
        cost = dict((k, v * eq.times) for k, v in eq.cost.items())
        if where not in items:
            items[where] = {}
            order.append(where)
        _add(items[where], cost)
        if not cost and eq.primitives is None:
            continue  # computes nothing: not a node
        seen[where, eq.primitive] = seen.get((where, eq.primitive), 0) + 1
        attrs = {"module": where, "components": cost, "formula": eq.rule, "times": eq.times}
        if eq.primitives is not None:
            attrs["primitives"] = dict((k, v) for k, v in sorted(eq.primitives.items()) if v)
        if eq.params:
            attrs["params"] = dict((k, str(v)) for k, v in sorted(eq.params.items()) if k != "name")
        nodes.append({"name": "%s/%s#%d" % (where, eq.primitive, seen[where, eq.primitive]), "op": eq.primitive,
                      "raw": flops(cost), "rule": "counted", "shape": str(list(eq.outs[0].shape)) if eq.outs else "",
                      "inputs": [], "input_shapes": [str(list(a.shape)) for a in eq.ins], "attrs": attrs})
    breakdown = [{"name": where, "type": classes.get(where, ""), "raw": flops(items[where]),
                  "components": dict(sorted((k, v) for k, v in items[where].items() if v))} for where in order]
    return breakdown, nodes


# --- the walk over a jaxpr (needs jax) ---------------------------------------------------------------------


def _plain(value):
    """A jaxpr param as plain data: tuples of ints (ConvDimensionNumbers is a namedtuple of them)."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    return str(value)


PLAIN = ("dimension_numbers", "feature_group_count", "batch_group_count", "lhs_dilation", "rhs_dilation",
         "window_strides", "padding", "window_dimensions", "axes", "length", "name")


def _aval(var):
    aval = var.aval
    return A(getattr(aval, "shape", ()), getattr(aval, "dtype", "float32"))


def _sub(value):
    """(jaxpr, consts) of a param that holds one: a ClosedJaxpr or a Jaxpr."""
    if hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        return value.jaxpr
    if hasattr(value, "eqns"):
        return value
    return None


class Walk(object):
    """The jaxpr flattened into Eqs, each with its layer path (the name stacks down to it) and how many times
    it runs (the scans and whiles around it); variables followed into sub-jaxprs; trainable ones tracked."""

    def __init__(self):
        self.eqs, self.params_of, self.ids = [], set(), {}

    def key(self, var, env):
        if type(var).__name__ == "Literal":
            return None
        return env.get(id(var), ("v", id(var)))

    def run(self, jaxpr, env, path, times):
        for eqn in jaxpr.eqns:
            stack = str(eqn.source_info.name_stack)
            where = "/".join(p for p in (path, stack) if p)
            invars = [self.key(v, env) for v in eqn.invars]
            outvars = [("v", id(v)) for v in eqn.outvars]
            for var in eqn.outvars:
                env[id(var)] = ("v", id(var))
            name = eqn.primitive.name
            params = dict((k, _plain(v)) for k, v in eqn.params.items() if k in PLAIN)
            ins, outs = [_aval(v) for v in eqn.invars], [_aval(v) for v in eqn.outvars]
            subs = [(k, _sub(v)) for k, v in sorted(eqn.params.items()) if _sub(v) is not None]
            branches = eqn.params.get("branches")
            if name == "scan":
                self.call(subs[0][1], invars, outvars, where, times * int(eqn.params["length"]))
            elif name == "while":
                body = invars[eqn.params["cond_nconsts"]:]  # the body's consts, then the carry
                self.call(eqn.params["body_jaxpr"].jaxpr, body, outvars, where, times * trip_count(eqn))
            elif name == "cond":
                self.cond(branches, invars[1:], outvars, where, times)
            elif name in CALLS or (subs and name not in FORMULAS):
                if not subs:
                    raise NotImplementedError("exact-jax: %s calls no jaxpr it could walk" % name)
                jaxpr_name = params.get("name") or ""
                inner = subs[0][1]
                if jaxpr_name in NAMED:
                    self.named(NAMED[jaxpr_name], inner, invars, outvars, ins, outs, where, times)
                else:
                    self.call(inner, invars[-len(inner.invars):] if inner.invars else [], outvars, where, times)
            else:
                self.eqs.append(Eq(where, name, ins, outs, invars, outvars, params, times))
                if name in LAYOUT and any(v in self.params_of for v in invars):
                    self.params_of.update(outvars)

    def call(self, jaxpr, invars, outvars, where, times):
        """Walk a sub-jaxpr in place: its inputs are the caller's, its outputs the caller's."""
        env = {}
        for index, var in enumerate(jaxpr.invars):
            given = invars[index] if index < len(invars) else None
            env[id(var)] = given if given is not None else ("v", id(var))
        start = len(self.eqs)
        self.run(jaxpr, env, where, times)
        inner = dict((id(v), env.get(id(v), ("v", id(v)))) for v in jaxpr.outvars)
        # the caller's outputs are the body's: rename so consumers outside find their producers
        renames = {}
        for index, var in enumerate(jaxpr.outvars[:len(outvars)]):
            if type(var).__name__ != "Literal":
                renames[inner[id(var)]] = outvars[index]
        for eq in self.eqs[start:]:
            eq.outvars = [renames.get(v, v) for v in eq.outvars]
        for old, new in renames.items():
            if old in self.params_of:
                self.params_of.add(new)

    def named(self, activation, jaxpr, invars, outvars, ins, outs, where, times):
        """A jax.nn activation called whole: one act:<name> per output value; its body's primitives as evidence."""
        inner = Walk()
        inner.run(jaxpr, {}, where, times)
        eq = Eq(where, activation, ins, outs, invars, outvars, {}, times)
        eq.cost = {"act:" + activation: outs[0].numel} if _numeric(outs[0]) else {}
        eq.rule = "jax.nn.%s called whole: one per output value" % activation
        eq.primitives = price_group(count(inner.eqs, {}, set()))
        self.eqs.append(eq)

    def cond(self, branches, invars, outvars, where, times):
        """cond: every branch must cost the same (which runs is not static), and that is its cost."""
        costs = []
        for branch in branches:
            inner = Walk()
            inner.params_of = set()
            inner.call(branch.jaxpr, invars, outvars, where, times)
            costs.append(price_group(count(inner.eqs, {}, set())))
        if any(c != costs[0] for c in costs):
            raise NotImplementedError("exact-jax: a cond in %s whose branches cost differently: %r" % (where, costs))
        self.call(branches[0].jaxpr, invars, outvars, where, times)


def trip_count(eqn):
    """A while loop's trip count from its static bounds: a counter from a literal start, up by one, compared
    (lt) with a literal bound in the condition. Anything else is a loud failure."""
    cond = eqn.params["cond_jaxpr"].jaxpr
    body = eqn.params["body_jaxpr"].jaxpr
    if len(cond.eqns) == 1 and cond.eqns[0].primitive.name == "lt":
        counter, bound = cond.eqns[0].invars
        if type(bound).__name__ == "Literal" and counter in cond.invars:
            position = cond.invars.index(counter) - eqn.params["cond_nconsts"]
            start = eqn.invars[eqn.params["cond_nconsts"] + eqn.params["body_nconsts"] + position]
            steps = [e for e in body.eqns if e.primitive.name == "add"
                     and body.invars[eqn.params["body_nconsts"] + position] in e.invars
                     and any(type(v).__name__ == "Literal" and v.val == 1 for v in e.invars)]
            if type(start).__name__ == "Literal" and steps:
                return max(0, int(bound.val) - int(start.val))
    raise NotImplementedError("exact-jax: a while loop without static bounds (%s)" % eqn.params["cond_jaxpr"])


def live(jaxpr):
    """The jaxpr less the equations whose results never reach its output (jax's own dead-code elimination,
    scan and jit aware): a model whose variables were left uninitialized traces their initializers after the
    forward pass, random draws no output reads."""
    from jax._src.interpreters import partial_eval

    pruned, _used = partial_eval.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars), instantiate=True)
    return pruned


def keras_classes(model, prefix=""):
    """Each layer's name scope (its path through nested models) -> its class name."""
    found = {}
    for layer in getattr(model, "layers", []):
        path = prefix + layer.name
        found[path] = type(layer).__name__
        if hasattr(layer, "layers") and layer is not model:
            found.update(keras_classes(layer, path + "/"))
    return found


def _build(model_name, abstract):
    """The Keras 3 model and the avals of its variables and input; too big to hold: variables uninitialized
    (keras.StatelessScope(initialize_variables=False)), shapes and dtypes alone."""
    import jax
    import keras

    import build_keras
    import count_keras3
    import zoo

    definition = zoo.MODELS[model_name]
    if abstract:
        with keras.StatelessScope(initialize_variables=False):
            model = build_keras.from_definition(definition, definition["input"], keras)
        shape = tuple(definition["input"])
    else:
        model = count_keras3.build(model_name)
        shape = build_keras.input_shape(model_name)
    dtype = "int32" if definition.get("input_dtype") == "int64" else "float32"

    def avals(variables):
        return [jax.ShapeDtypeStruct(tuple(v.shape), v.dtype) for v in variables]

    return model, avals(model.trainable_variables), avals(model.non_trainable_variables), \
        jax.ShapeDtypeStruct(shape, dtype)


def exact_jax_count(model_name):
    """The jaxpr of one forward pass (model.stateless_call), every equation priced, per layer and component."""
    import jax

    import answer
    import build_keras
    import installed
    import zoo

    abstract = bool(zoo.MODELS[model_name].get("abstract"))
    model, trainable, other, x = _build(model_name, abstract)
    closed = jax.make_jaxpr(lambda t, o, x: model.stateless_call(t, o, x)[0])(trainable, other, x)
    jaxpr = live(closed.jaxpr)
    walk = Walk()
    env = {}
    for var in jaxpr.invars[:len(trainable)]:
        walk.params_of.add(("v", id(var)))
        env[id(var)] = ("v", id(var))
    walk.run(jaxpr, env, "", 1)
    classes = keras_classes(model)
    breakdown, nodes = priced(count(walk.eqs, classes, walk.params_of), classes)
    total = sum(item["raw"] for item in breakdown)
    notes = [
        "jax.make_jaxpr of model.stateless_call on the variables' and input's shapes: every equation priced by"
        " its formula (bench/probe/count_exact_jax.py FORMULAS), per Keras name scope and component: 'nodes';"
        " raw is FLOPs under the reference's default convention (a multiply-accumulate 2, everything else 1)",
        "a scan's body is priced times its length; norm layers, softmax, the exact GELU and jax.nn's named"
        " activations are priced whole (a node's attrs.primitives: what their primitives would cost one by one)",
    ]
    if abstract:
        notes.append("too big to hold: variables created uninitialized in keras.StatelessScope("
                     "initialize_variables=False), traced on jax.ShapeDtypeStructs alone")
    return answer.make(total, breakdown, build_keras.describe(model), ("jax", jax.__version__),
                       ("keras", installed.dist_version("keras")), (), notes, nodes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "exact-jax": {
        "framework": "jax",
        "unit": "FLOP",
        "recipe": "the project's own jaxpr walk: every equation of jax.make_jaxpr(model.stateless_call) priced by a"
            " formula from its shapes, a scan's body times its length, per Keras layer and reference component"
            " (FLOPs under the default convention)",
        "function": "exact_jax_count",
        "breakdown": "module",
        "nodes_add_up": True,
        "abstract": "Keras 3 variables created uninitialized (keras.StatelessScope(initialize_variables=False)),"
            " the stateless call traced to a jaxpr on jax.ShapeDtypeStructs: priced from shapes alone",
    },
}
