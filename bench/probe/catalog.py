"""Names the probe answers to, shared with the host so it can check requests before any build.

Plain data only: this module runs under Python 2.7 inside old images and on the host.
"""

SCHEMA = "flops-matrix/probe/1"

# model name -> what it is
MODELS = {
    "seed": "Conv2D(32, 4x4, stride (1,2), relu) -> reshape -> GRU(96) -> Dense(256, sigmoid)"
    " on a (1, 1, 100, 256) input, built exactly as the blog builds it",
    "seed-conv": "the seed model's Conv2D(32, 4x4, stride (1,2), relu) alone (the blog's control)",
}

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
