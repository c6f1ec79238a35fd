"""Each model defined once, as data: the input shape and a list of layers with their options.

The probe builds Keras and PyTorch models from these definitions (build_keras.py,
build_torch.py); the host computes the analytic reference from the same data
(bench/reference/). Plain data only: this module runs under Python 2.7 too.

Layer keys: `name` (the Keras layer name, also the TensorFlow name scope), `kind`, the kind's
options, and `torch`: the PyTorch module names that implement the layer, in order (an
activation is a module of its own in PyTorch).
"""
import hashlib
import json


def fingerprint(definition):
    """sha256 of the definition as canonical JSON: the same under Python 2.7 and 3."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


SEED_CONV = {
    "name": "conv", "kind": "conv2d", "filters": 32, "kernel": [4, 4], "strides": [1, 2],
    "activation": "relu", "data_format": "channels_first", "torch": ["conv2d", "relu"],
}

MODELS = {
    "seed": {
        "summary": "Conv2D(32, 4x4, stride (1,2), relu) -> reshape -> GRU(96) -> Dense(256, sigmoid)"
                   " on a (1, 1, 100, 256) input, built exactly as the blog builds it",
        # The blog's own builders (blog_keras.py, blog_torch.py) are what its counters measure;
        # the equivalence check proves that the builds from this definition match them.
        "verbatim": True,
        "input": [1, 1, 100, 256],
        "layers": [
            SEED_CONV,
            # Keras Reshape((T, C*F)) and torch.reshape(out, (B, T, F*C)) of a (B, C, T, F) tensor:
            # a plain reshape in memory order, no transpose.
            {"name": "reshape", "kind": "reshape", "shape": [97, 4064], "torch": []},
            {"name": "gru", "kind": "gru", "units": 96, "reset_after": True, "return_sequences": True,
             "activation": "tanh", "recurrent_activation": "sigmoid", "torch": ["gru"]},
            {"name": "output", "kind": "dense", "units": 256, "activation": "sigmoid",
             "torch": ["fc", "sigmoid"]},
        ],
    },
    "seed-conv": {
        "summary": "the seed model's Conv2D(32, 4x4, stride (1,2), relu) alone (the blog's control)",
        "verbatim": False,
        "input": [1, 1, 100, 256],
        "layers": [SEED_CONV],
    },
}
