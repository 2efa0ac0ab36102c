#!/usr/bin/python3
"""Split the output head of a model directory's GPT step graph, in place (issue 12).

  /usr/bin/python3 tools/split_gpt_head.py --model models/hita-tiny-emoji

For graphs exported before tools/hita/export_onnx.py split the head itself: rewrites graphs.gpt
(its sha256 must still match model.json) so that each head half is an If branch computed only
when some position needs it (tools/hita/head_split.py: bitwise the same logits), updates its
sha256 and size in model.json, and re-quantizes every graphs.gptVariants entry from the new graph
with the options it was made with, so that each still names the gpt.onnx it came from. Every other
file and field is left as it was. A graph whose head is already split is left alone (exit 0).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import onnx

from hita.export_onnx import EXTERNAL_DATA_THRESHOLD_BYTES
from hita.head_split import HeadPatternError, is_split, split_head
from hita.model_dir import graph_entry, read_manifest_for_gpt, save_manifest, write_gpt_variants
from hita.quantize import save_model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model directory holding model.json")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest, mismatch = read_manifest_for_gpt(args.model)
    gpt = manifest["graphs"]["gpt"]
    if mismatch:
        print(f"split_gpt_head: {mismatch}", file=sys.stderr)
        return 2
    path = os.path.join(args.model, gpt["file"])
    start = time.perf_counter()
    model = onnx.load(path)
    if is_split(model):
        print(json.dumps({"model": args.model, "split": "already"}))
        return 0
    try:
        report = split_head(model)
    except HeadPatternError as error:
        print(f"split_gpt_head: {gpt['file']}: {error}", file=sys.stderr)
        return 2
    files = save_model(model, path, EXTERNAL_DATA_THRESHOLD_BYTES)
    entry = graph_entry(args.model, files, {"inputs": gpt["inputs"], "outputs": gpt["outputs"]}, 0.0)
    entry.update({"exportSeconds": gpt.get("exportSeconds", 0.0), "headSplit": report,
                  "headSplitSeconds": round(time.perf_counter() - start, 2)})
    manifest["graphs"]["gpt"] = entry
    variants = manifest["graphs"].get("gptVariants", {})
    for precision, variant in variants.items():
        variants[precision] = write_gpt_variants(args.model, entry, [precision], variant["blockSize"],
                                                 variant["accuracyLevel"])[precision]
    save_manifest(args.model, manifest)
    print(json.dumps({"model": args.model, "split": gpt["file"], "sha256": entry["sha256"],
                      "requantized": sorted(variants)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
