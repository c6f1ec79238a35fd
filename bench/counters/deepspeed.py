"""DeepSpeed's flops profiler (get_model_profile): its per-module FLOPs read onto the model, and its rule model.

DeepSpeed 0.19's FlopsProfiler patches torch.nn.functional, some tensor methods and einops.einsum
while the model runs; each patched call adds its (FLOPs, MACs) to the module whose forward made it
(__flops__, __macs__), and nn.RNN/GRU/LSTM get a forward hook of their own (_rnn_forward_hook) that
adds FLOPs only. get_model_profile returns (flops, macs, params); the probe records the FLOPs and
keeps the MACs figure in the record's notes. calflops was derived from this profiler and its rules
for the layers here are the same functions (deepspeed/profiling/flops_profiler/profiler.py):
- F.conv2d (_conv_flops_compute): 2 x MACs, plus one FLOP per output for the bias;
- F.linear (_linear_flops_compute): 2 x input.numel() x out_features, the bias not counted;
- F.relu and the other patched activations: input.numel() FLOPs;
- nn.GRU (_rnn_forward_hook, _rnn_flops): per cell evaluation (input.shape[0] x input.shape[1] of
  them), 2 x rows x cols - rows per weight matrix, both bias vectors and 7U element-wise; no activations;
- torch.sigmoid (nn.Sigmoid) and torch.tanh are not patched: 0.
So the rule model is calflops' (bench/counters/calflops.py), imported rather than restated; only the
words naming the tool are DeepSpeed's own.
"""

from __future__ import annotations

from bench.counters import calflops
from bench.counters.base import Adapter

__all__ = ["ADAPTER", "ADAPTERS", "read"]

read = calflops.reader("DeepSpeed's", "DeepSpeed's flops profiler", calflops.transposed(True))
# calflops derives from it: one summary column for both
ADAPTER = Adapter("deepspeed", "DeepSpeed flops profiler", read, family="calflops, DeepSpeed")
ADAPTERS = (ADAPTER,)
