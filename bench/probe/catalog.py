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

# counter name -> (framework, unit the tool really reports, FLOPs per reported unit, recipe, probe module)
# The unit is what the numbers are, whatever the tool calls them (fvcore's "flops" are MACs).
COUNTERS = {
    "tf-profiler-seed": (
        "tensorflow",
        "FLOP",
        1,
        "the blog's recipe verbatim: x = K.random_normal(...), the model built on the Keras"
        " session graph, tf.profiler float_operation over that whole graph (cmd='op')",
        "count_tf",
    ),
    "tf-profiler-frozen": (
        "tensorflow",
        "FLOP",
        1,
        "TF2-native: a concrete function of the model, variables frozen to constants,"
        " tf.profiler float_operation over that graph alone",
        "count_tf",
    ),
    "thop": (
        "torch",
        "MAC",
        2,
        "thop.profile(model, inputs=(x,)): multiply-accumulates; FLOPs = 2 x MACs as the blog does",
        "count_torch",
    ),
    "keras-flops": (
        "tensorflow",
        "FLOP",
        1,
        "keras_flops.get_flops(model, batch_size=1): tf.profiler float_operation over the model's frozen graph",
        "count_keras_flops",
    ),
    "keras3-jax-xla": (
        "jax",
        "FLOP",
        1,
        "Keras 3 on its JAX backend: jax.jit(model call).lower(x).compile().cost_analysis()['flops'],"
        " XLA's own count of the compiled function",
        "count_keras3",
    ),
    "keras3-tf-frozen": (
        "tensorflow",
        "FLOP",
        1,
        "Keras 3 on its TensorFlow backend: a concrete function of the model, variables frozen to"
        " constants, tf.profiler float_operation over that graph alone",
        "count_keras3_tf",
    ),
    "deepspeed": (
        "torch",
        "FLOP",
        1,
        "deepspeed.profiling.flops_profiler.get_model_profile(model, args=[x], as_string=False): its FLOPs",
        "count_deepspeed",
    ),
    "torch-flop-counter": (
        "torch",
        "FLOP",
        1,
        "torch.utils.flop_counter.FlopCounterMode around one forward pass in eval mode (torch >= 2.1)",
        "count_flop_counter",
    ),
    "fvcore": (
        "torch",
        "MAC",
        2,
        "fvcore.nn.FlopCountAnalysis(model, x).total() in eval mode: its 'flops' are multiply-accumulates",
        "count_fvcore",
    ),
    "ptflops-pytorch": (
        "torch",
        "MAC",
        2,
        "ptflops.get_model_complexity_info(model, shape, backend='pytorch'): module hooks, MACs",
        "count_ptflops",
    ),
    "ptflops-aten": (
        "torch",
        "MAC",
        2,
        "ptflops.get_model_complexity_info(model, shape, backend='aten'): aten ops, MACs",
        "count_ptflops",
    ),
    "torchinfo": (
        "torch",
        "MAC",
        2,
        "torchinfo.summary(model, input_data=x): its 'Total mult-adds'",
        "count_torchinfo",
    ),
    "torchprofile": (
        "torch",
        "MAC",
        2,
        "torchprofile.profile_macs(model, x): a traced graph's MACs",
        "count_torchprofile",
    ),
    "calflops": (
        "torch",
        "FLOP",
        1,
        "calflops.calculate_flops(model, args=[x], output_as_string=False): its FLOPs",
        "count_calflops",
    ),
    # onnx-tool labels its figures MACs: multiply-accumulates for Conv, Gemm, MatMul and the recurrent
    # ops' products, plus its own per-value instruction estimates for the rest (1 per add, multiply,
    # compare or ReLU, 4 per divide, 32 per sigmoid or exp, 76 per Tanh node value, 38 per tanh inside a GRU
    # or LSTM), all in one "MACs" total.
    "onnx-tool-torch": (
        "torch",
        "MAC",
        2,
        "torch.onnx.export(model, (x,), path, dynamo=False), then onnx-tool's model_profile over that"
        " file: its Forward_MACs (multiply-accumulates, plus its instruction estimates for other ops)",
        "count_onnx",
    ),
    "onnx-tool-keras": (
        "tensorflow",
        "MAC",
        2,
        "tf2onnx.convert.from_keras(model, input_signature=[...]), then onnx-tool's model_profile over"
        " that file: its Forward_MACs (multiply-accumulates, plus its instruction estimates for other ops)",
        "count_onnx",
    ),
}

# counter name -> why it reports one sample's count whatever the model's batch (every other counter
# counts the whole batch it is given). tests/test_batches_docker.py measures this at two batch sizes.
PER_SAMPLE = {
    "ptflops-pytorch": "ptflops builds its own input, of batch 1, from the shape without the batch dimension",
    "ptflops-aten": "ptflops builds its own input, of batch 1, from the shape without the batch dimension",
    "keras-flops": "get_flops(model, batch_size=1) traces the model again at a batch of 1",
}

# counter name -> how it counts a model too big to hold (bench/bigmodels.py) without its weights; the
# other counters need the weights, and those models are recorded as not run for them.
ABSTRACT = {
    "torch-flop-counter": "the model and its input built on PyTorch's meta device (shapes, no storage),"
    " counted by FlopCounterMode as usual",
    "keras3-jax-xla": "Keras 3 variables created uninitialized (keras.StatelessScope(initialize_variables=False)),"
    " model.stateless_call jitted and lowered on jax.ShapeDtypeStructs, XLA's cost analysis of the compiled"
    " function",
}

# counter name -> tool modules the probe imports once per container, before forking each job. Only
# modules whose import changes nothing global belong here: keras-flops registers FLOPs rules with
# TensorFlow when imported, which would change every other TF counter's number in the container.
PRELOAD = {
    "thop": ["thop"],
    "fvcore": ["fvcore.nn"],
    "ptflops-pytorch": ["ptflops"],
    "ptflops-aten": ["ptflops"],
    "torchinfo": ["torchinfo"],
    "torchprofile": ["torchprofile"],
    "calflops": ["calflops"],
    "onnx-tool-torch": ["onnx_tool"],
    "onnx-tool-keras": ["onnx_tool"],
}

# check name -> the frameworks it imports
CHECK_FRAMEWORKS = {"equivalence": ["tensorflow", "torch"]}

# check name -> description
CHECKS = {
    "equivalence": "the model's Keras and PyTorch builds (from the definition and, for the seed, the"
    " blog's code) have equal per-layer parameter counts and, with the same weights, the same outputs",
}
