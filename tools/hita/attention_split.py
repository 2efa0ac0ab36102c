"""Attention over the host's cache without copying it: the GPT step graph's Concat removed (issue 12).

`Attention.forward` (gpt.py) appends a call's new keys and values to the cache it is fed,
`torch.cat([past, new], dim=2)`, and attends over the result. Traced as it stands, every layer of
every call copies its whole cache slab twice (keys and values) before reading it again: on a
small-batch decode step, where the cost is bytes moved, that was 15 % of a GPT-B fp32 step and
25 % of an int8 one (ORT profile, 2 rows over a 569-slot cache), and 11–14 % of the tiny GPT's.

`split_attention` rewrites each layer's pattern

    scores = MatMul(q, Transpose(Concat(past_k, k)))        ...  probs = Softmax(...)
    out    = MatMul(probs, Concat(past_v, v))

into the same arithmetic over the two parts, which reads each cache slab once:

    scores = Concat(MatMul(q, Transpose(past_k)), MatMul(q, Transpose(k)))   (last axis)
    out    = MatMul(probs[..., :S], past_v) + MatMul(probs[..., S:], v)       (S = past length)

Every score is the same dot product as before, so the softmax sees the same numbers; the
weighted sum of values is now two sums added, which rounds differently in the last bits (a
deliberate change of the fp32 bytes, with the golden fixtures re-recorded). Each row and head
is still computed alone, so a row's output does not depend on what else shares the call. A
prefill (S = 0) multiplies zero-length parts, which give zeros.
"""
from __future__ import annotations

from typing import Dict, List

import onnx
from onnx import TensorProto, helper

SPLIT_MARK = "hita.attentionSplit"  # model metadata key: the graph is already rewritten
INT64_MAX = 2**63 - 1


class AttentionPatternError(ValueError):
    """A layer's attention is not the traced Concat pattern this rewrite knows."""


def is_split(model: onnx.ModelProto) -> bool:
    return any(p.key == SPLIT_MARK for p in model.metadata_props)


def _only_consumer(name: str, consumers: Dict[str, List[onnx.NodeProto]], op: str) -> onnx.NodeProto:
    users = consumers.get(name, [])
    if len(users) != 1 or users[0].op_type != op:
        raise AttentionPatternError(f"{name!r} should feed one {op}, feeds {[u.op_type for u in users]}")
    return users[0]


def split_attention(model: onnx.ModelProto) -> dict:
    """Rewrites every layer's cache Concat in place; returns a report for the manifest."""
    graph = model.graph
    inputs = {i.name for i in graph.input}
    consumers: Dict[str, List[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    concats = [n for n in graph.node if n.op_type == "Concat" and n.input[0] in inputs
               and n.input[0].startswith(("past_key_", "past_value_"))]
    if not concats:
        raise AttentionPatternError("no Concat of a past_key_/past_value_ input: nothing to rewrite")
    removed, added = set(), {}
    layers = 0
    for concat in concats:
        past, new = concat.input
        base = concat.name or concat.output[0]
        if past.startswith("past_key_"):
            transpose = _only_consumer(concat.output[0], consumers, "Transpose")
            matmul = _only_consumer(transpose.output[0], consumers, "MatMul")
            perm = list(next(a for a in transpose.attribute if a.name == "perm").ints)
            if perm != [0, 1, 3, 2] or matmul.input[1] != transpose.output[0]:
                raise AttentionPatternError(f"{transpose.name!r} is not the keys' last-two-axes transpose")
            q = matmul.input[0]
            parts = []
            for tag, keys in (("past", past), ("new", new)):
                t = helper.make_node("Transpose", [keys], [f"{base}/{tag}_kT"], perm=perm, name=f"{base}/{tag}_kT")
                s = helper.make_node("MatMul", [q, t.output[0]], [f"{base}/{tag}_scores"], name=f"{base}/{tag}_scores")
                parts += [t, s]
            join = helper.make_node("Concat", [parts[1].output[0], parts[3].output[0]], [matmul.output[0]],
                                    axis=3, name=f"{base}/scores")
            added[matmul.name] = parts + [join]
            removed.update({concat.name, transpose.name, matmul.name})
            layers += 1
        else:
            matmul = _only_consumer(concat.output[0], consumers, "MatMul")
            if matmul.input[1] != concat.output[0]:
                raise AttentionPatternError(f"{matmul.name!r} does not weigh the values it is fed")
            probs = matmul.input[0]
            length = helper.make_node("Shape", [past], [f"{base}/past_len"], start=2, end=3, name=f"{base}/past_len")
            zero, end = f"{base}/zero", f"{base}/end"
            consts = [helper.make_node("Constant", [], [zero], value=helper.make_tensor(zero, TensorProto.INT64, [1], [0])),
                      helper.make_node("Constant", [], [end], value=helper.make_tensor(end, TensorProto.INT64, [1], [INT64_MAX])),
                      helper.make_node("Constant", [], [f"{base}/axis"],
                                       value=helper.make_tensor(f"{base}/axis", TensorProto.INT64, [1], [3]))]
            axis = f"{base}/axis"
            p_past = helper.make_node("Slice", [probs, zero, length.output[0], axis], [f"{base}/past_probs"],
                                      name=f"{base}/past_probs")
            p_new = helper.make_node("Slice", [probs, length.output[0], end, axis], [f"{base}/new_probs"],
                                     name=f"{base}/new_probs")
            o_past = helper.make_node("MatMul", [p_past.output[0], past], [f"{base}/past_out"], name=f"{base}/past_out")
            o_new = helper.make_node("MatMul", [p_new.output[0], new], [f"{base}/new_out"], name=f"{base}/new_out")
            total = helper.make_node("Add", [o_past.output[0], o_new.output[0]], [matmul.output[0]], name=f"{base}/out")
            added[matmul.name] = [length, *consts, p_past, p_new, o_past, o_new, total]
            removed.update({concat.name, matmul.name})
    nodes = []
    for node in graph.node:
        if node.name in added:
            nodes.extend(added[node.name])
        elif node.name not in removed:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, SPLIT_MARK: "1"})
    return {"layers": layers, "concatsRemoved": len(concats)}
