#!/usr/bin/python3
"""Bring a model directory's GPT step graph up to what tools/export.py writes today, in place (issue 12).

  /usr/bin/python3 tools/upgrade_gpt_graph.py --model models/hita-tiny-emoji

For graphs exported before one of the exporter's graph rewrites, applies each one the graph lacks:

- the output-head split (tools/hita/head_split.py): each head half an If branch computed only when
  some position needs it; bitwise the same logits;
- the attention split (tools/hita/attention_split.py): each layer attends over its cache and the
  call's new positions apart instead of copying the cache into a Concat; the same arithmetic,
  rounded differently in the last bits.

graphs.gpt must still match model.json's sha256. Writes the rewritten gpt.onnx, updates its sha256 and
size, records each rewrite's report (`headSplit`, `attentionSplit`), and re-quantizes every
graphs.gptVariants entry from the new graph with the options it was made with, so that each still
names the gpt.onnx it came from. Every other file and field is left as it was. A graph that has
every rewrite already is left alone (exit 0).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import onnx

from hita import attention_split, head_split
from hita.export_onnx import EXTERNAL_DATA_THRESHOLD_BYTES
from hita.model_dir import graph_entry, read_manifest_for_gpt, save_manifest, write_gpt_variants
from hita.quantize import save_model

# (manifest key, is the graph rewritten already, the rewrite, the error it raises on a foreign graph)
REWRITES = (
    ("headSplit", head_split.is_split, head_split.split_head, head_split.HeadPatternError),
    ("attentionSplit", attention_split.is_split, attention_split.split_attention,
     attention_split.AttentionPatternError),
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model directory holding model.json")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest, mismatch = read_manifest_for_gpt(args.model)
    gpt = manifest["graphs"]["gpt"]
    if mismatch:
        print(f"upgrade_gpt_graph: {mismatch}", file=sys.stderr)
        return 2
    path = os.path.join(args.model, gpt["file"])
    start = time.perf_counter()
    model = onnx.load(path)
    reports = {}
    for key, is_done, rewrite, pattern_error in REWRITES:
        if is_done(model):
            continue
        try:
            reports[key] = rewrite(model)
        except pattern_error as error:
            print(f"upgrade_gpt_graph: {gpt['file']}: {error}", file=sys.stderr)
            return 2
    if not reports:
        print(json.dumps({"model": args.model, "upgraded": []}))
        return 0
    files = save_model(model, path, EXTERNAL_DATA_THRESHOLD_BYTES)
    entry = graph_entry(args.model, files, {"inputs": gpt["inputs"], "outputs": gpt["outputs"]}, 0.0)
    earlier = {key: value for key, value in gpt.items() if key not in entry}  # e.g. an older rewrite's report
    entry.update({**earlier, "exportSeconds": gpt.get("exportSeconds", 0.0), **reports,
                  "upgradeSeconds": round(time.perf_counter() - start, 2)})
    manifest["graphs"]["gpt"] = entry
    variants = manifest["graphs"].get("gptVariants", {})
    for precision, variant in variants.items():
        variants[precision] = write_gpt_variants(args.model, entry, [precision], variant["blockSize"],
                                                 variant["accuracyLevel"])[precision]
    save_manifest(args.model, manifest)
    print(json.dumps({"model": args.model, "upgraded": sorted(reports), "sha256": entry["sha256"],
                      "requantized": sorted(variants)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
