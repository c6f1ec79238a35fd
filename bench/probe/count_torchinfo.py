"""torchinfo.summary's "Total mult-adds", with each leaf module's mult-adds and the rule that priced it."""
from __future__ import absolute_import, division, print_function


def _rule(info):
    """Which branch of torchinfo's LayerInfo.calculate_macs prices the module, by its parameter names.

    calculate_macs goes over the module's parameters: one named exactly "weight" or "bias" costs
    its size x the output positions (batch x spatial dims) when the class name holds "Conv", else
    its size x output_size[0]; any other name holding "weight" or "bias" (an RNN's weight_ih_l0,
    ...) costs its size x output_size[0] x output_size[1]; other parameters cost nothing.
    """
    rules = []
    for name, _param in info.module.named_parameters():
        if name in ("weight", "bias"):
            rule = "conv" if "Conv" in info.class_name else "output_size[0]"
        elif "weight" in name or "bias" in name:
            rule = "output_size[:2]"
        else:
            rule = "not priced"
        if rule not in rules:
            rules.append(rule)
    return "+".join(rules) if rules else "no parameters"


def _macs_text(info):
    """The row's Mult-Adds column as torchinfo writes it (1.5 also takes the row's children)."""
    try:
        return info.macs_to_str(False)
    except TypeError:  # torchinfo < 1.6: macs_to_str(reached_max_depth, children_layers)
        return info.macs_to_str(False, [])


def torchinfo_count(model_name):
    """`torchinfo.summary(model, input_data=x, verbose=0)`: its total_mult_adds, per leaf module."""
    import torch
    import torchinfo

    import answer
    import build_torch
    import installed

    model = build_torch.builder(model_name)()
    model.eval()
    x = build_torch.seed_input(model_name)
    stats = torchinfo.summary(model, input_data=x, verbose=0)

    names = dict((id(module), name) for name, module in model.named_modules())
    items, unsupported = [], []
    for info in stats.summary_list:
        if not info.is_leaf_layer:  # total_mult_adds sums the leaf layers alone
            continue
        name = names.get(id(info.module), info.var_name)
        rule = _rule(info)
        items.append({
            "name": name,
            "type": info.class_name,
            "raw": int(info.macs),
            "rule": rule,
            "output_size": list(info.output_size),
        })
        if info.macs <= 0:
            # torchinfo's own word for the row's Mult-Adds column
            unsupported.append("%s: Mult-Adds %s (%s)" % (info.get_layer_name(True, False), _macs_text(info), rule))
    notes = [
        "total_mult_adds sums LayerInfo.macs over leaf layers; each is priced from the layer's"
        " parameter counts and output_size by LayerInfo.calculate_macs, not from the ops it runs",
    ]
    return answer.make(int(stats.total_mult_adds), items, build_torch.describe(model), ("torch", torch.__version__),
                       ("torchinfo", installed.dist_version("torchinfo")), unsupported, notes)


# The counters this module gives the probe, declared here alone (bench/probe/catalog.py reads this
# literal without importing the module; field meanings: catalog.Counter).
COUNTERS = {
    "torchinfo": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "torchinfo.summary(model, input_data=x): its 'Total mult-adds'",
        "function": "torchinfo_count",
        "breakdown": "module",
        "preload": ("torchinfo",),
    },
}
