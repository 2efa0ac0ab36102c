"""The tokenizer's convolutional encoder and decoder (SPEC §1.3.1 and §1.4.4).

A taming/LlamaGen-style VQGAN trunk: levels of residual blocks, spatial self-attention at the
lowest resolution, GroupNorm(32, eps 1e-6) and swish. Module names follow the official state dict
(`conv_blocks.{i}.res.{j}`, `.attn.{j}`, `.downsample.conv`, `.upsample.conv`, `mid.{0,1,2}`).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        # Only a change of width needs a projected skip; the key exists only then.
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)
        else:
            self.nin_shortcut = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(self.dropout(swish(self.norm2(h))))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all spatial positions, 1×1 convolutions for q, k, v."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = group_norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, height, width = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(b, c, height * width).transpose(1, 2)  # [B, HW, C]
        k = self.k(h).reshape(b, c, height * width)  # [B, C, HW]
        v = self.v(h).reshape(b, c, height * width)  # [B, C, HW]
        weights = torch.softmax(torch.bmm(q, k) * (self.channels ** -0.5), dim=-1)  # [B, HWq, HWk]
        out = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, height, width)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Asymmetric padding (right and bottom only) halves odd and even sizes alike.
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One resolution level; `attn` and the resampler exist only where the official model has them."""

    def __init__(self, blocks: Sequence[nn.Module], attn: Sequence[nn.Module], resample: nn.Module | None,
                 resample_name: str):
        super().__init__()
        self.res = nn.ModuleList(blocks)
        if attn:
            self.attn = nn.ModuleList(attn)
        if resample is not None:
            setattr(self, resample_name, resample)
        self.resample_name = resample_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = getattr(self, "attn", None)
        for i, block in enumerate(self.res):
            x = block(x)
            if attn is not None:
                x = attn[i](x)
        resample = getattr(self, self.resample_name, None)
        return x if resample is None else resample(x)


class Encoder(nn.Module):
    """Image [B, 3, R, R] in [-1, 1] → features [B, z_channels, G, G], G = R / 2^(levels−1)."""

    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int, z_channels: int,
                 dropout: float = 0.0):
        super().__init__()
        levels = len(ch_mult)
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        in_mult = (1,) + tuple(ch_mult)
        blocks = []
        block_out = ch
        for i in range(levels):
            block_in, block_out = ch * in_mult[i], ch * ch_mult[i]
            res = [ResnetBlock(block_in if j == 0 else block_out, block_out, dropout)
                   for j in range(num_res_blocks)]
            is_lowest = i == levels - 1
            attn = [AttnBlock(block_out) for _ in range(num_res_blocks)] if is_lowest else []
            blocks.append(Level(res, attn, None if is_lowest else Downsample(block_out), "downsample"))
        self.conv_blocks = nn.ModuleList(blocks)
        self.mid = nn.ModuleList([
            ResnetBlock(block_out, block_out, dropout), AttnBlock(block_out),
            ResnetBlock(block_out, block_out, dropout),
        ])
        self.norm_out = group_norm(block_out)
        self.conv_out = nn.Conv2d(block_out, z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.conv_blocks:
            h = level(h)
        for block in self.mid:
            h = block(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    """Features [B, z_channels, G, G] → image [B, 3, R, R], unbounded (≈[-1, 1]); no final tanh."""

    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int, z_channels: int,
                 dropout: float = 0.0):
        super().__init__()
        levels = len(ch_mult)
        block_in = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = nn.ModuleList([
            ResnetBlock(block_in, block_in, dropout), AttnBlock(block_in),
            ResnetBlock(block_in, block_in, dropout),
        ])
        blocks = []
        for i in range(levels):
            block_out = ch * ch_mult[levels - 1 - i]
            res = [ResnetBlock(block_in if j == 0 else block_out, block_out, dropout)
                   for j in range(num_res_blocks + 1)]
            attn = [AttnBlock(block_out) for _ in range(num_res_blocks + 1)] if i == 0 else []
            is_last = i == levels - 1
            blocks.append(Level(res, attn, None if is_last else Upsample(block_out), "upsample"))
            block_in = block_out
        self.conv_blocks = nn.ModuleList(blocks)
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(z)
        for block in self.mid:
            h = block(h)
        for level in self.conv_blocks:
            h = level(h)
        return self.conv_out(swish(self.norm_out(h)))
