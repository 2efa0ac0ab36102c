"""Small shared pieces for the toolchain tests."""
from __future__ import annotations

import os
import subprocess

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


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK_MODEL = os.path.join(ROOT, "scripts", "check-model.mjs")


def assert_servable(test, *model_dirs: str) -> None:
    """Fails `test` unless the runtime itself (dist/, through node) loads every model directory.

    The runtime's zod schema, not a copy of it in Python, is the judge: the two cannot drift.
    """
    if not os.path.exists(os.path.join(ROOT, "dist", "inference", "model", "model-loader.js")):
        test.fail("dist/ is missing: run `npm run build` first (`npm test` does)")
    result = subprocess.run(["node", CHECK_MODEL, *model_dirs], capture_output=True, text=True,
                            timeout=300)
    test.assertEqual(result.returncode, 0, f"the runtime rejects a model the tools wrote:\n"
                                           f"{result.stdout}{result.stderr}")
