"""Counts that papers and model hubs publish for zoo models: one entry per printed figure.

Each entry says where the figure is printed, the figure exactly as printed, how precisely it is
printed, and the convention its source says it uses (an itemised Convention: which MACs it counts,
and what else). Where that does not reproduce the figure, the entry names an alternative, stated
here with its reason and computed independently by reproduce.py: another definition of the network
(ResNet v1 against the zoo's v1.5) or another convention (convolutions alone). Nothing here is fitted
to the figure it explains; the tests show that a wrong figure or a wrong convention is not reproduced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bench.reference.convention import Convention

__all__ = ["Alternative", "Figure", "Published", "Rounding", "Source", "CONVENTIONS", "PUBLISHED", "resnet_v1"]


class Rounding(Enum):
    """How a source turned its count into the printed digits."""

    NEAREST = "nearest"  # rounded to the nearest
    DOWN = "down"  # truncated
    UNSTATED = "unstated"  # rounded or truncated: the source does not say


@dataclass(frozen=True)
class Figure:
    printed: str  # exactly as printed, unit included: "3.8 x 10^9 FLOPs"
    value: float  # the printed number in operations: 3.8e9
    quantum: float  # the value of the last printed digit: 1e8
    rounding: Rounding
    scale: float = 1e9  # the printed number's unit in operations: 1e9 for "3.8 billion", 1e6 for "300M"


@dataclass(frozen=True)
class Source:
    label: str  # short, for a table column: "He et al. 2015", "torchvision _ops"
    citation: str  # who, what, where in it: "He et al. 2015, Deep Residual Learning ..., Table 1"
    url: str  # "" where the citation names the place well enough
    version: str = ""  # a library's version or the commit the figure was read at


@dataclass(frozen=True)
class Alternative:
    """What the source really counted, when its stated convention on the zoo's model does not reproduce
    the figure: a different network (`variant`, applied to the zoo's definition) and/or convention."""

    label: str  # short: "as ResNet v1"
    reason: str
    variant: Callable[[dict], dict] | None = None
    convention: Convention | None = None


@dataclass(frozen=True)
class Published:
    key: str
    model: str  # the zoo model the figure is published for
    input: tuple[int, ...]  # the input it is published at, as the zoo writes inputs (batch 1)
    figure: Figure
    source: Source
    convention: Convention
    alternative: Alternative | None = None


def _only(name: str, weights: dict[str, float]) -> Convention:
    """A convention that prices what it names and nothing else (every other component 0)."""
    zero = {"mac": 0.0, "bias": 0.0, "elementwise": 0.0, "act": 0.0}
    return Convention(name, tuple({**zero, **weights}.items()))


CONVENTIONS = {
    "conv+matmul MACs": _only("conv+matmul MACs", {"mac:conv": 1, "mac:matmul": 1}),
    "conv MACs": _only("conv MACs", {"mac:conv": 1}),
    # fvcore 0.1.5 in eval mode: a MAC per conv/linear multiply-accumulate, 2 per BatchNorm value with
    # affine (batchnorm_flop_jit: the formula's 2 element-wise ops), 1 per input value of adaptive
    # average pooling (elementwise_flop_counter(1, 0)); bias, ReLU, max pooling and adds are not priced.
    "fvcore (eval)": _only(
        "fvcore (eval)",
        {"mac:conv": 1, "mac:matmul": 1, "elementwise@batch_norm": 1, "elementwise@global_avg_pool2d": 1},
    ),
}


def resnet_v1(definition: dict) -> dict:
    """ResNet v1 from the zoo's v1.5: in each residual block, the stride of the body's strided 3x3
    convolution moves to the body's first (1x1) convolution, and the 3x3 pads 'same'."""

    def block(spec: dict) -> dict:
        if spec["kind"] != "residual":
            return spec
        body = [dict(layer) for layer in spec["body"]]
        strided = [i for i, layer in enumerate(body) if layer["kind"] == "conv2d" and max(layer["strides"]) > 1]
        if strided and strided[0] > 0 and body[0]["kind"] == "conv2d":
            i = strided[0]
            body[0]["strides"], body[i]["strides"], body[i]["padding"] = body[i]["strides"], [1, 1], "same"
        return dict(spec, body=body)

    return dict(definition, layers=[block(spec) for spec in definition["layers"]])


_HE = "He, Zhang, Ren, Sun 2015, Deep Residual Learning for Image Recognition (arXiv:1512.03385)"
_HE_URL = "https://arxiv.org/abs/1512.03385"
_TV = "torchvision.models weights metadata: meta['_ops'] (the docs' 'GFLOPS' column)"
_TV_URL = "https://pytorch.org/vision/stable/models.html"
_TV_VERSION = "torchvision >= 0.15 (the field was added by pytorch/vision#6936, 2022-11)"
_TIMM_CSV = (
    "timm results/benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv, column infer_gmacs"
    " (benchmark.py: fvcore FlopCountAnalysis of the model in eval mode, round(macs / 1e9, 2))"
)
_TIMM_CSV_URL = (
    "https://github.com/huggingface/pytorch-image-models/blob/7479d451a6dfd8af27f941b8e82a7402461fae80/results/"
    "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv"
)
_TIMM_CSV_VERSION = "pytorch-image-models commit 7479d451a6dfd8af27f941b8e82a7402461fae80 (PyTorch 2.4.0)"
_IMAGE = (1, 224, 224, 3)


def _table(
    prefix: str,
    unit: str,
    quantum: float,
    source: Callable[[str], Source],
    convention: Convention,
    rows: tuple[tuple[str, str, str], ...],
) -> tuple[Published, ...]:
    """A hub's table of figures in billions, rounded to the nearest `quantum`: one entry per (model, the
    row it is read from, the value as printed)."""
    return tuple(
        Published(
            f"{prefix}-{model}",
            model,
            _IMAGE,
            Figure(f"{printed} {unit}", float(printed) * 1e9, quantum, Rounding.NEAREST),
            source(row),
            convention,
        )
        for model, row, printed in rows
    )


PUBLISHED: tuple[Published, ...] = (
    Published(
        "he2015-resnet50",
        "resnet50",
        _IMAGE,
        Figure("3.8 x 10^9 FLOPs", 3.8e9, 1e8, Rounding.UNSTATED),
        Source(
            "He et al. 2015",
            _HE + ", Table 1 (FLOPs row, 50-layer column); Section 3.3: FLOPs are multiply-adds",
            _HE_URL,
        ),
        CONVENTIONS["conv+matmul MACs"],
        Alternative(
            "as ResNet v1",
            "He et al.'s ResNet-50 is v1: stride 2 on the first 1x1 convolution of stages 3 to 5 (the zoo's is"
            " torchvision's v1.5, stride on the 3x3), so the 3x3 convolutions there run on a quarter of the"
            " positions. v1 prints as 3.8 only truncated: counted the same way, Table 1's 101- and 152-layer"
            " columns (7,570,194,432 and 11,282,415,616, printed 7.6 and 11.3) read rounded, so the table"
            " is not consistent in its rounding or counts about 8M fewer multiply-adds than this count",
            variant=resnet_v1,
        ),
    ),
    Published(
        "he2015-vgg16",
        "vgg16",
        _IMAGE,
        Figure("15.3 billion FLOPs", 15.3e9, 1e8, Rounding.UNSTATED),
        Source(
            "He et al. 2015",
            _HE + ", Section 4.1, Deeper Bottleneck Architectures: 'VGG-16/19 nets (15.3/19.6 billion FLOPs)'",
            _HE_URL,
        ),
        CONVENTIONS["conv+matmul MACs"],
        Alternative(
            "convolutions only",
            "the figure counts VGG-16's 13 convolutions only, leaving out the multiply-adds of its three"
            " fully-connected layers (the same sentence's 19.6 billion for VGG-19 counts them: 19,632,062,464"
            " with, 19,508,428,800 without)",
            convention=CONVENTIONS["conv MACs"],
        ),
    ),
    Published(
        "sandler2018-mobilenetv2",
        "mobilenetv2",
        _IMAGE,
        Figure("300M MAdds", 300e6, 1e6, Rounding.UNSTATED, 1e6),
        Source(
            "Sandler et al. 2018",
            "Sandler, Howard, Zhu, Zhmoginov, Chen 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks"
            " (arXiv:1801.04381), Table 4 (MobileNetV2, 224x224, width 1.0)",
            "https://arxiv.org/abs/1801.04381",
        ),
        CONVENTIONS["conv+matmul MACs"],
    ),
    # torchvision writes the value to 3 decimals: 15.47 is 15.470 written as a Python float
    *_table(
        "torchvision",
        "GFLOPS",
        1e6,
        lambda weights: Source(
            "torchvision _ops", f"{_TV}, {weights}.IMAGENET1K_V1 (crop_size 224)", _TV_URL, _TV_VERSION
        ),
        CONVENTIONS["conv+matmul MACs"],
        (
            ("resnet50", "ResNet50_Weights", "4.089"),
            ("vgg16", "VGG16_Weights", "15.47"),
            ("mobilenetv2", "MobileNet_V2_Weights", "0.301"),
        ),
    ),
    *_table(
        "timm",
        "GMACs",
        1e7,
        lambda row: Source("timm benchmark (fvcore)", f"{_TIMM_CSV}, row {row},224", _TIMM_CSV_URL, _TIMM_CSV_VERSION),
        CONVENTIONS["fvcore (eval)"],
        (
            ("resnet50", "resnet50", "4.11"),
            ("vgg16", "vgg16", "15.47"),
            ("mobilenetv2", "mobilenetv2_100", "0.31"),
        ),
    ),
    Published(
        "timm-card-vgg16",
        "vgg16",
        _IMAGE,
        Figure("GMACs: 15.5", 15.5e9, 1e8, Rounding.NEAREST),
        Source(
            "timm model card (fvcore)",
            "timm model card of vgg16.tv_in1k (Hugging Face Hub: timm/vgg16.tv_in1k, Model Stats), written from timm's"
            " fvcore count",
            "",
            "card commit 3394518cba29aee1ea82a49d971be90d2dd1dab7 (2023-04-25)",
        ),
        CONVENTIONS["fvcore (eval)"],
    ),
)
