"""The GPT step graph's output head, split so that a call computes only the halves it needs (issue 12).

`HitaGPT.output` is one Linear(dim, 2V): holistic logits in its first V rows, patch logits in the
rest, and the traced graph computes both for every position before picking one with
Where(position < M, holistic, patch). Positions before M need only the holistic half and the rest
only the patch half, so half of the head's weights were read for nothing (13 % of the tiny GPT's
linear weights, 23 % of GPT-B's, on a memory-bound small-batch step).

`split_head` rewrites that pattern (MatMul → [Cast] → Slice [0, V) and Slice [V, 2V) → Where) into

    holistic = If(any position < M)  { MatMul(x, W[:, :V]) }  else { zeros [1, 1, 1] }
    patch    = If(any position ≥ M)  { MatMul(x, W[:, V:]) }  else { zeros [1, 1, 1] }
    logits   = Where(position < M, holistic, patch)

Each half's weights are an initializer of its own branch (stored once; quantize.py quantizes them
there). A call whose rows are all past M runs the patch MatMul only, one before M the holistic one
only, and a mixed call both, as before. The Where broadcasts the skipped branch's [1, 1, 1] and
never selects from it, so every logit comes from a MatMul of the same row and the same weight
column as before: the outputs are bitwise those of the unsplit graph (the tests check it on ORT).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .quantize import HEAD_NODE_PREFIX  # torch.onnx names nodes after modules: HitaGPT.output
SPLIT_MARK = "hita.headSplit"  # model metadata key: the graph is already split


class HeadPatternError(ValueError):
    """The graph's logits are not the traced two-head pattern this rewrite knows."""


def _producers(graph: onnx.GraphProto) -> Dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _constant_ints(name: str, producers: Dict[str, onnx.NodeProto], inits: Dict[str, TensorProto]
                   ) -> List[int]:
    if name in inits:
        return [int(v) for v in numpy_helper.to_array(inits[name]).reshape(-1)]
    node = producers.get(name)
    if node is None or node.op_type != "Constant":
        raise HeadPatternError(f"slice bound {name!r} is not a constant")
    value = next(a for a in node.attribute if a.name == "value")
    return [int(v) for v in numpy_helper.to_array(value.t).reshape(-1)]


def _slice_range(node: onnx.NodeProto, producers, inits, width: int) -> Tuple[int, int]:
    """(start, end) of a last-axis Slice with unit step, clamped to `width`."""
    if node.op_type != "Slice" or len(node.input) < 4:
        raise HeadPatternError(f"expected a Slice with axes, got {node.op_type} {node.name!r}")
    starts, ends, axes = (_constant_ints(node.input[i], producers, inits) for i in (1, 2, 3))
    steps = _constant_ints(node.input[4], producers, inits) if len(node.input) > 4 else [1]
    if len(starts) != 1 or axes[0] not in (-1, 2) or steps != [1]:
        raise HeadPatternError(f"{node.name!r} is not a unit-step slice of the last axis")
    return max(0, min(starts[0], width)), max(0, min(ends[0], width))


def _find_head(graph: onnx.GraphProto):
    """The Where producing `logits` and the head MatMul under it: (where, matmul, weight [K, 2V])."""
    producers = _producers(graph)
    inits = {t.name: t for t in graph.initializer}
    where = producers.get("logits")
    if where is None or where.op_type != "Where":
        raise HeadPatternError("the graph's logits are not produced by a Where")
    halves = []
    for name in where.input[1:]:
        node = producers.get(name)
        if node is None or node.op_type != "Slice":
            raise HeadPatternError(f"Where input {name!r} is not a Slice")
        source = producers.get(node.input[0])
        while source is not None and source.op_type == "Cast":
            source = producers.get(source.input[0])
        if source is None or source.op_type != "MatMul" or not source.name.startswith(HEAD_NODE_PREFIX):
            raise HeadPatternError(f"{node.name!r} does not slice the head MatMul")
        halves.append((node, source))
    (slice_h, matmul), (slice_p, other) = halves
    if other is not matmul or matmul.input[1] not in inits:
        raise HeadPatternError("both halves must slice one head MatMul with a constant weight")
    weight = numpy_helper.to_array(inits[matmul.input[1]])
    if weight.ndim != 2 or weight.shape[1] % 2:
        raise HeadPatternError(f"head weight of shape {weight.shape} is not [K, 2V]")
    v = weight.shape[1] // 2
    if _slice_range(slice_h, producers, inits, 2 * v) != (0, v) \
            or _slice_range(slice_p, producers, inits, 2 * v) != (v, 2 * v):
        raise HeadPatternError("the Where does not pick [0, V) where true and [V, 2V) elsewhere")
    return where, matmul, weight


def _branch(name: str, x: str, weight: Optional[np.ndarray]) -> onnx.GraphProto:
    """A branch graph with one float output: x @ weight, or a [1, 1, 1] zero when weight is None."""
    out = f"{name}_logits"
    if weight is None:
        zero = numpy_helper.from_array(np.zeros((1, 1, 1), dtype=np.float32), f"{name}_unused")
        node = helper.make_node("Constant", [], [out], name=f"{HEAD_NODE_PREFIX}{name}/Unused", value=zero)
        return helper.make_graph([node], f"{name}_skipped", [],
                                 [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])
    w = numpy_helper.from_array(np.ascontiguousarray(weight), f"output.{name}.weight")
    node = helper.make_node("MatMul", [x, w.name], [out], name=f"{HEAD_NODE_PREFIX}{name}/MatMul")
    return helper.make_graph([node], f"{name}_head", [],
                             [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                             initializer=[w])


def is_split(model: onnx.ModelProto) -> bool:
    return any(p.key == SPLIT_MARK for p in model.metadata_props)


def split_head(model: onnx.ModelProto) -> Dict:
    """Rewrites `model` (a traced fp32 GPT step graph) in place; returns a report for the manifest.
    @raises HeadPatternError when the graph is not the traced pattern (or already split)."""
    if is_split(model):
        raise HeadPatternError("the graph's head is already split")
    graph = model.graph
    where, matmul, weight = _find_head(graph)
    v = weight.shape[1] // 2
    cond, x = where.input[0], matmul.input[0]  # cond [B, T, 1] bool: position < M
    p = HEAD_NODE_PREFIX
    nodes = [
        helper.make_node("Cast", [cond], [f"{p}is_holistic_i32"], name=f"{p}CastCond", to=TensorProto.INT32),
        helper.make_node("ReduceMax", [f"{p}is_holistic_i32"], [f"{p}any_holistic_i32"], name=f"{p}AnyHolistic",
                         keepdims=0),
        helper.make_node("ReduceMin", [f"{p}is_holistic_i32"], [f"{p}all_holistic_i32"], name=f"{p}AllHolistic",
                         keepdims=0),
        helper.make_node("Cast", [f"{p}any_holistic_i32"], [f"{p}any_holistic"], name=f"{p}CastAny",
                         to=TensorProto.BOOL),
        helper.make_node("Cast", [f"{p}all_holistic_i32"], [f"{p}all_holistic"], name=f"{p}CastAll",
                         to=TensorProto.BOOL),
        helper.make_node("Not", [f"{p}all_holistic"], [f"{p}any_patch"], name=f"{p}AnyPatch"),
        helper.make_node("If", [f"{p}any_holistic"], [f"{p}holistic"], name=f"{p}HolisticIf",
                         then_branch=_branch("holistic", x, weight[:, :v]),
                         else_branch=_branch("holistic", x, None)),
        helper.make_node("If", [f"{p}any_patch"], [f"{p}patch"], name=f"{p}PatchIf",
                         then_branch=_branch("patch", x, weight[:, v:]),
                         else_branch=_branch("patch", x, None)),
        helper.make_node("Where", [cond, f"{p}holistic", f"{p}patch"], list(where.output), name=where.name),
    ]
    # The new nodes read only values computed before the old Where, so appending them keeps the
    # graph topologically sorted; pruning then drops the old head (MatMul, Cast, Slices, constants).
    kept = [n for n in graph.node if n is not where]
    graph.ClearField("node")
    graph.node.extend(kept + nodes)
    _prune(graph)
    report = {"op": "If", "vocabSize": v, "holistic": "position < numHolistic", "patch": "otherwise"}
    helper.set_model_props(model, {**{q.key: q.value for q in model.metadata_props}, SPLIT_MARK: "1"})
    return report


def _prune(graph: onnx.GraphProto) -> None:
    """Removes nodes and initializers that no graph output depends on (the old head)."""
    needed = {o.name for o in graph.output}
    keep: List[onnx.NodeProto] = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    needed.update(_outer_references(attr.g))
    keep.reverse()
    graph.ClearField("node")
    graph.node.extend(keep)
    inits = [t for t in graph.initializer if t.name in needed]
    graph.ClearField("initializer")
    graph.initializer.extend(inits)


def _outer_references(graph: onnx.GraphProto) -> set:
    """Names a subgraph reads that it does not define itself (its outer-scope inputs)."""
    defined = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    used = set()
    for node in graph.node:
        defined.update(node.output)
        used.update(node.input)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                used.update(_outer_references(attr.g))
    return used - defined - {""}
