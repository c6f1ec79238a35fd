"""The question the project started from, as data: the blog post that compared three systems on one
model (the copy read is ../shared/seed/flops-tf1-tf2-pytorch-blog.txt).

The front page answers it first (bench/publish/front.py). This registry says which measurement stands for each
system the blog ran, and what the blog said of its figures; the numbers, the reference and the steps
each system prices come from the records alone. A system whose own cell has no measurement is shown
with the cell that stands in for it, and the reason its own cell did not run is read from its record.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BLOG", "Blog", "System"]


@dataclass(frozen=True)
class System:
    label: str  # as the blog names it
    cell: str  # the cell that runs it as the blog did
    counter: str  # the job that measures it with the blog's own code
    blog_says: str  # what the blog says of its figure, in English
    stand_in: str = ""  # the cell measured instead when `cell` has no measurement


@dataclass(frozen=True)
class Blog:
    title: str
    source: str  # where the copy read lies, from the repository root
    model: str  # the blog's model in the zoo
    control: str  # the blog's control model: where the three agree
    figures: str  # what the copy holds of the printed figures
    systems: tuple[System, ...]


BLOG = Blog(
    title="FLOPs in TensorFlow 1.x, TensorFlow 2.x and PyTorch",
    source="../shared/seed/flops-tf1-tf2-pytorch-blog.txt",
    model="seed",
    control="seed-conv",
    figures=(
        "The copy of the blog read here has its three result lines empty (section 3.4: the figures did not"
        " survive); what it says of them is quoted, translated."
    ),
    systems=(
        System(
            "TensorFlow 1.12.0",
            "tf-1.12.0",
            "tf-profiler-seed",
            "about the same order of magnitude as TensorFlow 2.3.1",
        ),
        System(
            "TensorFlow 2.3.1",
            "tf-2.3.1",
            "tf-profiler-seed",
            "about the same order of magnitude as TensorFlow 1.12.0",
            stand_in="tf-2.5.3",
        ),
        System(
            "PyTorch 1.10.1 + thop (x2)",
            "torch-1.10.1",
            "thop",
            "far from both TensorFlow figures; with the Conv2D alone all three agree",
        ),
    ),
)
