"""Checkpoints: our own format, and the official Hita / DINOv2 / GPT files (SPEC §1.5, §2.2).

Official checkpoints carry no configs, so sizes are read from tensor shapes. What shapes cannot
tell (attention head counts, `shift_k`, the semantic backbone's input size) defaults to the
official values and can be overridden.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch

from .gpt import GPTConfig, HitaGPT
from .tokenizer import HitaTokenizer, TokenizerConfig
from .transformer import swiglu_hidden
from .vit import BackboneConfig

CHECKPOINT_FORMAT = "hita-serve/checkpoint@1"
BACKBONE_PREFIX = "encode_transformer.backbone.pretrained_encoder."
IGNORED_SUFFIXES = ("codebook_used",)
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
OFFICIAL_GPT_HEADS = {768: 12, 1024: 16, 1280: 20, 1536: 24, 1920: 32}


class CheckpointError(ValueError):
    """A checkpoint that cannot become a model; the message names every offending key."""


def save_checkpoint(path: str, tokenizer: HitaTokenizer, gpt: Optional[HitaGPT], classes: List[str],
                    extra: Optional[Dict] = None) -> None:
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "tokenizer_config": dataclasses.asdict(tokenizer.cfg),
        "tokenizer": tokenizer.state_dict(),
        "gpt_config": None if gpt is None else dataclasses.asdict(gpt.cfg),
        "gpt": None if gpt is None else gpt.state_dict(),
        "classes": list(classes),
        "extra": extra or {},
    }, path)


def tokenizer_config_from_dict(data: Mapping) -> TokenizerConfig:
    fields = dict(data)
    fields["backbone"] = BackboneConfig(**fields["backbone"])
    fields["ch_mult"] = tuple(fields["ch_mult"])
    return TokenizerConfig(**fields)


def load_checkpoint(path: str) -> Tuple[HitaTokenizer, Optional[HitaGPT], List[str], Dict]:
    data = torch.load(path, map_location="cpu")
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a {CHECKPOINT_FORMAT} file (use convert.py for official ones)")
    tokenizer = HitaTokenizer(tokenizer_config_from_dict(data["tokenizer_config"]))
    tokenizer.load_state_dict(data["tokenizer"])
    gpt = None
    if data["gpt"] is not None:
        gpt = HitaGPT(GPTConfig(**data["gpt_config"]))
        gpt.load_state_dict(data["gpt"])
    return tokenizer, gpt, data["classes"], data.get("extra", {})


# ---------------------------------------------------------------------------------------------
# Official checkpoints


def unwrap_state_dict(obj: Mapping, path: str, preferred: Iterable[str] = ("ema", "model", "state_dict")
                      ) -> Dict[str, torch.Tensor]:
    """The weights inside a training checkpoint (EMA first), with DDP/compile prefixes stripped."""
    state = obj
    for key in preferred:
        if isinstance(obj.get(key), Mapping):
            state = obj[key]
            break
    cleaned: Dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if not torch.is_tensor(tensor):
            continue
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if name.startswith(prefix):
                    name, changed = name[len(prefix):], True
        cleaned[name] = tensor
    if not cleaned:
        raise CheckpointError(f"{path}: no tensors found")
    return cleaned


def count_indexed(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    """How many distinct i match `pattern` (a regex with one group for i) among the keys."""
    found = {int(m.group(1)) for key in state for m in [re.match(pattern, key)] if m}
    return max(found) + 1 if found else 0


def infer_backbone_config(dino: Mapping[str, torch.Tensor], heads: Optional[int], input_size: int
                          ) -> BackboneConfig:
    embed = dino["cls_token"].shape[-1]
    patch = dino["patch_embed.proj.weight"].shape[-1]
    stored = dino["pos_embed"].shape[1] - 1
    return BackboneConfig(
        img_size=int(round(stored ** 0.5)) * patch, input_size=input_size, patch_size=patch,
        embed_dim=embed, depth=count_indexed(dino, r"blocks\.(\d+)\."),
        num_heads=heads or embed // 64, mlp_ratio=dino["blocks.0.mlp.fc1.weight"].shape[0] / embed,
        num_registers=dino["register_tokens"].shape[1] if "register_tokens" in dino else 0)


def infer_tokenizer_config(state: Mapping[str, torch.Tensor], backbone: BackboneConfig,
                           heads: Optional[int], shift_k: int) -> TokenizerConfig:
    ch = state["encoder.conv_in.weight"].shape[0]
    levels = count_indexed(state, r"encoder\.conv_blocks\.(\d+)\.")
    ch_mult = tuple(state[f"encoder.conv_blocks.{i}.res.0.conv1.weight"].shape[0] // ch
                    for i in range(levels))
    dim = state["encode_transformer.carrier_tokens"].shape[-1]
    inner = state["encode_transformer.transformer1.layers.0.attn1.to_q.weight"].shape[0]
    n_heads = heads or inner // 64
    hidden = state["encode_transformer.transformer1.layers.0.ffnet.w3.weight"].shape[1]
    # Several mlp_dim values give the same width; the roundest one is what configs use (2048, 256).
    candidates = [m for m in range(hidden, 2 * hidden + 8) if swiglu_hidden(m) == hidden]
    mlp_dim = max(candidates, key=lambda m: (m & -m, -m))
    grid = int(round(state["encode_transformer.pos_embed"].shape[1] ** 0.5))
    codebook, patch_dim = state["quantize.embedding.weight"].shape
    return TokenizerConfig(
        image_size=grid * 2 ** (levels - 1), ch=ch, ch_mult=ch_mult,
        num_res_blocks=count_indexed(state, r"encoder\.conv_blocks\.0\.res\.(\d+)\."),
        z_channels=dim, depth=count_indexed(state, r"encode_transformer\.transformer1\.layers\.(\d+)\."),
        heads=n_heads, dim_head=inner // n_heads, mlp_dim=mlp_dim,
        n_carrier=state["encode_transformer.carrier_tokens"].shape[1], shift_k=shift_k,
        codebook_size=codebook, patch_embed_dim=patch_dim,
        slot_embed_dim=state["slot_quantize.embedding.weight"].shape[1],
        enable_vfm_recon="decode_transformer.proj.weight" in state, backbone=backbone)


def infer_gpt_config(state: Mapping[str, torch.Tensor], block_size: int, heads: Optional[int],
                     pos_m_embedding: str) -> GPTConfig:
    vocab, dim = state["tok_embeddings.weight"].shape
    cfg = GPTConfig(
        dim=dim, n_layer=count_indexed(state, r"layers\.(\d+)\."),
        n_head=heads or OFFICIAL_GPT_HEADS.get(dim, dim // 64), vocab_size=vocab,
        num_classes=state["cls_embedding.embedding_table.weight"].shape[0] - 1,
        num_slots=state["slot_pos.weight"].shape[0], block_size=block_size,
        pos_m_embedding=pos_m_embedding)
    hidden = state["layers.0.feed_forward.w1.weight"].shape[0]
    if hidden != cfg.ffn_hidden:
        raise CheckpointError(f"layers.0.feed_forward.w1.weight has {hidden} rows; the FFN rule gives "
                              f"{cfg.ffn_hidden} for dim {dim}")
    return cfg


def load_strictly(module: torch.nn.Module, state: Mapping[str, torch.Tensor], label: str,
                  optional_prefixes: Tuple[str, ...] = ()) -> List[str]:
    """Load `state`; raise naming every missing key; return (and do not load) unexpected keys."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(IGNORED_SUFFIXES)
               and not k.startswith(optional_prefixes)]
    unexpected = [k for k in state if k not in expected and not k.endswith(IGNORED_SUFFIXES)]
    wrong_shape = [f"{k} {list(state[k].shape)} (expected {list(expected[k].shape)})"
                   for k in state if k in expected and state[k].shape != expected[k].shape]
    problems = [f"missing key: {k}" for k in missing] + [f"wrong shape: {k}" for k in wrong_shape]
    if problems:
        raise CheckpointError(f"{label}: {len(problems)} problem(s), no model written:\n  "
                              + "\n  ".join(problems))
    usable = {k: v for k, v in state.items() if k in expected and not k.endswith(IGNORED_SUFFIXES)}
    module.load_state_dict(usable, strict=False)
    return unexpected
