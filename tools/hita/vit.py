"""The frozen semantic backbone: a DINOv2-style ViT with register tokens (SPEC §1.3.2).

Official presets use ViT-L/14 with 4 registers fed a 224×224 resize of the 336 input; `tiny` uses a
small ViT at the tokenizer's own resolution. Names follow DINOv2's state dict so the published
`dinov2_vitl14_reg4_pretrain.pth` loads without renaming.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneConfig:
    img_size: int = 518  # the size pos_embed was trained for (37×37 patches for /14)
    input_size: int = 224  # the size images are resized to before the ViT
    patch_size: int = 14
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    num_registers: int = 4

    @property
    def input_grid(self) -> int:
        return self.input_size // self.patch_size

    @property
    def num_tokens(self) -> int:
        """Tokens the tokenizer consumes: cls plus patches (registers are dropped)."""
        return 1 + self.input_grid ** 2


class PatchEmbed(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.embed_dim, cfg.patch_size, stride=cfg.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, P, D]


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class ViTAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        head_dim = d // self.num_heads
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, N, hd]
        attn = torch.softmax((q * head_dim ** -0.5) @ k.transpose(-2, -1), dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class ViTMlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ViTBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = ViTAttention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = ViTMlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoVisionTransformer(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        stored_grid = cfg.img_size // cfg.patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + stored_grid ** 2, cfg.embed_dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, cfg.num_registers, cfg.embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, cfg.embed_dim))  # unused; kept for key parity
        self.patch_embed = PatchEmbed(cfg)
        self.blocks = nn.ModuleList(
            [ViTBlock(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        nn.init.normal_(self.register_tokens, std=1e-6)

    def interpolated_pos_embed(self) -> torch.Tensor:
        """pos_embed resized to the input grid: DINOv2's bicubic, antialiased, offset-free rule.

        It depends only on the fixed input size, so the ONNX export bakes it as a constant.
        """
        stored = self.pos_embed.shape[1] - 1
        grid = self.cfg.input_grid
        if stored == grid * grid:
            return self.pos_embed
        side = int(round(stored ** 0.5))
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        patch_pos = patch_pos.float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, size=(grid, grid), mode="bicubic", antialias=True)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)
        return torch.cat([cls_pos, patch_pos.to(self.pos_embed.dtype)], dim=1)

    def forward(self, x: torch.Tensor, pos_embed: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized image [B, 3, S, S] → [B, 1 + P, D]: final-norm cls and patch tokens."""
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        tokens = tokens + (self.interpolated_pos_embed() if pos_embed is None else pos_embed)
        registers = self.register_tokens.expand(x.shape[0], -1, -1)
        # Registers join after the position embedding, between cls and the patches.
        tokens = torch.cat([tokens[:, :1], registers, tokens[:, 1:]], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.norm(tokens)
        return torch.cat([tokens[:, :1], tokens[:, 1 + self.cfg.num_registers:]], dim=1)


def resize_matrix(src: int, dst: int) -> torch.Tensor:
    """[dst, src] matrix equal to kornia's antialiased bicubic resize along one axis.

    Pinned to modern kornia: a Gaussian blur (σ = max((src/dst − 1)/2, 0.001), odd kernel of
    max(4σ, 3) taps, reflect border) then bicubic interpolation with align_corners=True. Both are
    linear and separable, so probing them with the identity gives the exact operator, and a
    matrix product reproduces it in ONNX without Resize's border semantics.
    """
    eye = torch.eye(src, dtype=torch.float64)
    if dst == src:
        return eye
    rows = eye.reshape(src, 1, 1, src)  # each basis vector as a 1×src "image"
    if dst < src:
        sigma = max((src / dst - 1.0) / 2.0, 0.001)
        taps = int(max(2.0 * 2 * sigma, 3))
        taps += 1 - taps % 2
        offsets = torch.arange(taps, dtype=torch.float64) - taps // 2
        kernel = torch.exp(-(offsets ** 2) / (2 * sigma ** 2))
        kernel = kernel / kernel.sum()
        padded = F.pad(rows, (taps // 2, taps // 2, 0, 0), mode="reflect")
        rows = F.conv2d(padded, kernel.reshape(1, 1, 1, taps))
    out = F.interpolate(rows, size=(1, dst), mode="bicubic", align_corners=True)
    return out.reshape(src, dst).transpose(0, 1).contiguous()


class SemanticBackbone(nn.Module):
    """[-1, 1] image → ImageNet-normalized resize → ViT. Frozen: it never trains with the tokenizer."""

    def __init__(self, cfg: BackboneConfig, image_size: int):
        super().__init__()
        self.pretrained_encoder = DinoVisionTransformer(cfg)
        self.register_buffer("resize", resize_matrix(image_size, cfg.input_size).float(),
                             persistent=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor, pos_embed: torch.Tensor | None = None) -> torch.Tensor:
        x = self.resize @ image @ self.resize.transpose(0, 1)  # [B, 3, S, S]
        x = (x.clamp(-1.0, 1.0) + 1.0) / 2.0
        return self.pretrained_encoder((x - self.mean) / self.std, pos_embed)
