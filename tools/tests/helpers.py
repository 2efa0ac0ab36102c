"""Small shared pieces for the toolchain tests."""
from __future__ import annotations

import os

import torch

from hita.gpt import HitaGPT, gpt_config
from hita.runtime import configure_threads
from hita.tokenizer import HitaTokenizer, tokenizer_config

DATA = os.path.join(os.path.dirname(__file__), "data")
configure_threads()


def read_key_table(name: str) -> dict:
    """{key: shape} from a `key<TAB>shape<TAB>in_official_ckpt` table."""
    with open(os.path.join(DATA, name)) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return {key: [int(x) for x in shape.strip("[]").split(",") if x.strip()] for key, shape, _ in rows}


def tiny_models(seed: int = 0, **gpt_overrides):
    torch.manual_seed(seed)
    return (HitaTokenizer(tokenizer_config("tiny")).eval(),
            HitaGPT(gpt_config("tiny", **gpt_overrides)).eval())
