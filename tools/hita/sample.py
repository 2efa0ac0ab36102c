"""Reference sampler: the spec that `src/inference/sampling/` implements token for token.

Order for one step (SPEC §3, LlamaGen `generate.py`): CFG merge `uncond + s·(cond − uncond)` (only when
s > 1; otherwise there are no uncond rows) → logits / max(T, 1e-5) (only when T ≠ 1) → top-k (k > 0)
→ top-p (p < 1) → greedy when T = 0 or k = 1, else inverse-CDF sampling with a uniform u from Philox.

Logit rows are float32 and every logit operation rounds to float32, as PyTorch does; probabilities,
cumulative sums and the CDF are float64 sums in a fixed order. Tie rules (the official code leaves
them to `torch.topk` / `torch.sort`):
  * top-k keeps exactly k entries; among entries equal to the k-th largest value the lowest indices win;
  * top-p sorts by value descending, lower index first on ties, and keeps every entry up to and
    including the first whose cumulative probability exceeds p (official: remove i iff cum[i−1] > p);
  * greedy returns the lowest index among the maxima.
Masked entries are -inf. Functions take a 1-D row [V] unless stated and never modify their inputs.

Philox4x32-10: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch

MIN_TEMPERATURE = 1e-5  # the official `max(temperature, 1e-5)`

PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
PHILOX_ROUNDS = 10
MASK32 = 0xFFFFFFFF
TWO_POW_32 = 1 << 32
TWO_POW_53 = float(1 << 53)


# ---- counter-based RNG ---------------------------------------------------------------------------

def philox4x32(counter: Sequence[int], key: Sequence[int]) -> List[int]:
    """One Philox4x32-10 block: four uint32 words from a 4-word counter and a 2-word key."""
    c0, c1, c2, c3 = (int(x) & MASK32 for x in counter)
    k0, k1 = (int(x) & MASK32 for x in key)
    for r in range(PHILOX_ROUNDS):
        if r > 0:
            k0, k1 = (k0 + PHILOX_W0) & MASK32, (k1 + PHILOX_W1) & MASK32
        p0, p1 = PHILOX_M0 * c0, PHILOX_M1 * c2  # exact 64-bit products
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
    return [c0, c1, c2, c3]


def seed_key(seed: int) -> List[int]:
    """A seed in [0, 2^53) split into the Philox key [low 32 bits, high bits]."""
    if not isinstance(seed, int) or seed < 0 or seed >= 1 << 53:
        raise ValueError(f"seed must be an integer in [0, 2^53), got {seed!r}")
    return [seed & MASK32, seed >> 32]


def row_uniform(seed: int, step: int, lane: int = 0) -> float:
    """A double in [0, 1) from 53 bits of the block for counter [step, lane, 0, 0] (27 + 26 bits of
    words 0 and 1, as in genrand_res53); depends on nothing but (seed, step, lane)."""
    if not (0 <= step < TWO_POW_32 and 0 <= lane < TWO_POW_32):
        raise ValueError(f"step and lane must be uint32, got {step}, {lane}")
    x = philox4x32([step, lane, 0, 0], seed_key(seed))
    return ((x[0] >> 5) * 67108864 + (x[1] >> 6)) / TWO_POW_53


# ---- logit processors ----------------------------------------------------------------------------

def cfg_merge(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance on logits: uncond + s·(cond − uncond), each op rounded to float32."""
    return uncond + scale * (cond - uncond)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / max(T, 1e-5) (the divisor is rounded to the row's dtype, as PyTorch does)."""
    return logits / max(temperature, MIN_TEMPERATURE)


def _order_desc(logits: torch.Tensor) -> torch.Tensor:
    """Indices by value descending, lower index first among equal values."""
    return torch.sort(logits, descending=True, stable=True).indices


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the k largest entries (ties at the k-th value: lowest indices), -inf elsewhere."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits.clone()
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN")
    drop = _order_desc(logits)[k:]
    out = logits.clone()
    out[drop] = float("-inf")
    return out


def _weights(logits: torch.Tensor):
    """exp(x − max) in float64 (0 where masked) and their sum in index order."""
    x = logits.to(torch.float64)
    finite = x > float("-inf")
    if torch.isnan(x).any() or (x == float("inf")).any() or not finite.any():
        raise ValueError("logits contain NaN or +inf, or are all masked")
    w = torch.where(finite, torch.exp(x - x[finite].max()), torch.zeros_like(x))
    return w, torch.cumsum(w, 0)[-1]


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the sorted prefix through the first entry whose cumulative probability
    exceeds p (so that entry is always kept), -inf elsewhere. p ≥ 1 keeps everything."""
    if p >= 1.0:
        return logits.clone()
    w, total = _weights(logits)
    order = _order_desc(logits)
    cum = torch.cumsum(w[order] / total, 0)
    drop = torch.zeros_like(cum, dtype=torch.bool)
    drop[1:] = cum[:-1] > p
    out = logits.clone()
    out[order[drop]] = float("-inf")
    return out


# ---- token choice --------------------------------------------------------------------------------

def greedy(logits: torch.Tensor) -> int:
    """Argmax; the lowest index among equal maxima."""
    _weights(logits)  # same NaN / all-masked check as sampling
    return int(torch.argmax(logits).item())


def sample_from_uniform(logits: torch.Tensor, u: float) -> int:
    """Inverse CDF in index order: the first i with Σ_{j≤i} w_j > u·Σ w, where w = exp(x − max) in
    float64 and masked entries weigh 0; rounding past the end falls back to the last entry with w > 0."""
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u}")
    w, _ = _weights(logits)
    cum = torch.cumsum(w, 0)
    i = int(torch.searchsorted(cum, torch.tensor([u * cum[-1].item()], dtype=torch.float64), right=True))
    if i >= w.shape[0]:
        i = int(torch.nonzero(w > 0)[-1])
    return i


def choose_token(cond: torch.Tensor, uncond: Optional[torch.Tensor], cfg_scale: float, temperature: float,
                 top_k: int, top_p: float, u: float) -> int:
    """One step for one sequence, in the fixed processor order; `uncond` is read only when s > 1."""
    row = cond.to(torch.float32)
    if cfg_scale > 1:
        if uncond is None:
            raise ValueError("cfg_scale > 1 needs the unconditional row")
        row = cfg_merge(row, uncond.to(torch.float32), cfg_scale)
    if temperature != 1:
        row = apply_temperature(row, temperature)
    if top_k > 0:
        row = top_k_filter(row, top_k)
    if top_p < 1:
        row = top_p_filter(row, top_p)
    return greedy(row) if temperature == 0 or top_k == 1 else sample_from_uniform(row, u)
