"""exact-jax: its formulas and composites on recorded shapes (no jax needed), and its records reconciled: the
reference with no adjustment and residual 0, and every kind of fault (a formula off by one, a primitive left
out, a scan priced once) a residual at the layer and component it touches, naming the primitive."""

from collections import Counter

import pytest

from bench.counters import exact_jax
from bench.explain.reconcile import reconcile
from bench.probe import count_exact_jax, zoo
from bench.probe.count_exact_jax import A, Eq, count, price, priced
from bench.reference.convention import PRESETS, parse
from bench.reference.formulas import analyse, measure
from tests import samples

CONVENTIONS = (PRESETS["default"], PRESETS["macs"], parse("mac=1,act:tanh=4,bias=3"))
NHWC = ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))  # conv dimension numbers of Keras's channels-last conv


def _conv(lhs, rhs, out, strides, padding, lhs_dilation=(1, 1)) -> dict:
    params = {
        "dimension_numbers": NHWC,
        "window_strides": strides,
        "padding": padding,
        "lhs_dilation": lhs_dilation,
        "rhs_dilation": (1, 1),
        "feature_group_count": 1,
    }
    return price("conv_general_dilated", [A(lhs), A(rhs)], [A(out)], params)


def test_dot_general_and_convolutions_are_priced_by_their_dimension_numbers() -> None:
    dot = {"dimension_numbers": (((2,), (0,)), ((), ()))}
    assert price("dot_general", [A((1, 97, 4064)), A((4064, 288))], [A((1, 97, 288))], dot) == {"mac": 97 * 288 * 4064}
    batched = {"dimension_numbers": (((2,), (1,)), ((0,), (0,)))}
    assert price("dot_general", [A((4, 32, 16)), A((4, 16, 32))], [A((4, 32, 32))], batched) == {
        "mac": 4 * 32 * 32 * 16
    }
    # seed's conv, channels first: (0, 1, 2, 3) for the input and output, the kernel (kh, kw, in, out)
    params = {
        "dimension_numbers": ((0, 1, 2, 3), (3, 2, 0, 1), (0, 1, 2, 3)),
        "window_strides": (1, 2),
        "padding": ((0, 0), (0, 0)),
        "lhs_dilation": (1, 1),
    }
    seed = price("conv_general_dilated", [A((1, 1, 100, 256)), A((4, 4, 1, 32))], [A((1, 32, 97, 127))], params)
    assert seed == {"mac": 32 * 97 * 127 * 16}
    # 'same' padding: the taps on the zero padding count, as the reference counts a padded conv
    same = _conv((1, 32, 32, 16), (3, 3, 16, 32), (1, 32, 32, 32), (1, 1), ((1, 1), (1, 1)))
    assert same == {"mac": 32 * 32 * 32 * 16 * 9}


def test_a_transposed_convolution_counts_only_the_taps_on_real_input_values() -> None:
    """Keras's Conv2DTranspose(8, 3x3, stride 2) on 16x16x16 as jax has it: lhs dilation 2, padding 2."""
    spec = zoo.MODELS["conv2d-transpose"]["layers"][0]
    reference = measure(spec, (1, 16, 16, 16)).total()
    got = _conv((1, 16, 16, 16), (3, 3, 16, 8), (1, 33, 33, 8), (1, 1), ((2, 2), (2, 2)), (2, 2))
    assert got == {"mac": reference["mac"]}
    # every output value times every tap (holes and padding included) would be more than twice as many
    holes = _conv((1, 16, 16, 16), (3, 3, 16, 8), (1, 33, 33, 8), (1, 1), ((2, 2), (2, 2)))
    assert holes["mac"] == 33 * 33 * 8 * 16 * 9 != reference["mac"]


def test_reductions_pooling_and_index_arithmetic() -> None:
    assert price("reduce_sum", [A((1, 32, 64))], [A((1, 32))], {"axes": (2,)}) == {"elementwise": 32 * 63}
    window = {"window_dimensions": (1, 3, 3, 1)}
    assert price("reduce_window_sum", [A((1, 32, 32, 16))], [A((1, 15, 15, 16))], window) == {
        "elementwise": 15 * 15 * 16 * 8
    }
    assert price("add", [A((1, 32), "int32"), A((), "int32")], [A((1, 32), "int32")]) == {}
    assert price("add", [A((1, 32)), A(())], [A((1, 32))]) == {"elementwise": 32}
    assert price("reshape", [A((1, 32))], [A((32,))]) == {}
    assert price("logistic", [A((3,))], [A((3,))]) == {"act:sigmoid": 3}


def test_a_primitive_without_a_formula_fails_loudly_naming_it_and_its_layer() -> None:
    with pytest.raises(NotImplementedError, match="cumsum"):
        price("cumsum", [A((3,))], [A((3,))])
    eq = Eq("block0/attention", "cumsum", [A((3,))], [A((3,))], [("v", 1)], [("v", 2)], {}, 1)
    with pytest.raises(NotImplementedError, match="cumsum.*block0/attention"):
        count([eq], {}, set())


class _Graph:
    """Equations written by hand as jax traces them: each output a fresh variable."""

    def __init__(self, path: str) -> None:
        self.path, self.eqs, self.next = path, [], 0

    def var(self) -> tuple:
        self.next += 1
        return ("v", self.next)

    def eq(self, primitive: str, ins: list, shape: tuple, times: int = 1, **params: object) -> tuple:
        out = self.var()
        avals = [A(s) for _, s in ins]
        self.eqs.append(Eq(self.path, primitive, avals, [A(shape)], [v for v, _ in ins], [out], params, times))
        return out, shape


def _softmax(g: _Graph, x: tuple) -> tuple:
    rows = x[1][:-1]
    top = g.eq("reduce_max", [x], rows, axes=(len(rows),))
    top = g.eq("max", [(None, ()), top], rows)
    top = g.eq("stop_gradient", [g.eq("broadcast_in_dim", [top], (*rows, 1))], (*rows, 1))
    e = g.eq("exp", [g.eq("sub", [x, top], x[1])], x[1])
    total = g.eq("broadcast_in_dim", [g.eq("reduce_sum", [e], rows, axes=(len(rows),))], (*rows, 1))
    return g.eq("div", [e, total], x[1])


def test_softmax_and_the_exact_gelu_are_priced_whole_with_their_primitives_as_evidence() -> None:
    g = _Graph("encoder/attention")
    x = (g.var(), (1, 4, 32, 32))
    _softmax(g, x)
    (node,) = priced(count(g.eqs, {}, set()), {})[1]
    assert node["attrs"]["components"] == {"act:softmax": 4096}
    assert node["attrs"]["primitives"] == {"elementwise": 4 * 4096 - 128, "act:exp": 4096}
    g = _Graph("encoder/ffn1")
    x = (g.var(), (1, 32, 256))
    half = g.eq("mul", [(None, ()), x], x[1])
    inner = g.eq("erfc", [g.eq("mul", [g.eq("neg", [x], x[1]), (None, ())], x[1])], x[1])
    g.eq("copy", [g.eq("mul", [half, inner], x[1])], x[1])
    breakdown, nodes = priced(count(g.eqs, {}, set()), {})
    assert breakdown[0]["components"] == {"act:gelu": 8192}
    assert nodes[0]["attrs"]["primitives"] == {"elementwise": 4 * 8192, "act:erfc": 8192}


def test_a_lone_transcendental_is_named_not_hidden() -> None:
    """An exp that is no softmax is priced as itself: the reference has no such component, so it is residual."""
    g = _Graph("output")
    x = (g.var(), (1, 8))
    g.eq("exp", [x], x[1])
    assert priced(count(g.eqs, {}, set()), {})[0][0]["components"] == {"act:exp": 8}


def _layer_norm(g: _Graph, x: tuple, gamma: tuple, beta: tuple) -> None:
    """Keras 3's LayerNormalization on jax: the mean, jnp.var (the mean again), the scale folded per value."""
    rows = (*x[1][:-1], 1)
    mean = g.eq("div", [g.eq("broadcast_in_dim", [g.eq("reduce_sum", [x], x[1][:-1])], rows), (None, ())], rows)
    again = g.eq("div", [g.eq("broadcast_in_dim", [g.eq("reduce_sum", [x], x[1][:-1])], rows), (None, ())], rows)
    square = g.eq("square", [g.eq("sub", [x, again], x[1])], x[1])
    var = g.eq("div", [g.eq("broadcast_in_dim", [g.eq("reduce_sum", [square], x[1][:-1])], rows), (None, ())], rows)
    inv = g.eq("rsqrt", [g.eq("add", [var, (None, ())], rows)], rows)
    scale = g.eq("mul", [inv, g.eq("reshape", [gamma], (1, 1, x[1][-1]))], x[1])
    shift = g.eq(
        "add", [g.eq("mul", [g.eq("neg", [mean], rows), scale], x[1]), g.eq("reshape", [beta], (1, 1, 64))], x[1]
    )
    g.eq("add", [g.eq("mul", [x, scale], x[1]), shift], x[1])


def test_a_norm_layer_is_priced_whole_by_its_class_with_its_primitives_as_evidence() -> None:
    reference = +measure(zoo.MODELS["layernorm"]["layers"][0], (1, 32, 64)).total()
    found = []
    for classes in ({"norm": "LayerNormalization"}, {}):
        g = _Graph("norm")
        _layer_norm(g, (g.var(), (1, 32, 64)), (g.var(), (64,)), (g.var(), (64,)))
        found.append(priced(count(g.eqs, classes, set()), {}))
    (breakdown, nodes), (unknown, _) = found
    assert breakdown[0]["components"] == reference
    # Keras computes the mean twice and folds gamma into a per-value scale: 10n + 2 per row, not the reference's 7n
    assert nodes[0]["attrs"]["primitives"] == {"elementwise": 32 * (10 * 64 + 2), "act:rsqrt": 32}
    # the twin: a layer not known as a norm is priced primitive by primitive, and that is not the reference
    assert unknown[0]["components"] == nodes[0]["attrs"]["primitives"] != reference


def _simple_rnn(times: int, bias: bool = True, tanh: bool = True) -> list[Eq]:
    """Keras 3's SimpleRNN(32) over 20 steps of 16 features: the scan body, `times` times."""
    g = _Graph("rnn/simple_rnn_cell")
    x, h, kernel, recurrent, b = (g.var(), (1, 16)), (g.var(), (1, 32)), (g.var(), (16, 32)), (g.var(), (32, 32)), None
    b = (g.var(), (32,))
    dot = {"dimension_numbers": (((1,), (0,)), ((), ()))}
    step = g.eq("dot_general", [x, kernel], (1, 32), times, **dot)
    if bias:
        step = g.eq("add", [step, g.eq("broadcast_in_dim", [b], (1, 32), times)], (1, 32), times)
    step = g.eq("add", [step, g.eq("dot_general", [h, recurrent], (1, 32), times, **dot)], (1, 32), times)
    if tanh:
        g.eq("tanh", [step], (1, 32), times)
    params = {b[0]}
    for eq in g.eqs:  # the walk follows a trainable variable through layout primitives
        if eq.primitive == "broadcast_in_dim" and eq.invars[0] in params:
            params.add(eq.outvars[0])
    return count(g.eqs, {}, params)


def _record(definition: dict, items: list[dict], nodes: list[dict]) -> dict:
    return samples.module_record("exact-jax", definition, items, {}, "0.10.2", framework="0.10.2", nodes=nodes)


def _reading(eqs: list[Eq]) -> object:
    breakdown, nodes = priced(eqs, {})
    return reconcile(_record(zoo.MODELS["simplernn"], breakdown, nodes), PRESETS["default"], exact_jax.ADAPTER)


def test_a_scan_priced_times_its_length_is_the_reference() -> None:
    result = _reading(_simple_rnn(20))
    assert result.adjustments == [] and result.residuals == []
    assert result.total == result.reference


def test_a_scan_priced_once_is_a_residual_at_the_recurrent_layer() -> None:
    step = analyse(zoo.MODELS["simplernn"])[0].step
    result = _reading(_simple_rnn(1))
    assert result.adjustments == [] and {r.place for r in result.residuals} == {"rnn"}
    assert result.residual == -19 * PRESETS["default"].flops(step)


def test_a_primitive_left_out_is_a_residual_naming_the_layer_and_component() -> None:
    result = _reading(_simple_rnn(20, tanh=False))
    (residual,) = result.residuals
    (departure,) = residual.departures
    assert residual.place == "rnn" and departure.name == "rnn:act:tanh" and residual.flops == -640


def test_an_unmarked_bias_is_a_residual_naming_the_primitive() -> None:
    """The bias add seen as an ordinary add: bias short, element-wise over, each naming the primitives."""
    eqs = _simple_rnn(20)
    eqs[2].cost = None
    count(eqs, {}, set())
    departures = {d.name: d.rule for r in _reading(eqs).residuals for d in r.departures}
    assert departures == {"rnn:bias": "no op", "rnn:elementwise": "add x2"}


def test_a_formula_off_by_one_is_a_residual_naming_the_layer_and_primitive(monkeypatch) -> None:
    formula, words = count_exact_jax.FORMULAS["dot_general"]
    monkeypatch.setitem(
        count_exact_jax.FORMULAS, "dot_general", (lambda i, o, p: {"mac": formula(i, o, p)["mac"] + 1}, words)
    )
    result = _reading(_simple_rnn(20))
    (residual,) = result.residuals
    (departure,) = residual.departures
    assert (departure.name, residual.flops, departure.rule) == ("rnn:mac", 2 * 2 * 20, "dot_general x2")


def _scoped(definition: dict) -> tuple[list[dict], list[dict]]:
    """A record as the probe writes it when every equation is priced as the reference prices its layer: one
    item per name scope (a composite layer's parts under theirs, a recurrent layer's cell under its own)."""
    items, nodes = [], []
    for cost in analyse(definition):
        scopes = [f"{cost.name}/{p.name}" for p in cost.parts] or [f"{cost.name}/{cost.name}_cell"]
        costs = [p.total() for p in cost.parts] or [cost.total()]
        if cost.kind in zoo.COMPOSITE:
            scopes.append(f"{cost.name}/add")
            costs.append(cost.total() - sum((p.total() for p in cost.parts), Counter()))
        for scope, components in zip(scopes, costs, strict=True):
            components = {k: v for k, v in components.items() if v}
            raw = count_exact_jax.flops(components)
            items.append(samples.item(scope, raw, "", components=components))
            nodes.append(
                {
                    "name": f"{scope}/p#1",
                    "op": "p",
                    "raw": raw,
                    "rule": "counted",
                    "attrs": {"module": scope, "components": components},
                }
            )
    return items, nodes


@pytest.mark.parametrize("model", sorted(zoo.MODELS))
def test_every_zoo_model_reconciles_with_no_adjustment_and_no_residual(model: str) -> None:
    definition = zoo.MODELS[model]
    record = _record(definition, *_scoped(definition))
    for convention in CONVENTIONS:
        result = reconcile(record, convention, exact_jax.ADAPTER)
        assert result.adjustments == [] and result.residuals == [], convention.name
        assert result.total == result.reference


def test_work_outside_every_layer_is_a_residual() -> None:
    definition = zoo.MODELS["seed"]
    items, nodes = _scoped(definition)
    items.append(samples.item(count_exact_jax.ROOT, 10, "", components={"mac": 5}))
    result = reconcile(_record(definition, items, nodes), PRESETS["default"], exact_jax.ADAPTER)
    assert result.residual == 10
    assert exact_jax.layer_of("gru/gru_cell", {"gru"}) == "gru"
    assert exact_jax.layer_of("stray/x", {"gru"}) == "stray/x"
