#!/usr/bin/python3
"""The output head alone, unsplit and split, fp32 and 8-bit, for bench/head-probe.mjs.

  /usr/bin/python3 tools/head_probe_graphs.py --out DIR --dim 768 --vocab 16384 --m 128

Writes DIR/head-{unsplit,split}{,-int8}.onnx: x [B, T, dim] and position_ids [B, T] → logits
[B, T, V], built as torch.onnx traces HitaGPT.head (MatMul [dim, 2V] → Slice → Where) and
rewritten by tools/hita/head_split.py; the -int8 graphs are quantized as the int8 and int4 GPT
graphs quantize their head (MatMulNBits, 8 bits, block 32, accuracy level 4). Random weights.
"""
from __future__ import annotations

import argparse
import copy
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hita.head_split import split_head
from hita.quantize import options_for, quantize_model


def unsplit_head(dim: int, vocab: int, m: int) -> onnx.ModelProto:
    w = np.random.default_rng(0).normal(0, 0.02, (dim, 2 * vocab)).astype(np.float32)
    ints = {"m": [m], "axis": [-1], "s0": [0], "e0": [vocab], "s1": [vocab], "e1": [2 * vocab]}
    inits = [numpy_helper.from_array(w, "output.weight")]
    inits += [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in ints.items()]
    nodes = [helper.make_node("Less", ["position_ids", "m"], ["is_holistic"]),
             helper.make_node("Unsqueeze", ["is_holistic", "axis"], ["cond"]),
             helper.make_node("MatMul", ["x", "output.weight"], ["both"], name="/output/MatMul"),
             helper.make_node("Slice", ["both", "s0", "e0", "axis"], ["holistic"]),
             helper.make_node("Slice", ["both", "s1", "e1", "axis"], ["patch"]),
             helper.make_node("Where", ["cond", "holistic", "patch"], ["logits"])]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", dim]),
                                              helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["b", "t"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--vocab", type=int, required=True)
    parser.add_argument("--m", type=int, required=True)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    unsplit = unsplit_head(args.dim, args.vocab, args.m)
    split = copy.deepcopy(unsplit)
    split_head(split)
    for name, model in (("unsplit", unsplit), ("split", split)):
        onnx.save(model, os.path.join(args.out, f"head-{name}.onnx"))
        quantize_model(model, options_for("int8"))
        onnx.save(model, os.path.join(args.out, f"head-{name}-int8.onnx"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
