"""Head split and merge whose ONNX form is a single Reshape with a constant shape."""
from __future__ import annotations

import torch


class _SplitHeads(torch.autograd.Function):
    """[B, T, H·D] → [B, T, H, D] whose ONNX form is one Reshape to (0, 0, H, −1).

    A traced reshape would rebuild the shape from Shape/Gather/Concat nodes on every call; the
    batch and sequence axes are copied, so a constant shape does the same job in one node.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, heads: int) -> torch.Tensor:  # type: ignore[override]
        return x.reshape(x.shape[0], x.shape[1], heads, -1)

    @staticmethod
    def symbolic(g, x, heads: int):
        return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([0, 0, heads, -1])))


class _MergeHeads(torch.autograd.Function):
    """[B, T, H, D] → [B, T, H·D] as one Reshape to (0, 0, −1)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.reshape(x.shape[0], x.shape[1], -1)

    @staticmethod
    def symbolic(g, x):
        return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([0, 0, -1])))


# The Functions only shape the exported graph: they define no backward, so training and eager
# inference take the plain reshape.
def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    if torch.onnx.is_in_onnx_export():
        return _SplitHeads.apply(x, heads)
    return x.reshape(x.shape[0], x.shape[1], heads, -1)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    if torch.onnx.is_in_onnx_export():
        return _MergeHeads.apply(x)
    return x.reshape(x.shape[0], x.shape[1], -1)
