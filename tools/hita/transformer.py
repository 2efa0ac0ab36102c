"""Pre-norm transformer layers of the holistic encoder and the decoder's token-fusion module.

Two attention flavours exist in the official tokenizer with different parameter names:
`to_q/to_k/to_v/to_out.0` (bias-free projections, used by the encoder's bidirectional first
transformer) and `q_proj/k_proj/v_proj/out_proj` (with bias, used by the causal ones). Both are
plain multi-head softmax attention with scale head_dim^-0.5 (SPEC §1.3.3).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .heads import merge_heads, split_heads


def swiglu_hidden(mlp_dim: int) -> int:
    """The official SwiGLU width: two thirds of mlp_dim, rounded up to a multiple of 8."""
    return ((int(mlp_dim * 2 / 3) + 7) // 8) * 8


class SwiGLU(nn.Module):
    def __init__(self, dim: int, mlp_dim: int):
        super().__init__()
        hidden = swiglu_hidden(mlp_dim)
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(self.w12(x), self.hidden, dim=-1)
        return self.w3(F.silu(a) * b)


def multi_head_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                         allowed: torch.Tensor | None) -> torch.Tensor:
    """q, k, v [B, T, H·D]; `allowed` [T, T] bool (True = may attend) or None for full attention."""
    d = q.shape[-1] // heads
    q, k, v = (split_heads(x, heads).transpose(1, 2) for x in (q, k, v))  # [B, H, T, D]
    scores = (q @ k.transpose(-2, -1)) * (d ** -0.5)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    return merge_heads(out.transpose(1, 2))


class CrossAttention(nn.Module):
    """Bias-free q/k/v projections (`to_q`, ...); used without a mask."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
        out = multi_head_attention(self.to_q(x), self.to_k(x), self.to_v(x), self.heads, allowed)
        return self.to_out(out)


class ProjAttention(nn.Module):
    """Biased projections (`q_proj`, ...); used with a causal mask."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
        out = multi_head_attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads, allowed)
        return self.out_proj(out)


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, attention: type[nn.Module],
                 dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.ffnet = SwiGLU(dim, mlp_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
        x = x + self.dropout(self.attn1(self.norm1(x), allowed))
        return x + self.dropout(self.ffnet(self.norm2(x)))


class Transformer(nn.Module):
    def __init__(self, depth: int, dim: int, heads: int, dim_head: int, mlp_dim: int,
                 attention: type[nn.Module], dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            [TransformerLayer(dim, heads, dim_head, mlp_dim, attention, dropout) for _ in range(depth)])

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, allowed)
        return x


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()
