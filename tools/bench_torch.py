#!/usr/bin/python3
"""PyTorch eager baseline for bench/: the same generation loop the engine runs, on the same weights.

Per image: CFG rows [cond; uncond], a KV cache preallocated for every position and written in
place, one forward per position, logit-space guidance, temperature/top-k/top-p sampling, then the
tokenizer decode. Prints one JSON line per batch size with images/s.

  /usr/bin/python3 tools/bench_torch.py --model models/hita-tiny-random --batch 8 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from hita.checkpoint import load_checkpoint
from hita.gpt import HitaGPT, gpt_config
from hita.runtime import configure_threads
from hita.sample import cfg_merge, apply_temperature, top_k_filter, top_p_filter
from hita.tokenizer import HitaTokenizer, tokenizer_config


def random_init_models(manifest: dict):
    """Rebuild random-init weights exactly as tools/export.py made them (same seed, same order)."""
    prov = manifest["provenance"]
    tcfg = tokenizer_config(prov["tokenizerPreset"])
    torch.manual_seed(prov["seed"])
    tokenizer = HitaTokenizer(tcfg)
    gpt = HitaGPT(gpt_config(prov["gptPreset"], vocab_size=tcfg.codebook_size, num_slots=tcfg.n_carrier,
                             block_size=tcfg.n_patch, num_classes=manifest["gpt"]["numClasses"]))
    return tokenizer.eval(), gpt.eval()


def check_same_weights(model_dir: str, manifest: dict, gpt: HitaGPT) -> float:
    """Max abs logit error against the exported fixtures: proves these are the ONNX graphs' weights."""
    index = json.load(open(os.path.join(model_dir, "fixtures", "index.json")))["tensors"]

    def read(name):
        entry = index[name]
        return torch.from_numpy(np.fromfile(os.path.join(model_dir, "fixtures", entry["file"]),
                                            dtype=entry["dtype"]).reshape(entry["shape"]))
    ids = read("gpt.input_ids")
    positions = torch.arange(ids.shape[1]).expand(ids.shape[0], -1)
    with torch.no_grad():
        logits, _ = gpt.forward_step(ids, positions, torch.ones_like(ids, dtype=torch.bool),
                                     gpt.empty_cache(ids.shape[0]))
    return float((logits - read("gpt.logits")).abs().max())


@torch.no_grad()
def generate(tokenizer: HitaTokenizer, gpt: HitaGPT, batch: int, cfg: float, temperature: float,
             top_k: int, top_p: float, generator: torch.Generator) -> torch.Tensor:
    c = gpt.cfg
    length = c.num_slots + c.block_size
    rows = 2 * batch if cfg > 1 else batch
    classes = torch.randint(0, c.num_classes, (batch,), generator=generator)
    if cfg > 1:
        classes = torch.cat([classes, torch.full((batch,), c.num_classes)])
    cache_k = [torch.zeros(rows, c.n_head, length, c.head_dim) for _ in range(c.n_layer)]
    cache_v = [torch.zeros(rows, c.n_head, length, c.head_dim) for _ in range(c.n_layer)]
    tokens = torch.zeros(batch, length, dtype=torch.long)
    current = classes[:, None]
    for p in range(length):
        past = [(k[:, :, :p], v[:, :, :p]) for k, v in zip(cache_k, cache_v)]
        mask = torch.ones(rows, p + 1, dtype=torch.bool)
        logits, new = gpt.forward_step(current, torch.full((rows, 1), p), mask, past)
        for layer, (k, v) in enumerate(new):
            cache_k[layer][:, :, p:p + 1] = k
            cache_v[layer][:, :, p:p + 1] = v
        logits = logits[:, -1]
        if cfg > 1:
            logits = cfg_merge(logits[:batch], logits[batch:], cfg)
        logits = apply_temperature(logits, temperature)
        if top_k > 0:
            logits = top_k_filter(logits, top_k)
        if top_p < 1:
            logits = top_p_filter(logits, top_p)
        nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]
        tokens[:, p] = nxt
        current = torch.cat([nxt, nxt])[:, None] if cfg > 1 else nxt[:, None]
    images = tokenizer.decode(tokens[:, :c.num_slots], tokens[:, c.num_slots:])
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a model directory (random-init export or --checkpoint)")
    parser.add_argument("--checkpoint", help="our checkpoint the model was exported from (trained models)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--cfg", type=float, default=2.0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    threads = configure_threads()
    manifest = json.load(open(os.path.join(args.model, "model.json")))
    if args.checkpoint:
        tokenizer, gpt, _, _ = load_checkpoint(args.checkpoint)
        tokenizer, gpt = tokenizer.eval(), gpt.eval()
    else:
        tokenizer, gpt = random_init_models(manifest)
    weight_error = check_same_weights(args.model, manifest, gpt)
    if weight_error > 1e-4:
        print(f"bench_torch: weights differ from {args.model} (logit error {weight_error})", file=sys.stderr)
        return 2
    generator = torch.Generator().manual_seed(0)
    for batch in args.batch:
        generate(tokenizer, gpt, batch, args.cfg, args.temperature, args.top_k, args.top_p, generator)  # warm-up
        start = time.perf_counter()
        for _ in range(args.repeats):
            generate(tokenizer, gpt, batch, args.cfg, args.temperature, args.top_k, args.top_p, generator)
        seconds = (time.perf_counter() - start) / args.repeats
        print(json.dumps({"engine": "pytorch", "batch": batch, "cfg": args.cfg, "threads": threads,
                          "secondsPerBatch": seconds, "imagesPerSecond": batch / seconds,
                          "torch": torch.__version__, "weightCheck": weight_error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
