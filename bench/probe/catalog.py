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

# counter name -> (framework, unit the tool reports, FLOPs per reported unit, description)
COUNTERS = {
    "tf-profiler-seed": (
        "tensorflow",
        "FLOP",
        1,
        "the blog's recipe verbatim: x = K.random_normal(...), the model built on the Keras"
        " session graph, tf.profiler float_operation over that whole graph (cmd='op')",
    ),
    "tf-profiler-frozen": (
        "tensorflow",
        "FLOP",
        1,
        "TF2-native: a concrete function of the model, variables frozen to constants,"
        " tf.profiler float_operation over that graph alone",
    ),
    "thop": (
        "torch",
        "MAC",
        2,
        "thop.profile(model, inputs=(x,)): multiply-accumulates; FLOPs = 2 x MACs as the blog does",
    ),
}

# check name -> description
CHECKS = {
    "equivalence": "the model's Keras and PyTorch builds (from the definition and, for the seed, the"
    " blog's code) have equal per-layer parameter counts and, with the same weights, the same outputs",
}
