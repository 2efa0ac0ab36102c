"""Hita's holistic tokenizer: image ⇄ (holistic ids [B, M], patch ids [B, N]).

Execution order and names follow SPEC §1 (official `vq_model.py` / `layers.py` semantics):
CNN encoder → frozen semantic ViT → holistic transformer encoder (bidirectional over
[carriers; semantic tokens; patches], then causal over [carriers; patches]) → two L2-normalised
quantizers; decoding runs the causal token-fusion transformer, keeps outputs shifted by `shift_k`,
and the CNN decoder.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .cnn import Decoder, Encoder
from .transformer import CrossAttention, ProjAttention, Transformer, causal_mask
from .vit import BackboneConfig, SemanticBackbone

USAGE_BUFFER_SIZE = 65536  # size of the official `codebook_used` buffers, whatever the codebook size


@dataclass(frozen=True)
class TokenizerConfig:
    image_size: int = 336
    ch: int = 128
    ch_mult: Tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    z_channels: int = 512  # also the holistic transformer width
    depth: int = 3
    heads: int = 8
    dim_head: int = 64
    mlp_dim: int = 2048
    n_carrier: int = 128  # M, the holistic tokens
    shift_k: int = 4
    codebook_size: int = 16384
    patch_embed_dim: int = 8
    slot_embed_dim: int = 12
    commit_beta: float = 0.25
    dropout: float = 0.1
    enable_vfm_recon: bool = False  # Hita-U's training-only VFM head; never used for serving
    backbone: BackboneConfig = field(default_factory=BackboneConfig)

    @property
    def grid(self) -> int:
        return self.image_size // 2 ** (len(self.ch_mult) - 1)

    @property
    def n_patch(self) -> int:
        return self.grid ** 2


TOKENIZER_PRESETS: Dict[str, TokenizerConfig] = {
    "hita-v": TokenizerConfig(),
    "hita-u": TokenizerConfig(enable_vfm_recon=True),
    "tiny": TokenizerConfig(
        image_size=32, ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, z_channels=128, depth=2, heads=4,
        dim_head=32, mlp_dim=256, n_carrier=16, shift_k=2, codebook_size=1024,
        backbone=BackboneConfig(img_size=32, input_size=32, patch_size=4, embed_dim=96, depth=4,
                                num_heads=3, mlp_ratio=4.0, num_registers=4)),
}


class ProjectionMLP(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, dim, bias=False), nn.LayerNorm(dim), nn.ReLU(),
                                 nn.Linear(dim, dim, bias=False), nn.LayerNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class HolisticEncoder(nn.Module):
    """`encode_transformer`: CNN features + semantic tokens → (slots [B, M, dim], z [B, dim, G, G])."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        dim, self.cfg = cfg.z_channels, cfg
        self.backbone = SemanticBackbone(cfg.backbone, cfg.image_size)
        self.proj = ProjectionMLP(cfg.backbone.embed_dim, dim)
        self.pos_embed = nn.Parameter(torch.randn(1, cfg.n_patch, dim) * 0.02)
        self.carrier_tokens = nn.Parameter(torch.randn(1, cfg.n_carrier, dim) * 0.02)
        self.norm_pre1 = nn.LayerNorm(dim)
        self.norm_pre2 = nn.LayerNorm(dim)
        args = (cfg.depth, dim, cfg.heads, cfg.dim_head, cfg.mlp_dim)
        self.transformer1 = Transformer(*args, CrossAttention, cfg.dropout)
        self.transformer2 = Transformer(*args, ProjAttention, cfg.dropout)

    def forward(self, image: torch.Tensor, h: torch.Tensor,
                semantic_pos: torch.Tensor | None = None) -> Tuple[torch.Tensor, torch.Tensor]:
        b, dim, g, _ = h.shape
        m = self.cfg.n_carrier
        with torch.no_grad():
            semantic = self.backbone(image, semantic_pos)
        semantic = self.proj(semantic)
        patches = h.flatten(2).transpose(1, 2) + self.pos_embed  # [B, N, dim], row-major
        carriers = self.carrier_tokens.expand(b, -1, -1)
        # Carriers must see the patches here (full attention), or every image gets the same codes.
        x = self.transformer1(self.norm_pre1(torch.cat([carriers, semantic, patches], dim=1)))
        x = torch.cat([x[:, :m], x[:, m + semantic.shape[1]:]], dim=1)
        x = self.norm_pre2(x)
        x = self.transformer2(x, causal_mask(x.shape[1], x.device))
        slots, z = x[:, :m], x[:, m:]
        return slots, z.transpose(1, 2).reshape(b, dim, g, g)


class HolisticDecoder(nn.Module):
    """`decode_transformer`: (queries [B, M, dim], h [B, dim, G, G]) → fused h [B, dim, G, G]."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        dim, self.cfg = cfg.z_channels, cfg
        self.position_embedding = nn.Parameter(torch.randn(1, cfg.n_patch, dim) * 0.02)
        self.slot_position_embedding = nn.Parameter(torch.randn(1, cfg.n_carrier, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.transformer = Transformer(cfg.depth, dim, cfg.heads, cfg.dim_head, cfg.mlp_dim,
                                       ProjAttention, cfg.dropout)
        if cfg.enable_vfm_recon:
            self.mask_embedding = nn.Parameter(torch.zeros(1, 1, dim))
            self.norm_vfm = nn.LayerNorm(dim)
            self.proj = nn.Linear(dim, cfg.backbone.embed_dim)

    def forward(self, queries: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        b, dim, g, _ = h.shape
        m, n, k = self.cfg.n_carrier, self.cfg.n_patch, self.cfg.shift_k
        memory = queries + self.slot_position_embedding
        patches = h.flatten(2).transpose(1, 2) + self.position_embedding
        x = self.norm(torch.cat([memory, patches], dim=1))
        x = self.transformer(x, causal_mask(m + n, x.device))
        # Cell j reads output M−k+j: it sees every holistic token and patch tokens ≤ j−k only.
        x = x[:, m - k:m - k + n]
        return x.transpose(1, 2).reshape(b, dim, g, g)


class Quantizer(nn.Module):
    """Nearest code by cosine similarity in an L2-normalised codebook, with a straight-through path."""

    def __init__(self, codebook_size: int, dim: int, commit_beta: float):
        super().__init__()
        self.embedding = nn.Embedding(codebook_size, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        self.register_buffer("codebook_used", torch.zeros(USAGE_BUFFER_SIZE))
        self.commit_beta = commit_beta

    def codebook(self) -> torch.Tensor:
        return F.normalize(self.embedding.weight, dim=-1)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """z [..., dim] → ids [...] (int64): argmin of |z|² + |e|² − 2 z·e, first index on ties."""
        z = F.normalize(z, dim=-1)
        codes = self.codebook()
        dist = (z ** 2).sum(-1, keepdim=True) + (codes ** 2).sum(-1) - 2 * z @ codes.t()
        return dist.argmin(dim=-1)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.codebook())

    def forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]:
        """Training path: z [..., dim] → (z_q with straight-through gradient, ids, losses)."""
        ids = self.nearest(z)
        z = F.normalize(z, dim=-1)
        z_q = self.lookup(ids)
        losses = {"vq": F.mse_loss(z_q, z.detach()),
                  "commit": self.commit_beta * F.mse_loss(z, z_q.detach())}
        return z + (z_q - z).detach(), ids, losses


class HitaTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.cfg = cfg
        dim = cfg.z_channels
        self.encoder = Encoder(cfg.ch, cfg.ch_mult, cfg.num_res_blocks, dim)
        self.decoder = Decoder(cfg.ch, cfg.ch_mult, cfg.num_res_blocks, dim)
        self.quantize = Quantizer(cfg.codebook_size, cfg.patch_embed_dim, cfg.commit_beta)
        self.slot_quantize = Quantizer(cfg.codebook_size, cfg.slot_embed_dim, cfg.commit_beta)
        self.quant_conv = nn.Conv2d(dim, cfg.patch_embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(cfg.patch_embed_dim, dim, 1)
        self.pre_slots_quant = nn.Linear(dim, cfg.slot_embed_dim)
        self.post_slots_quant = nn.Linear(cfg.slot_embed_dim, dim)
        self.encode_transformer = HolisticEncoder(cfg)
        self.decode_transformer = HolisticDecoder(cfg)
        self.encode_transformer.backbone.requires_grad_(False)

    def pre_quant(self, image: torch.Tensor, semantic_pos: torch.Tensor | None = None
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """image [B, 3, R, R] → (slot vectors [B, M, 12], patch vectors [B, G, G, 8])."""
        slots, z = self.encode_transformer(image, self.encoder(image), semantic_pos)
        return self.pre_slots_quant(slots), self.quant_conv(z).permute(0, 2, 3, 1)

    def encode(self, image: torch.Tensor, semantic_pos: torch.Tensor | None = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """image [B, 3, R, R] in [-1, 1] → (holistic ids [B, M], patch ids [B, N] row-major)."""
        slot_vec, patch_vec = self.pre_quant(image, semantic_pos)
        b = image.shape[0]
        return self.slot_quantize.nearest(slot_vec), self.quantize.nearest(patch_vec).reshape(b, -1)

    def decode_vectors(self, slot_q: torch.Tensor, patch_q: torch.Tensor) -> torch.Tensor:
        """(unit slot vectors [B, M, 12], unit patch vectors [B, G, G, 8]) → image [B, 3, R, R]."""
        h = self.post_quant_conv(patch_q.permute(0, 3, 1, 2))
        return self.decoder(self.decode_transformer(self.post_slots_quant(slot_q), h))

    def decode(self, holistic_ids: torch.Tensor, patch_ids: torch.Tensor) -> torch.Tensor:
        """(holistic ids [B, M], patch ids [B, N]) → image [B, 3, R, R], unclamped."""
        g = self.cfg.grid
        patch_q = self.quantize.lookup(patch_ids).reshape(patch_ids.shape[0], g, g, -1)
        return self.decode_vectors(self.slot_quantize.lookup(holistic_ids), patch_q)

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Training reconstruction: image → (reconstruction, quantizer losses and ids)."""
        slot_vec, patch_vec = self.pre_quant(image)
        slot_q, slot_ids, slot_losses = self.slot_quantize(slot_vec)
        patch_q, patch_ids, patch_losses = self.quantize(patch_vec)
        losses = {f"slot_{k}": v for k, v in slot_losses.items()}
        losses.update({f"patch_{k}": v for k, v in patch_losses.items()})
        losses["holistic_ids"], losses["patch_ids"] = slot_ids, patch_ids
        return self.decode_vectors(slot_q, patch_q), losses


def tokenizer_config(preset: str, **overrides) -> TokenizerConfig:
    if preset not in TOKENIZER_PRESETS:
        raise KeyError(f"unknown tokenizer preset {preset!r}; known: {sorted(TOKENIZER_PRESETS)}")
    return replace(TOKENIZER_PRESETS[preset], **overrides)
