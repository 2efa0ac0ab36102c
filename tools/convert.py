#!/usr/bin/python3
"""Turn official Hita checkpoints into a servable model directory.

  /usr/bin/python3 tools/convert.py --tokenizer hita-tok.pt [--dinov2 dinov2_vitl14_reg4_pretrain.pth] \\
      --gpt GPT-B.pt --out models/hita-v-gpt-b [--classes imagenet_classes.txt]

--gpt-precision int8,int4 also writes weight-only quantized GPT graphs (graphs.gptVariants).
Without --dinov2 the model still generates; encoding (in-painting, style transfer) is marked
unavailable in the manifest. Every missing or unexpected key is named; a missing one stops the run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from hita.checkpoint import CheckpointError
from hita.model_dir import write_model_dir
from hita.official import ConversionOptions, convert
from hita.quantize import parse_cli_args
from hita.runtime import configure_threads


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True, help="official tokenizer checkpoint (its `ema` is used)")
    parser.add_argument("--dinov2", help="dinov2_vitl14_reg4_pretrain.pth (enables encoding)")
    parser.add_argument("--gpt", required=True, help="official GPT checkpoint (`ema`, else `model`)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--id", help="model id (default: the directory name)")
    parser.add_argument("--classes", help="text file, one class name per line (default: 'class N')")
    parser.add_argument("--license", default="see the upstream Hita and DINOv2 licences")
    defaults = ConversionOptions()
    parser.add_argument("--shift-k", type=int, default=defaults.shift_k)
    parser.add_argument("--tokenizer-heads", type=int, help="holistic transformer heads (default width/64)")
    parser.add_argument("--gpt-heads", type=int, help="GPT heads (default: the official count for the width)")
    parser.add_argument("--backbone-heads", type=int, help="DINOv2 heads (default width/64)")
    parser.add_argument("--backbone-input-size", type=int, default=defaults.backbone_input_size)
    parser.add_argument("--pos-m-embedding", choices=["tok", "slot"], default=defaults.pos_m_embedding,
                        help="table embedding h(M-1) at p = M: 'tok' as official inference, 'slot' as training")
    parser.add_argument("--fixture-batch", type=int, default=1)
    args = parse_cli_args(parser, argv)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_threads()
    options = ConversionOptions(tokenizer_heads=args.tokenizer_heads, gpt_heads=args.gpt_heads,
                                backbone_heads=args.backbone_heads,
                                backbone_input_size=args.backbone_input_size, shift_k=args.shift_k,
                                pos_m_embedding=args.pos_m_embedding)
    try:
        converted = convert(args.tokenizer, args.gpt, args.dinov2, options)
    except CheckpointError as error:
        print(f"convert: {error}", file=sys.stderr)
        return 2
    for key in converted.unexpected:
        print(f"convert: unexpected key (ignored): {key}", file=sys.stderr)
    num_classes = converted.gpt.cfg.num_classes
    if args.classes:
        with open(args.classes) as f:
            classes = [line.strip() for line in f if line.strip()]
        if len(classes) != num_classes:
            print(f"convert: {args.classes} names {len(classes)} classes, the GPT has {num_classes}",
                  file=sys.stderr)
            return 2
    else:
        classes = [f"class {i}" for i in range(num_classes)]
    if not converted.has_encoder:
        print("convert: no --dinov2 file: generation only; in-painting and style transfer unavailable",
              file=sys.stderr)
    model_id = args.id or os.path.basename(os.path.normpath(args.out))
    provenance = {"source": "official checkpoints", "tokenizer": os.path.basename(args.tokenizer),
                  "gpt": os.path.basename(args.gpt),
                  "dinov2": os.path.basename(args.dinov2) if args.dinov2 else None,
                  "unexpectedKeys": converted.unexpected, "exportedBy": "tools/convert.py",
                  "torch": torch.__version__, "exportedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    start = time.perf_counter()
    write_model_dir(args.out, model_id, converted.tokenizer, converted.gpt, classes, provenance,
                    args.license, f"Hita {model_id} converted from official checkpoints",
                    has_encoder=converted.has_encoder, fixture_batch=args.fixture_batch,
                    gpt_precisions=args.gpt_precision, gpt_block_size=args.gpt_block_size,
                    gpt_accuracy_level=args.gpt_accuracy_level)
    print(json.dumps({"out": args.out, "seconds": round(time.perf_counter() - start, 1),
                      "encoder": converted.has_encoder}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
