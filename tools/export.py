#!/usr/bin/python3
"""Write a servable model directory (model.json, ONNX graphs, parity fixtures).

  /usr/bin/python3 tools/export.py --checkpoint CKPT.pt --out models/ID
  /usr/bin/python3 tools/export.py --preset tiny --random-init --seed 0 --out DIR
  /usr/bin/python3 tools/export.py --preset hita-v --gpt gpt-b --random-init --seed 0 --out DIR
  ... --no-encoder   generate-only: no encode graph (a random hita-v encoder is a 1.2 GB DINOv2-L)
  ... --gpt-precision int8,int4   also writes gpt.int8.onnx and gpt.int4.onnx (graphs.gptVariants)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from hita.checkpoint import load_checkpoint
from hita.gpt import GPT_PRESETS, HitaGPT, gpt_config
from hita.model_dir import write_model_dir
from hita.quantize import parse_cli_args
from hita.runtime import configure_threads
from hita.tokenizer import TOKENIZER_PRESETS, HitaTokenizer, tokenizer_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="one of our checkpoints (tools/train.py)")
    source.add_argument("--random-init", action="store_true", help="random weights from --seed")
    parser.add_argument("--preset", choices=sorted(TOKENIZER_PRESETS), help="tokenizer preset (random init)")
    parser.add_argument("--gpt", choices=sorted(GPT_PRESETS), help="GPT preset (default: same as --preset)")
    parser.add_argument("--num-classes", type=int, help="override the GPT preset's class count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--id", help="model id (default: the directory name)")
    parser.add_argument("--license", default="Apache-2.0")
    parser.add_argument("--description")
    parser.add_argument("--fixture-batch", type=int, default=2)
    parser.add_argument("--no-encoder", action="store_true",
                        help="write no encode graph: the model generates but cannot in-paint or transfer style")
    args = parse_cli_args(parser, argv)
    return args


def random_models(args: argparse.Namespace):
    if args.preset is None:
        raise SystemExit("--random-init needs --preset")
    gpt_name = args.gpt or args.preset
    if gpt_name not in GPT_PRESETS:
        raise SystemExit(f"no GPT preset named {gpt_name!r}; pass --gpt ({', '.join(sorted(GPT_PRESETS))})")
    tcfg = tokenizer_config(args.preset)
    overrides = {"vocab_size": tcfg.codebook_size, "num_slots": tcfg.n_carrier, "block_size": tcfg.n_patch}
    if args.num_classes is not None:
        overrides["num_classes"] = args.num_classes
    torch.manual_seed(args.seed)
    tokenizer = HitaTokenizer(tcfg)
    gpt = HitaGPT(gpt_config(gpt_name, **overrides))
    classes = [f"class {i}" for i in range(gpt.cfg.num_classes)]
    provenance = {"source": "random-init", "seed": args.seed, "tokenizerPreset": args.preset,
                  "gptPreset": gpt_name}
    return tokenizer, gpt, classes, provenance


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_threads()
    if args.random_init:
        tokenizer, gpt, classes, provenance = random_models(args)
    else:
        tokenizer, gpt, classes, extra = load_checkpoint(args.checkpoint)
        if gpt is None:
            raise SystemExit(f"{args.checkpoint} holds no GPT yet; train it first")
        provenance = {"source": os.path.basename(args.checkpoint), **extra.get("provenance", {})}
    model_id = args.id or os.path.basename(os.path.normpath(args.out))
    provenance.update({"exportedBy": "tools/export.py", "torch": torch.__version__,
                       "exportedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    description = args.description or f"Hita {model_id} ({provenance['source']})"
    start = time.perf_counter()
    manifest = write_model_dir(args.out, model_id, tokenizer, gpt, classes, provenance, args.license,
                               description, has_encoder=not args.no_encoder,
                               fixture_batch=args.fixture_batch, seed=args.seed,
                               gpt_precisions=args.gpt_precision, gpt_block_size=args.gpt_block_size,
                               gpt_accuracy_level=args.gpt_accuracy_level)
    graphs = {n: g for n, g in manifest["graphs"].items() if n != "gptVariants"}
    graphs.update({f"gpt.{p}": g for p, g in manifest["graphs"].get("gptVariants", {}).items()})
    sizes = {name: g["bytes"] + sum(x["bytes"] for x in g["externalData"]) for name, g in graphs.items()}
    print(json.dumps({"out": args.out, "seconds": round(time.perf_counter() - start, 1),
                      "graphBytes": sizes,
                      "exportSeconds": {n: g.get("exportSeconds", g.get("quantizeSeconds"))
                                        for n, g in graphs.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
