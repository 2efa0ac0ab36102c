#!/usr/bin/python3
"""Add weight-only quantized GPT graphs to an existing model directory, in place.

  /usr/bin/python3 tools/quantize_gpt.py --model models/hita-tiny-emoji --gpt-precision int8,int4

Reads graphs.gpt (its sha256 must still match model.json), writes gpt.<precision>.onnx beside it
and lists each in model.json's graphs.gptVariants; every other file and field is left as it was.
Re-running replaces the named precisions and keeps the others.
"""
from __future__ import annotations

import argparse
import json
import sys

from hita.model_dir import read_manifest_for_gpt, save_manifest, write_gpt_variants
from hita.quantize import parse_cli_args


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model directory holding model.json")
    args = parse_cli_args(parser, argv)
    if not args.gpt_precision:
        parser.error("name at least one --gpt-precision (int8, int4)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # A variant says which fp32 graph it came from: refuse to quantize one the manifest disowns.
    manifest, mismatch = read_manifest_for_gpt(args.model)
    gpt = manifest["graphs"]["gpt"]
    if mismatch:
        print(f"quantize_gpt: {mismatch}", file=sys.stderr)
        return 2
    variants = write_gpt_variants(args.model, gpt, args.gpt_precision, args.gpt_block_size,
                                  args.gpt_accuracy_level)
    manifest["graphs"]["gptVariants"] = {**manifest["graphs"].get("gptVariants", {}), **variants}
    save_manifest(args.model, manifest)
    print(json.dumps({name: {"file": v["file"], "bytes": v["bytes"] + sum(x["bytes"] for x in v["externalData"]),
                             "seconds": v["quantizeSeconds"]} for name, v in variants.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
