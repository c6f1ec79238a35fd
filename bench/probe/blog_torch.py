"""The blog's PyTorch model, kept as the blog wrote it (GRU without batch_first included)."""
from __future__ import absolute_import, division, print_function

import torch
import torch.nn as nn


class test_model_torch(nn.Module):
    def __init__(self):
        super(test_model_torch, self).__init__()
        self.conv2d = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=(4,4), stride=(1,2))
        self.relu = nn.ReLU()
        self.gru = nn.GRU(input_size=4064, hidden_size=96)
        self.fc = nn.Linear(96, 256)
        self.sigmoid = nn.Sigmoid()

    def forward(self, inputs):
        # shape: [B, C, T, F]
        out = self.conv2d(inputs)
        out = self.relu(out)
        # shape: [B, T, FC]
        batch, channel, frame, freq = out.size()
        out = torch.reshape(out, (batch, frame, freq*channel))
        out, _ = self.gru(out)
        out = self.fc(out)
        out = self.sigmoid(out)
        return out
