"""Hita's class-conditional AR transformer (SPEC §2): LlamaGen's GPT plus holistic-token parts.

Sequence layout: [class] [holistic h0..h(M−1)] [patch z0..z(N−2)], positions p = 0 .. M+N−1.
Per-position rules, all decided on the absolute position p:
  * input embedding: class table at p = 0, slot table for p < M, token table after — at p = M the
    official inference embeds h(M−1) with the token table; `pos_m_embedding` picks "tok" (official
    inference) or "slot" (training, and our own models);
  * position: p < M adds the learned `slot_pos[p]` to q and k; p ≥ M rotates them with 2D RoPE row
    p − M, whose row 0 is all zeros (q = k = 0 at p = M, as in the official model);
  * head: holistic logits (first V rows of `output`) for p < M, patch logits after; a call
    computes only the halves its positions need (`HitaGPT.head`, export_onnx's head split).

One entry point, `forward_step`, serves training-style full sequences, prefill and KV-cache decode
alike; it is also the exported ONNX graph, so PyTorch and ONNX share every line.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .heads import merge_heads, split_heads

MASK_VALUE = -1e9  # finite, so a fully masked (padding) row softmaxes to uniform instead of NaN


def find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - n % k


@dataclass(frozen=True)
class GPTConfig:
    dim: int = 768
    n_layer: int = 12
    n_head: int = 12
    vocab_size: int = 16384  # per codebook; the output has 2·V rows
    num_classes: int = 1000  # the null (unconditional) class is id num_classes
    num_slots: int = 128  # M
    block_size: int = 441  # N
    cls_token_num: int = 1
    multiple_of: int = 256
    ffn_dim_multiplier: float | None = None
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    token_dropout_p: float = 0.1
    resid_dropout_p: float = 0.1
    ffn_dropout_p: float = 0.1
    class_dropout_prob: float = 0.1
    pos_m_embedding: str = "slot"  # "tok" reproduces official inference at p = M

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_head

    @property
    def ffn_hidden(self) -> int:
        hidden = int(2 * 4 * self.dim / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return find_multiple(hidden, self.multiple_of)

    @property
    def grid(self) -> int:
        return int(round(self.block_size ** 0.5))

    @property
    def max_positions(self) -> int:
        return self.cls_token_num + self.num_slots + self.block_size - 1


GPT_PRESETS: Dict[str, GPTConfig] = {
    "gpt-b": GPTConfig(dim=768, n_layer=12, n_head=12),
    "gpt-l": GPTConfig(dim=1024, n_layer=24, n_head=16),
    "gpt-xl": GPTConfig(dim=1280, n_layer=36, n_head=20),
    "gpt-xxl": GPTConfig(dim=1536, n_layer=48, n_head=24),
    "gpt-2b": GPTConfig(dim=1920, n_layer=48, n_head=32),
    "tiny": GPTConfig(dim=192, n_layer=6, n_head=6, vocab_size=1024, num_classes=10, num_slots=16,
                      block_size=64),
}


def gpt_config(preset: str, **overrides) -> GPTConfig:
    if preset not in GPT_PRESETS:
        raise KeyError(f"unknown GPT preset {preset!r}; known: {sorted(GPT_PRESETS)}")
    return replace(GPT_PRESETS[preset], **overrides)


def rope_2d_table(grid: int, head_dim: int, base: float = 10000.0, zero_rows: int = 1) -> torch.Tensor:
    """[zero_rows + grid², head_dim/2, 2] (cos, sin) for interleaved 2D RoPE (SPEC §2.4).

    Pair i < head_dim/4 rotates by the cell's row, the rest by its column; the frequencies are
    base^(−2i/(head_dim/2)). Rows are raster cells after `zero_rows` all-zero rows.
    """
    half = head_dim // 2
    freqs = base ** (-torch.arange(0, half, 2)[: half // 2].double() / half)  # [half/2]
    cells = torch.arange(grid, dtype=torch.float64)
    angles_1d = torch.outer(cells, freqs)  # [G, half/2]
    angles = torch.cat([angles_1d[:, None, :].expand(grid, grid, -1),
                        angles_1d[None, :, :].expand(grid, grid, -1)], dim=-1)  # [G, G, half]
    table = torch.stack([angles.cos(), angles.sin()], dim=-1).reshape(grid * grid, half, 2)
    return torch.cat([torch.zeros(zero_rows, half, 2, dtype=torch.float64), table]).float()


def rope_cos_sin(table: torch.Tensor) -> torch.Tensor:
    """[rows, D/2, 2] table → [2, rows, D]: cos and sin repeated for both members of each pair."""
    return table.permute(2, 0, 1).repeat_interleave(2, dim=-1).contiguous()


def pair_swap(head_dim: int) -> torch.Tensor:
    """[D, D] with x @ R = (−x1, x0, −x3, x2, …): the partner term of an interleaved rotation."""
    swap = torch.zeros(head_dim, head_dim)
    for k in range(0, head_dim, 2):
        swap[k + 1, k] = -1.0
        swap[k, k + 1] = 1.0
    return swap


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, swap: torch.Tensor) -> torch.Tensor:
    """x [B, T, H, D] rotated pairwise (2k, 2k+1): out = x·cos + (x @ R)·sin, cos/sin [B, T, 1, D].

    Bit-identical to rotating (x2k, x2k+1) by each angle (R has one ±1 per column), and it exports
    to four plain ops instead of a chain of reshapes.
    """
    return x * cos + (x @ swap) * sin


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 (as the official model does under bf16); for fp32 inputs the casts are
        # skipped, so the exported graph carries no no-op Cast nodes.
        xf = x if x.dtype == torch.float32 else x.float()
        normed = xf * torch.rsqrt((xf * xf).mean(-1, keepdim=True) + self.eps)
        return (normed if x.dtype == torch.float32 else normed.type_as(x)) * self.weight


class FeedForward(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_hidden, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_hidden, bias=False)
        self.w2 = nn.Linear(cfg.ffn_hidden, cfg.dim, bias=False)
        self.dropout = nn.Dropout(cfg.ffn_dropout_p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.w2(F.silu(self.w1(x)) * self.w3(x)))


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wqkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.wo = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.resid_dropout = nn.Dropout(cfg.resid_dropout_p)

    def forward(self, x: torch.Tensor, is_slot: torch.Tensor, slot_term: torch.Tensor,
                rope: Tuple[torch.Tensor, torch.Tensor, torch.Tensor], past_k: torch.Tensor,
                past_v: torch.Tensor, allowed: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, T, dim]; past [B, H, S, D]; allowed [B, 1, T, S+T] → (out, new k, new v [B, H, T, D])."""
        d = self.cfg.head_dim
        q, k, v = self.wqkv(x).split(self.cfg.dim, dim=-1)
        q, k, v = (split_heads(y, self.cfg.n_head) for y in (q, k, v))
        q = torch.where(is_slot, q + slot_term, apply_rope(q, *rope))
        k = torch.where(is_slot, k + slot_term, apply_rope(k, *rope))
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # [B, H, T, D]
        keys = torch.cat([past_k, k], dim=2)
        values = torch.cat([past_v, v], dim=2)
        scores = (q @ keys.transpose(-2, -1)) * (d ** -0.5)
        scores = scores.masked_fill(~allowed, MASK_VALUE)
        out = merge_heads((torch.softmax(scores, dim=-1) @ values).transpose(1, 2))
        return self.resid_dropout(self.wo(out)), k, v


class TransformerBlock(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(cfg)
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, x, is_slot, slot_term, rope, past_k, past_v, allowed):
        attn, k, v = self.attention(self.attention_norm(x), is_slot, slot_term, rope, past_k, past_v,
                                    allowed)
        h = x + attn
        return h + self.feed_forward(self.ffn_norm(h)), k, v


class ClassEmbedder(nn.Module):
    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)


class HitaGPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.cls_embedding = ClassEmbedder(cfg.num_classes, cfg.dim)
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.slot_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.slot_pos = nn.Embedding(cfg.num_slots, cfg.dim)
        self.tok_dropout = nn.Dropout(cfg.token_dropout_p)
        self.layers = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layer)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, 2 * cfg.vocab_size, bias=False)
        # Not a state-dict entry (as in the official model): derived from the config alone.
        table = rope_2d_table(cfg.grid, cfg.head_dim, cfg.rope_base, cfg.cls_token_num)
        self.register_buffer("rope_cos_sin", rope_cos_sin(table), persistent=False)  # [2, rows, D]
        self.register_buffer("rope_swap", pair_swap(cfg.head_dim), persistent=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def embed(self, input_ids: torch.Tensor, position_ids: torch.Tensor, slot_at_m: bool
              ) -> torch.Tensor:
        cfg = self.cfg
        cls_e = self.cls_embedding.embedding_table(input_ids.clamp(0, cfg.num_classes))
        token_ids = input_ids.clamp(0, cfg.vocab_size - 1)
        slot_e, tok_e = self.slot_embeddings(token_ids), self.tok_embeddings(token_ids)
        use_slot = position_ids <= cfg.num_slots if slot_at_m else position_ids < cfg.num_slots
        x = torch.where(use_slot[..., None], slot_e, tok_e)
        return torch.where((position_ids < cfg.cls_token_num)[..., None], cls_e, x)

    def forward_step(self, input_ids: torch.Tensor, position_ids: torch.Tensor,
                     attention_mask: torch.Tensor, past: List[Tuple[torch.Tensor, torch.Tensor]]
                     ) -> Tuple[torch.Tensor, List[Tuple[torch.Tensor, torch.Tensor]]]:
        return self._step(input_ids, position_ids, attention_mask, past,
                          slot_at_m=self.cfg.pos_m_embedding == "slot")

    def _step(self, input_ids: torch.Tensor, position_ids: torch.Tensor,
              attention_mask: torch.Tensor, past: List[Tuple[torch.Tensor, torch.Tensor]],
              slot_at_m: bool) -> Tuple[torch.Tensor, List[Tuple[torch.Tensor, torch.Tensor]]]:
        """One call over T new positions per row, attending to S cached ones.

        input_ids, position_ids [B, T] int64 (a class id at p = 0, else a token id); attention_mask
        [B, S+T] bool over cache then new positions (False = padding or an empty cache slot); new
        positions also attend causally among themselves. past: per layer (keys, values) [B, H, S, D].
        Returns logits [B, T, V] (head chosen by position) and per layer the new (k, v) [B, H, T, D],
        keys stored after position encoding.
        """
        cfg = self.cfg
        b, t = input_ids.shape
        x = self.tok_dropout(self.embed(input_ids, position_ids, slot_at_m))
        is_slot = (position_ids < cfg.num_slots)[:, :, None, None]  # [B, T, 1, 1]
        slot_rows = self.slot_pos(position_ids.clamp(0, cfg.num_slots - 1))
        slot_term = split_heads(slot_rows, cfg.n_head)
        rows = (position_ids - cfg.num_slots).clamp(0, self.rope_cos_sin.shape[1] - 1)
        rope = (self.rope_cos_sin[0][rows][:, :, None], self.rope_cos_sin[1][rows][:, :, None],
                self.rope_swap)
        total = attention_mask.shape[1]
        key_index = torch.arange(total, device=input_ids.device)
        query_index = torch.arange(t, device=input_ids.device) + (total - t)
        causal = key_index[None, :] <= query_index[:, None]  # [T, S+T]
        allowed = (attention_mask[:, None, :] & causal[None])[:, None]  # [B, 1, T, S+T]
        new_kv = []
        for layer, (past_k, past_v) in zip(self.layers, past):
            x, k, v = layer(x, is_slot, slot_term, rope, past_k, past_v, allowed)
            new_kv.append((k, v))
        return self.head(self.norm(x), position_ids < cfg.num_slots), new_kv

    def head(self, h: torch.Tensor, is_holistic: torch.Tensor) -> torch.Tensor:
        """h [B, T, dim], is_holistic [B, T] → logits [B, T, V]: the holistic half of `output`
        (its first V rows) where is_holistic, the patch half elsewhere. Only the halves that some
        position needs are computed: a decode step past M never reads the holistic rows."""
        v = self.cfg.vocab_size
        if torch.onnx.is_in_onnx_export():
            # Traced whole (a Python branch would be frozen into the trace); the export rewrites
            # it into one ONNX If per half, which runs only when needed (head_split.py).
            logits = self.output(h).float()
            return torch.where(is_holistic[..., None], logits[..., :v], logits[..., v:])
        weight = self.output.weight
        if bool(is_holistic.all()):
            return F.linear(h, weight[:v]).float()
        if not bool(is_holistic.any()):
            return F.linear(h, weight[v:]).float()
        return torch.where(is_holistic[..., None], F.linear(h, weight[:v]), F.linear(h, weight[v:])).float()

    def empty_cache(self, batch: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        shape = (batch, self.cfg.n_head, 0, self.cfg.head_dim)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.layers]

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Teacher-forced training pass. tokens [B, M+N] (holistic then patch ids), cond [B] class ids
        (already dropped to the null class where wanted) → logits [B, M+N, V] predicting `tokens`.
        Training always embeds h(M−1) at p = M with the slot table, whatever the export flag says.
        """
        b = tokens.shape[0]
        input_ids = torch.cat([cond[:, None], tokens[:, :-1]], dim=1)
        positions = torch.arange(input_ids.shape[1], device=tokens.device).expand(b, -1)
        mask = torch.ones_like(input_ids, dtype=torch.bool)
        logits, _ = self._step(input_ids, positions, mask, self.empty_cache(b), slot_at_m=True)
        return logits

    def drop_classes(self, labels: torch.Tensor) -> torch.Tensor:
        """Classifier-free-guidance training: replace labels by the null class with class_dropout_prob."""
        drop = torch.rand(labels.shape, device=labels.device) < self.cfg.class_dropout_prob
        return torch.where(drop, torch.full_like(labels, self.cfg.num_classes), labels)
