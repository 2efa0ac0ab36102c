"""Official Hita checkpoints → our modules, with every size inferred from tensor shapes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import torch

from .checkpoint import (BACKBONE_PREFIX, CheckpointError, infer_backbone_config, infer_gpt_config,
                         infer_tokenizer_config, load_strictly, unwrap_state_dict)
from .gpt import HitaGPT
from .tokenizer import HitaTokenizer
from .vit import BackboneConfig


@dataclass
class ConversionOptions:
    tokenizer_heads: Optional[int] = None  # default: width / 64 (official: 8)
    gpt_heads: Optional[int] = None  # default: the official head count for the width
    backbone_heads: Optional[int] = None  # default: width / 64 (ViT-L: 16)
    backbone_input_size: int = 224
    shift_k: int = 4
    pos_m_embedding: str = "tok"  # reproduce official sampling at p = M


@dataclass
class Converted:
    tokenizer: HitaTokenizer
    gpt: HitaGPT
    has_encoder: bool
    unexpected: List[str] = field(default_factory=list)


def read(path: str) -> dict:
    try:
        return torch.load(path, map_location="cpu")
    except Exception as error:  # torch raises many types for unreadable files
        raise CheckpointError(f"{path}: cannot be read as a torch checkpoint ({error})") from error


def convert(tokenizer_path: str, gpt_path: str, dinov2_path: Optional[str],
            options: ConversionOptions = ConversionOptions()) -> Converted:
    tok_state = unwrap_state_dict(read(tokenizer_path), tokenizer_path)
    gpt_state = unwrap_state_dict(read(gpt_path), gpt_path)
    dino_state = None
    if dinov2_path is not None:
        dino_state = unwrap_state_dict(read(dinov2_path), dinov2_path, preferred=("model", "teacher"))
        backbone = infer_backbone_config(dino_state, options.backbone_heads, options.backbone_input_size)
        # The tokenizer checkpoint never holds these (they are removed at save); the DINOv2 file does.
        tok_state.update({BACKBONE_PREFIX + k: v for k, v in dino_state.items()})
    else:
        # Never run (no encode graph is written); it only has to give `proj` its input width.
        proj = tok_state.get("encode_transformer.proj.mlp.0.weight")
        width = BackboneConfig().embed_dim if proj is None else proj.shape[1]
        backbone = BackboneConfig(input_size=options.backbone_input_size, embed_dim=width, depth=0,
                                  num_heads=1)
    try:
        tcfg = infer_tokenizer_config(tok_state, backbone, options.tokenizer_heads, options.shift_k)
    except KeyError as error:
        raise CheckpointError(f"{tokenizer_path}: missing key: {error.args[0]} (needed to infer sizes)") from None
    tokenizer = HitaTokenizer(tcfg)
    optional = () if dino_state is not None else (BACKBONE_PREFIX,)
    unexpected = load_strictly(tokenizer, tok_state, tokenizer_path, optional)
    try:
        gcfg = infer_gpt_config(gpt_state, tcfg.n_patch, options.gpt_heads, options.pos_m_embedding)
    except KeyError as error:
        raise CheckpointError(f"{gpt_path}: missing key: {error.args[0]} (needed to infer sizes)") from None
    if gcfg.vocab_size != tcfg.codebook_size or gcfg.num_slots != tcfg.n_carrier:
        raise CheckpointError(f"{gpt_path}: GPT vocabulary {gcfg.vocab_size} / {gcfg.num_slots} slots do not "
                              f"match the tokenizer's {tcfg.codebook_size} codes / {tcfg.n_carrier} holistic tokens")
    gpt = HitaGPT(gcfg)
    unexpected += load_strictly(gpt, gpt_state, gpt_path)
    return Converted(tokenizer.eval(), gpt.eval(), dino_state is not None, unexpected)
