"""Names the probe answers to, shared with the host so it can check requests before any build.

Plain data only: this module runs under Python 2.7 inside old images and on the host. Each counter is
declared in its own probe module (count_*.py: COUNTERS); this module collects and checks them.
"""

import ast
import os

try:
    import zoo  # in a container, the probe's folder is the script's folder
except ImportError:  # on the host, bench.probe is a package
    from bench.probe import zoo

COUNT_SCHEMA = "flops-matrix/probe/3"
CHECK_SCHEMA = "flops-matrix/check/1"
HERE = os.path.dirname(os.path.abspath(__file__))

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


def collect(folder=HERE):
    """Every counter, from the COUNTERS literal of each count_*.py in the probe's folder, read without
    importing the module (no framework is imported, and a module changed re-keys only its own counters'
    records): adding a counter adds a module here and touches no shared probe file."""
    found = {}
    for filename in sorted(os.listdir(folder)):
        if not (filename.startswith("count_") and filename.endswith(".py")):
            continue
        module = filename[: -len(".py")]
        with open(os.path.join(folder, filename)) as handle:
            tree = ast.parse(handle.read(), filename)
        declared = [node.value for node in tree.body if isinstance(node, ast.Assign)
                    and [getattr(t, "id", None) for t in node.targets] == ["COUNTERS"]]
        if len(declared) != 1:
            raise ValueError("%s: declares no COUNTERS literal (or more than one)" % filename)
        for name, fields in sorted(ast.literal_eval(declared[0]).items()):
            if name in found:
                raise ValueError("counter %s: declared in %s and %s" % (name, found[name].module, module))
            found[name] = Counter(name=name, module=module, **fields)
    return dict(sorted(found.items()))


COUNTERS = collect()

# check name -> the frameworks it imports
CHECK_FRAMEWORKS = {"equivalence": ["tensorflow", "torch"]}

# check name -> description
CHECKS = {
    "equivalence": "the model's Keras and PyTorch builds (from the definition and, for the seed, the"
    " blog's code) have equal per-layer parameter counts and, with the same weights, the same outputs",
}
