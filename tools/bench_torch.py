#!/usr/bin/python3
"""PyTorch eager baseline for bench/: the same generation loop the engine runs, on the same weights.

Per image: CFG rows [cond; uncond], a KV cache preallocated for every position and written in
place, one forward per position, logit-space guidance, temperature/top-k/top-p sampling, then the
tokenizer decode. Prints one JSON line per batch size with images/s.

  /usr/bin/python3 tools/bench_torch.py --model models/hita-tiny-random --batch 8 --repeats 3
  /usr/bin/python3 tools/bench_torch.py --model DIR --serve   (JSON commands on stdin: serve())
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


class KvCache:
    """Keys and values of every position, preallocated per layer [rows, H, length, D] and written in place."""

    def __init__(self, gpt: HitaGPT, rows: int, length: int):
        c = gpt.cfg
        self.k = [torch.zeros(rows, c.n_head, length, c.head_dim) for _ in range(c.n_layer)]
        self.v = [torch.zeros(rows, c.n_head, length, c.head_dim) for _ in range(c.n_layer)]

    def step(self, gpt: HitaGPT, current: torch.Tensor, p: int) -> torch.Tensor:
        """One forward of the tokens `current` [rows, 1] at position p over slots 0..p-1; returns logits [rows, V]."""
        rows = current.shape[0]
        past = [(k[:, :, :p], v[:, :, :p]) for k, v in zip(self.k, self.v)]
        mask = torch.ones(rows, p + 1, dtype=torch.bool)
        logits, new = gpt.forward_step(current, torch.full((rows, 1), p), mask, past)
        for layer, (k, v) in enumerate(new):
            self.k[layer][:, :, p:p + 1] = k
            self.v[layer][:, :, p:p + 1] = v
        return logits[:, -1]


@torch.no_grad()
def sample_tokens(gpt: HitaGPT, batch: int, cfg: float, temperature: float, top_k: int, top_p: float,
                  generator: torch.Generator) -> torch.Tensor:
    """The AR loop: tokens [batch, M + N], holistic then patch ids."""
    c = gpt.cfg
    length = c.num_slots + c.block_size
    rows = 2 * batch if cfg > 1 else batch
    classes = torch.randint(0, c.num_classes, (batch,), generator=generator)
    if cfg > 1:
        classes = torch.cat([classes, torch.full((batch,), c.num_classes)])
    cache = KvCache(gpt, rows, length)
    tokens = torch.zeros(batch, length, dtype=torch.long)
    current = classes[:, None]
    for p in range(length):
        logits = cache.step(gpt, current, p)
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
    return tokens


@torch.no_grad()
def decode_tokens(tokenizer: HitaTokenizer, gpt: HitaGPT, tokens: torch.Tensor) -> torch.Tensor:
    m = gpt.cfg.num_slots
    images = tokenizer.decode(tokens[:, :m], tokens[:, m:])
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def generate(tokenizer: HitaTokenizer, gpt: HitaGPT, batch: int, cfg: float, temperature: float,
             top_k: int, top_p: float, generator: torch.Generator) -> torch.Tensor:
    tokens = sample_tokens(gpt, batch, cfg, temperature, top_k, top_p, generator)
    return decode_tokens(tokenizer, gpt, tokens)


@torch.no_grad()
def step_ms(gpt: HitaGPT, rows: int, past: int, reps: int) -> float:
    """ms per decode step of `rows` rows at position `past` over a cache of random keys and values,
    through the same KvCache.step the AR loop runs."""
    c = gpt.cfg
    cache = KvCache(gpt, rows, past + 1)
    gen = torch.Generator().manual_seed(7)
    for k, v in zip(cache.k, cache.v):
        k[:, :, :past] = torch.rand(k[:, :, :past].shape, generator=gen) - 0.5
        v[:, :, :past] = torch.rand(v[:, :, :past].shape, generator=gen) - 0.5
    current = (torch.arange(rows) * 37 % c.vocab_size)[:, None]
    start = time.perf_counter()
    for _ in range(reps):
        cache.step(gpt, current, past)
    return (time.perf_counter() - start) / reps * 1000


def serve(tokenizer: HitaTokenizer, gpt: HitaGPT, threads: int, weight_error: float,
          stdin=sys.stdin, stdout=sys.stdout) -> int:
    """JSON commands on stdin, one JSON answer each on stdout, so a bench can interleave this loop
    with its own engine in one run instead of loading gpt-b weights once per figure:
      {"op": "image", "cfg": 2, "seed": 1, "temperature": 1, "topK": 0, "topP": 1}
          → {"gptSeconds", "decodeSeconds", "seconds"}: one image, its AR loop and its decode apart
      {"op": "steps", "rows": [2, 8, 16], "past": 284, "reps": 5} → {"ms": {"2": …, …}}
    The first line printed is {"ready": true, …} once the weights are loaded and checked."""
    print(json.dumps({"ready": True, "threads": threads, "torch": torch.__version__,
                      "weightCheck": weight_error}), file=stdout, flush=True)
    for line in stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command["op"] == "image":
            generator = torch.Generator().manual_seed(int(command.get("seed", 0)))
            start = time.perf_counter()
            tokens = sample_tokens(gpt, 1, float(command.get("cfg", 2.0)), float(command.get("temperature", 1.0)),
                                   int(command.get("topK", 0)), float(command.get("topP", 1.0)), generator)
            sampled = time.perf_counter()
            decode_tokens(tokenizer, gpt, tokens)
            done = time.perf_counter()
            answer = {"gptSeconds": sampled - start, "decodeSeconds": done - sampled, "seconds": done - start}
        elif command["op"] == "steps":
            answer = {"ms": {str(rows): step_ms(gpt, int(rows), int(command["past"]), int(command["reps"]))
                             for rows in command["rows"]}}
        else:
            answer = {"error": f"unknown op {command['op']!r}"}
        print(json.dumps(answer), file=stdout, flush=True)
    return 0


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
    parser.add_argument("--serve", action="store_true", help="answer JSON commands on stdin (see serve())")
    args = parser.parse_args(argv)
    threads = configure_threads()
    manifest = json.load(open(os.path.join(args.model, "model.json")))
    if args.checkpoint:
        tokenizer, gpt, _, _ = load_checkpoint(args.checkpoint)
        tokenizer, gpt = tokenizer.eval(), gpt.eval()
    else:
        tokenizer, gpt = random_init_models(manifest)
    if "encode" not in manifest["graphs"]:
        # A generate-only model never encodes: drop the backbone (hita-v: a 1.2 GB DINOv2-L).
        tokenizer.encode_transformer.backbone = None
    weight_error = check_same_weights(args.model, manifest, gpt)
    if weight_error > 1e-4:
        print(f"bench_torch: weights differ from {args.model} (logit error {weight_error})", file=sys.stderr)
        return 2
    if args.serve:
        return serve(tokenizer, gpt, threads, weight_error)
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
