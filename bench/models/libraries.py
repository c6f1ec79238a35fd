"""Models as their libraries build them (`torchvision:resnet50`, `timm:convnext_tiny`, `hf:bert-base-uncased`):
people quote FLOPs for the modules a library builds, not for a copy, and counters see the difference.

A library model is a model given as code (selection.py: a file with torch_model()) whose file the host
writes itself from this registry: the library's own builder, by name, with random weights (nothing is
downloaded: weights=None, pretrained=False, transformers' config classes with the published sizes and
HF_HUB_OFFLINE in the cell), on the model's own input. Its reference is the `exact` counter, as for every
code model. It runs only in the cells that declare its library (docker/cells.toml `libraries`).

On disk and in a record a library model is `<library>-<name>` (`torchvision-resnet50`: a plain file name
on every system); on the command line and in the report, `<library>:<name>`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SEPARATOR = ":"  # library:name, as the user types it
ON_DISK = "-"  # library-name, as a record and a folder name


@dataclass(frozen=True)
class Entry:
    """One model of a library: the expression that builds it and the input it is counted on."""

    family: str  # the library's family it stands for (a prefix of the library's own names for it)
    input: tuple[int, ...]  # the example input's shape, batch first
    build: str = ""  # the expression that builds it (`{name}` is the model's name); "": the library's
    dtype: str = "float32"  # int64: token ids
    note: str = ""  # what the entry builds, where the name alone does not say


@dataclass(frozen=True)
class Library:
    """One library (its registry key is its name as typed before the colon)."""

    package: str  # the package that builds the models: imported by the written file, its version in pip freeze
    build: str  # the builder, an expression of `{name}`
    models: dict[str, Entry]


def _vision(family: str, side: int = 224) -> Entry:
    return Entry(family, (1, 3, side, side))


# torchvision: every family torchvision.models.list_models(module=torchvision.models) lists, at the crop
# size of the model's published weights (its transforms' crop_size).
TORCHVISION = {
    "alexnet": _vision("alexnet"),
    "convnext_tiny": _vision("convnext"),
    "convnext_base": _vision("convnext"),
    "densenet121": _vision("densenet"),
    "densenet201": _vision("densenet"),
    "efficientnet_b0": _vision("efficientnet_b"),
    "efficientnet_b3": _vision("efficientnet_b", 300),
    "efficientnet_v2_s": _vision("efficientnet_v2", 384),
    "googlenet": _vision("googlenet"),
    "inception_v3": _vision("inception_v3", 299),
    "maxvit_t": _vision("maxvit"),
    "mnasnet1_0": _vision("mnasnet"),
    "mnasnet0_5": _vision("mnasnet"),
    "mobilenet_v2": _vision("mobilenet_v2"),
    "mobilenet_v3_large": _vision("mobilenet_v3"),
    "mobilenet_v3_small": _vision("mobilenet_v3"),
    "regnet_x_400mf": _vision("regnet_x"),
    "regnet_y_400mf": _vision("regnet_y"),
    "regnet_y_1_6gf": _vision("regnet_y"),
    "resnet18": _vision("resnet"),
    "resnet34": _vision("resnet"),
    "resnet50": _vision("resnet"),
    "resnet101": _vision("resnet"),
    "resnet152": _vision("resnet"),
    "resnext50_32x4d": _vision("resnext"),
    "shufflenet_v2_x1_0": _vision("shufflenet_v2"),
    "squeezenet1_0": _vision("squeezenet"),
    "squeezenet1_1": _vision("squeezenet"),
    "swin_t": _vision("swin"),
    "swin_v2_t": _vision("swin", 256),
    "vgg11": _vision("vgg"),
    "vgg16": _vision("vgg"),
    "vgg16_bn": _vision("vgg"),
    "vit_b_16": _vision("vit"),
    "vit_b_32": _vision("vit"),
    "wide_resnet50_2": _vision("wide_resnet"),
}

# timm: its main families, at the input size of each model's default configuration (pretrained_cfg).
TIMM = {
    "resnet18": _vision("resnet"),
    "resnet50": _vision("resnet"),
    "resnet50d": _vision("resnet"),
    "resnext50_32x4d": _vision("resnext"),
    "resnetv2_50": _vision("resnetv2"),
    "convnext_tiny": _vision("convnext"),
    "convnext_small": _vision("convnext"),
    "efficientnet_b0": _vision("efficientnet"),
    "efficientnet_b3": _vision("efficientnet", 288),
    "tf_efficientnet_b0": _vision("tf_efficientnet"),
    "efficientnetv2_rw_s": _vision("efficientnetv2", 288),
    "vit_tiny_patch16_224": _vision("vit"),
    "vit_small_patch16_224": _vision("vit"),
    "vit_base_patch16_224": _vision("vit"),
    "deit_small_patch16_224": _vision("deit"),
    "deit_base_patch16_224": _vision("deit"),
    "mobilenetv3_large_100": _vision("mobilenetv3"),
    "mobilenetv3_small_100": _vision("mobilenetv3"),
    "regnetx_002": _vision("regnetx"),
    "regnety_040": _vision("regnety"),
    "densenet121": _vision("densenet"),
    "swin_tiny_patch4_window7_224": _vision("swin"),
    "beit_base_patch16_224": _vision("beit"),
    "mixer_b16_224": _vision("mixer"),
    "cspdarknet53": _vision("cspdarknet", 256),
    "dla34": _vision("dla"),
    "rexnet_100": _vision("rexnet"),
    "ghostnet_100": _vision("ghostnet"),
}

# transformers: the published sizes, from the config classes (whose defaults are those sizes where a
# size is not given), bare models without a task head, 128 tokens (the zoo's bert-base sequence).
_TOKENS = (1, 128)
HF = {
    "bert-base-uncased": Entry(
        "bert", _TOKENS, "transformers.BertModel(transformers.BertConfig(return_dict=False))", "int64", "BertModel"
    ),
    "gpt2": Entry(
        "gpt2",
        _TOKENS,
        "transformers.GPT2Model(transformers.GPT2Config(use_cache=False, return_dict=False))",
        "int64",
        "GPT2Model, no key-value cache",
    ),
    "t5-small-encoder": Entry(
        "t5",
        _TOKENS,
        "transformers.T5EncoderModel(transformers.T5Config(d_model=512, d_ff=2048, d_kv=64, num_layers=6,"
        " num_heads=8, vocab_size=32128, return_dict=False))",
        "int64",
        "T5EncoderModel of t5-small's sizes",
    ),
    "vit-base-patch16-224": Entry(
        "vit",
        (1, 3, 224, 224),
        "transformers.ViTModel(transformers.ViTConfig(return_dict=False))",
        note="ViTModel, google/vit-base-patch16-224's sizes",
    ),
}

LIBRARIES: dict[str, Library] = {
    "torchvision": Library("torchvision", "torchvision.models.get_model({name!r}, weights=None)", TORCHVISION),
    "timm": Library("timm", "timm.create_model({name!r}, pretrained=False)", TIMM),
    "hf": Library("transformers", "", HF),
}


class LibraryError(ValueError):
    """A library model that is not in the registry; the message is one line naming what is."""


def is_library(name: str) -> bool:
    """`library:name` (as typed) names a library model."""
    return SEPARATOR in name


def split(name: str) -> tuple[str, str]:
    """(library, model) of `library:name`, or of its name on disk `library-name`; LibraryError otherwise."""
    library, sep, model = name.partition(SEPARATOR)
    if not sep:
        library, sep, model = name.partition(ON_DISK)
    if library not in LIBRARIES:
        raise LibraryError(
            f"unknown library {library!r} in {name!r} (known: {', '.join(LIBRARIES)}; a library model is library:name)"
        )
    known = LIBRARIES[library].models
    if model not in known:
        close = difflib.get_close_matches(model, list(known), n=1)
        hint = f" (did you mean {library}:{close[0]}?)" if close else ""
        raise LibraryError(f"unknown {library} model {model!r}{hint}; known: {', '.join(sorted(known))}")
    return library, model


def disk_name(name: str) -> str:
    """`torchvision:resnet50` -> `torchvision-resnet50`: the record's and the folder's name."""
    library, model = split(name)
    return f"{library}{ON_DISK}{model}"


def shown(record_name: str) -> str:
    """A record's model name as the report writes it: `torchvision:resnet50` for a library model, else as it is."""
    library, sep, model = record_name.partition(ON_DISK)
    if sep and library in LIBRARIES and model in LIBRARIES[library].models:
        return f"{library}{SEPARATOR}{model}"
    return record_name


def is_disk_name(name: str) -> bool:
    """`torchvision-resnet50`: the name a record gives a library model."""
    return shown(name) != name


def every(library: str | None = None) -> list[str]:
    """Every library model (of one library), as typed, library by library in registry order."""
    chosen = [library] if library else list(LIBRARIES)
    return [f"{each}{SEPARATOR}{model}" for each in chosen for model in LIBRARIES[each].models]


def expand(names: list[str]) -> list[str]:
    """`timm:*` is every timm model; other names stay as they are."""
    out = []
    for name in names:
        library, sep, model = name.partition(SEPARATOR)
        if sep and model == "*":
            if library not in LIBRARIES:
                split(name)  # names the known libraries
            out += every(library)
        else:
            out.append(name)
    return out


def source(name: str) -> bytes:
    """The Python file that builds the library model: a torch_model() the probe imports in the cell."""
    library_name, model = split(name)
    library, entry = LIBRARIES[library_name], LIBRARIES[library_name].models[model]
    build = entry.build or library.build.format(name=model)
    if entry.dtype == "int64":
        example = f"torch.randint(0, 1000, {entry.input!r}, generator=torch.Generator().manual_seed(0))"
    else:
        example = f"torch.randn({entry.input!r}, generator=torch.Generator().manual_seed(0))"
    what = f" ({entry.note})" if entry.note else ""
    return (
        f'"""{library_name}{SEPARATOR}{model}{what}, as {library.package} builds it, with random weights, on a'
        f" {'x'.join(map(str, entry.input))} {entry.dtype} input.\n\n"
        'Written by bench/models/libraries.py: edit the registry there, not this file."""\n\n\n'
        "def torch_model():\n"
        "    import torch\n"
        f"    import {library.package}\n\n"
        "    torch.manual_seed(0)\n"
        f"    return {build}, {example}\n"
    ).encode()
