"""Names the probe answers to, shared with the host so it can check requests before any build.

Plain data only: this module runs under Python 2.7 inside old images and on the host.
"""

try:
    import zoo  # in a container, the probe's folder is the script's folder
except ImportError:  # on the host, bench.probe is a package
    from bench.probe import zoo

COUNT_SCHEMA = "flops-matrix/probe/3"
CHECK_SCHEMA = "flops-matrix/check/1"

# model name -> what it is
MODELS = dict((name, definition["summary"]) for name, definition in sorted(zoo.MODELS.items()))

# what a counter's numbers are, whatever the tool calls them (fvcore's "flops" are MACs) -> FLOPs per unit
UNITS = {"FLOP": 1, "MAC": 2}
FRAMEWORKS = ("tensorflow", "torch", "jax")
# what a breakdown's items are: TensorFlow op types, modules of the model, ONNX node scopes, or the one
# compiled program XLA prices as a whole
BREAKDOWNS = ("op_type", "module", "scope", "program")


class Counter(object):
    """One counter, declared once and read by name: its framework, the unit its numbers are, the recipe in
    words, where the probe finds its function (module.function, in this folder), and how it behaves:
    - breakdown: what the items of its breakdown are (BREAKDOWNS)
    - nodes_add_up: its nodes carry its whole count (their raw values add up to its total; a record whose
      nodes do not is refused); elsewhere nodes are evidence only, or absent
    - per_sample: why it reports one sample's count whatever the model's batch ("" where it counts the whole
      batch it is given; tests/test_batches_docker.py measures this at two batch sizes)
    - abstract: how it counts a model too big to hold (bench/models/big.py) without its weights ("" where it
      needs the weights: those models are recorded as not run for it)
    - preload: tool modules the probe imports once per container, before forking each job. Only modules
      whose import changes nothing global belong here: keras-flops registers FLOPs rules with TensorFlow when
      imported, which would change every other TF counter's number in the container.
    The host side (bench/counters/) registers one adapter per name and checks both ways when imported."""

    REQUIRED = ("name", "framework", "unit", "recipe", "module", "function", "breakdown")
    OPTIONAL = {"nodes_add_up": False, "per_sample": "", "abstract": "", "preload": ()}

    def __init__(self, **fields):
        name = fields.get("name", "?")
        missing = [f for f in self.REQUIRED if f not in fields]
        unknown = sorted(f for f in fields if f not in self.REQUIRED and f not in self.OPTIONAL)
        if missing or unknown:
            raise ValueError("counter %s: missing %s, unknown %s" % (name, missing, unknown))
        for field, default in self.OPTIONAL.items():
            fields.setdefault(field, default)
        self.__dict__.update(fields)
        for field, value, known in (("framework", self.framework, FRAMEWORKS), ("unit", self.unit, UNITS),
                                    ("breakdown", self.breakdown, BREAKDOWNS)):
            if value not in known:
                raise ValueError("counter %s: %s %r is none of %s" % (name, field, value, ", ".join(sorted(known))))

    @property
    def flops_per_unit(self):
        return UNITS[self.unit]

    def __repr__(self):
        return "Counter(%s)" % self.name


def _declare(*counters):
    found = {}
    for counter in counters:
        if counter.name in found:
            raise ValueError("counter %s: declared twice" % counter.name)
        found[counter.name] = counter
    return found


COUNTERS = _declare(
    Counter(
        name="tf-profiler-seed",
        framework="tensorflow",
        unit="FLOP",
        recipe="the blog's recipe verbatim: x = K.random_normal(...), the model built on the Keras"
        " session graph, tf.profiler float_operation over that whole graph (cmd='op')",
        module="count_tf",
        function="seed_recipe",
        breakdown="op_type",
        nodes_add_up=True,
    ),
    Counter(
        name="tf-profiler-frozen",
        framework="tensorflow",
        unit="FLOP",
        recipe="TF2-native: a concrete function of the model, variables frozen to constants,"
        " tf.profiler float_operation over that graph alone",
        module="count_tf",
        function="frozen",
        breakdown="op_type",
        nodes_add_up=True,
    ),
    Counter(
        name="thop",
        framework="torch",
        unit="MAC",
        recipe="thop.profile(model, inputs=(x,)): multiply-accumulates; FLOPs = 2 x MACs as the blog does",
        module="count_torch",
        function="thop_count",
        breakdown="module",
        preload=("thop",),
    ),
    Counter(
        name="keras-flops",
        framework="tensorflow",
        unit="FLOP",
        recipe="keras_flops.get_flops(model, batch_size=1): tf.profiler float_operation over the model's frozen"
        " graph",
        module="count_keras_flops",
        function="get_flops",
        breakdown="op_type",
        nodes_add_up=True,
        per_sample="get_flops(model, batch_size=1) traces the model again at a batch of 1",
    ),
    Counter(
        name="keras3-jax-xla",
        framework="jax",
        unit="FLOP",
        recipe="Keras 3 on its JAX backend: jax.jit(model call).lower(x).compile().cost_analysis()['flops'],"
        " XLA's own count of the compiled function",
        module="count_keras3",
        function="xla_cost",
        breakdown="program",
        abstract="Keras 3 variables created uninitialized (keras.StatelessScope(initialize_variables=False)),"
        " model.stateless_call jitted and lowered on jax.ShapeDtypeStructs, XLA's cost analysis of the compiled"
        " function",
    ),
    Counter(
        name="keras3-tf-frozen",
        framework="tensorflow",
        unit="FLOP",
        recipe="Keras 3 on its TensorFlow backend: a concrete function of the model, variables frozen to"
        " constants, tf.profiler float_operation over that graph alone",
        module="count_keras3_tf",
        function="frozen",
        breakdown="op_type",
        nodes_add_up=True,
    ),
    Counter(
        name="deepspeed",
        framework="torch",
        unit="FLOP",
        recipe="deepspeed.profiling.flops_profiler.get_model_profile(model, args=[x], as_string=False): its FLOPs",
        module="count_deepspeed",
        function="deepspeed_count",
        breakdown="module",
    ),
    Counter(
        name="torch-flop-counter",
        framework="torch",
        unit="FLOP",
        recipe="torch.utils.flop_counter.FlopCounterMode around one forward pass in eval mode (torch >= 2.1)",
        module="count_flop_counter",
        function="flop_counter_count",
        breakdown="module",
        nodes_add_up=True,
        abstract="the model and its input built on PyTorch's meta device (shapes, no storage),"
        " counted by FlopCounterMode as usual",
    ),
    Counter(
        name="fvcore",
        framework="torch",
        unit="MAC",
        recipe="fvcore.nn.FlopCountAnalysis(model, x).total() in eval mode: its 'flops' are multiply-accumulates",
        module="count_fvcore",
        function="fvcore_count",
        breakdown="module",
        preload=("fvcore.nn",),
    ),
    Counter(
        name="ptflops-pytorch",
        framework="torch",
        unit="MAC",
        recipe="ptflops.get_model_complexity_info(model, shape, backend='pytorch'): module hooks, MACs",
        module="count_ptflops",
        function="ptflops_pytorch",
        breakdown="module",
        per_sample="ptflops builds its own input, of batch 1, from the shape without the batch dimension",
        preload=("ptflops",),
    ),
    Counter(
        name="ptflops-aten",
        framework="torch",
        unit="MAC",
        recipe="ptflops.get_model_complexity_info(model, shape, backend='aten'): aten ops, MACs",
        module="count_ptflops",
        function="ptflops_aten",
        breakdown="module",
        per_sample="ptflops builds its own input, of batch 1, from the shape without the batch dimension",
        preload=("ptflops",),
    ),
    Counter(
        name="torchinfo",
        framework="torch",
        unit="MAC",
        recipe="torchinfo.summary(model, input_data=x): its 'Total mult-adds'",
        module="count_torchinfo",
        function="torchinfo_count",
        breakdown="module",
        preload=("torchinfo",),
    ),
    Counter(
        name="torchprofile",
        framework="torch",
        unit="MAC",
        recipe="torchprofile.profile_macs(model, x): a traced graph's MACs",
        module="count_torchprofile",
        function="torchprofile_count",
        breakdown="module",
        nodes_add_up=True,
        preload=("torchprofile",),
    ),
    Counter(
        name="calflops",
        framework="torch",
        unit="FLOP",
        recipe="calflops.calculate_flops(model, args=[x], output_as_string=False): its FLOPs",
        module="count_calflops",
        function="calflops_count",
        breakdown="module",
        preload=("calflops",),
    ),
    # onnx-tool labels its figures MACs: multiply-accumulates for Conv, Gemm, MatMul and the recurrent
    # ops' products, plus its own per-value instruction estimates for the rest (1 per add, multiply,
    # compare or ReLU, 4 per divide, 32 per sigmoid or exp, 76 per Tanh node value, 38 per tanh inside a GRU
    # or LSTM), all in one "MACs" total.
    Counter(
        name="onnx-tool-torch",
        framework="torch",
        unit="MAC",
        recipe="torch.onnx.export(model, (x,), path, dynamo=False), then onnx-tool's model_profile over that"
        " file: its Forward_MACs (multiply-accumulates, plus its instruction estimates for other ops)",
        module="count_onnx",
        function="torch_count",
        breakdown="scope",
        nodes_add_up=True,
        preload=("onnx_tool",),
    ),
    Counter(
        name="onnx-tool-keras",
        framework="tensorflow",
        unit="MAC",
        recipe="tf2onnx.convert.from_keras(model, input_signature=[...]), then onnx-tool's model_profile over"
        " that file: its Forward_MACs (multiply-accumulates, plus its instruction estimates for other ops)",
        module="count_onnx",
        function="keras_count",
        breakdown="scope",
        nodes_add_up=True,
        preload=("onnx_tool",),
    ),
)

# check name -> the frameworks it imports
CHECK_FRAMEWORKS = {"equivalence": ["tensorflow", "torch"]}

# check name -> description
CHECKS = {
    "equivalence": "the model's Keras and PyTorch builds (from the definition and, for the seed, the"
    " blog's code) have equal per-layer parameter counts and, with the same weights, the same outputs",
}
