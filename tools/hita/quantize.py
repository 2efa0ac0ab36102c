"""Weight-only, block-wise quantization of the GPT graph's linear layers (issue 12).

Every MatMul whose B is a 2-D float initializer (the projections wqkv, wo, w1, w2, w3 of each
block and the output head) becomes one `com.microsoft.MatMulNBits` node, which onnxruntime's CPU
provider runs with 8- or 4-bit weights and float activations. Activations stay float, one row
never sees another's values, so a row's logits do not depend on which rows share its batch the
way a per-tensor DynamicQuantizeLinear would make them. (Whether the kernels' summation order is
row-invariant is measured, not assumed: bench/quant-probe.mjs.)

MatMulNBits layout (onnxruntime docs/ContribOperators.md, contrib_ops/cpu/quantization/
matmul_nbits_helper.h), with W = Bᵀ of the float MatMul, W [N, K] (PyTorch's Linear layout):
  * K is cut into n_blocks = ceil(K / block_size) blocks; W[n, block] has one float scale and one
    zero point: w ≈ (code − zero_point) · scale, codes in [0, 2^bits − 1].
  * B: uint8 [N, n_blocks, block_size · bits / 8]; codes are packed low bits first along K
    (4-bit: code 2j in the low nibble of byte j, code 2j+1 in the high nibble).
  * scales: float [N · n_blocks], row-major over (n, block) (the 1-D form every version reads).
  * zero_points (optional): uint8 [N · ceil(n_blocks · bits / 8)], each row of N packed like B
    and padded to whole bytes; absent means 2^(bits − 1).
  * A's last axis is K; leading axes are rows. Y = A · dequant(W)ᵀ, shape [..., N].
Embedding tables are Gathers, not MatMuls, and stay float: a Gather reads B·T rows per step, so
their size costs memory, not time.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = "com.microsoft"
# Precision names of the manifest → weight bits.
PRECISION_BITS = {"int8": 8, "int4": 4}
# The output head's MatMul, named after the module by torch.onnx (HitaGPT.output).
HEAD_NODE_PREFIX = "/output/"


@dataclass(frozen=True)
class QuantOptions:
    """How to quantize one GPT graph.

    bits: weight bits of the transformer blocks' projections (8 or 4).
    head_bits: weight bits of the output head; 0 keeps it float.
    block_size: codes per scale along K (a power of two ≥ 16).
    accuracy_level: MatMulNBits attribute; 0 = float activations, 4 = the kernel may quantize A
      to int8 per block internally.
    symmetric: no zero points (code 2^(bits−1) is 0.0); else asymmetric min/max per block.
    """
    bits: int
    head_bits: int
    block_size: int = 32
    accuracy_level: int = 0
    symmetric: bool = False

    def __post_init__(self):
        if self.bits not in (4, 8) or self.head_bits not in (0, 4, 8):
            raise ValueError(f"bits must be 4 or 8 and head_bits 0, 4 or 8, got {self.bits}/{self.head_bits}")
        if self.block_size < 16 or self.block_size & (self.block_size - 1):
            raise ValueError(f"block_size must be a power of two ≥ 16, got {self.block_size}")
        if self.accuracy_level not in (0, 1, 2, 3, 4):
            raise ValueError(f"accuracy_level must be 0..4, got {self.accuracy_level}")


def quantize_blockwise(weight: np.ndarray, bits: int, block_size: int, symmetric: bool
                       ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """W [N, K] float → (codes uint8 [N, n_blocks, block_size], scales float32 [N, n_blocks],
    zero points uint8 [N, n_blocks] or None when symmetric). K is zero-padded to whole blocks."""
    n, k = weight.shape
    n_blocks = -(-k // block_size)
    w = np.zeros((n, n_blocks * block_size), dtype=np.float32)
    w[:, :k] = weight
    w = w.reshape(n, n_blocks, block_size)  # [N, nb, bs]
    top = (1 << bits) - 1
    if symmetric:
        zero = 1 << (bits - 1)
        # codes zero-7 … zero+7 for 4 bits: the range is symmetric, the extra negative code unused.
        scales = np.abs(w).max(axis=2) / (zero - 1)
        scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
        codes = np.clip(np.round(w / scales[..., None]) + zero, 0, top).astype(np.uint8)
        return codes, scales, None
    # The range always contains 0.0 so that zero weights (and padding) stay exactly zero.
    lo = np.minimum(w.min(axis=2), 0.0)
    hi = np.maximum(w.max(axis=2), 0.0)
    scales = (hi - lo) / top
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    zero_points = np.clip(np.round(-lo / scales), 0, top).astype(np.uint8)
    codes = np.clip(np.round(w / scales[..., None]) + zero_points[..., None], 0, top).astype(np.uint8)
    return codes, scales, zero_points


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes [..., L] (L·bits a multiple of 8) → uint8 [..., L·bits/8], low bits first."""
    if bits == 8:
        return codes.astype(np.uint8)
    per_byte = 8 // bits
    c = codes.astype(np.uint8).reshape(*codes.shape[:-1], codes.shape[-1] // per_byte, per_byte)
    packed = np.zeros(c.shape[:-1], dtype=np.uint8)
    for i in range(per_byte):
        packed |= (c[..., i] << (bits * i)).astype(np.uint8)
    return packed


def unpack_codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of pack_codes: uint8 [..., L·bits/8] → codes [..., L]."""
    if bits == 8:
        return packed.astype(np.uint8)
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    parts = [(packed >> (bits * i)) & mask for i in range(per_byte)]
    return np.stack(parts, axis=-1).reshape(*packed.shape[:-1], packed.shape[-1] * per_byte).astype(np.uint8)


def pack_zero_points(zero_points: np.ndarray, bits: int) -> np.ndarray:
    """Zero points [N, n_blocks] → uint8 [N · ceil(n_blocks·bits/8)]: each row packed like B and
    padded to whole bytes (padding code 0 is never read)."""
    n, n_blocks = zero_points.shape
    per_byte = 8 // bits
    padded = np.zeros((n, -(-n_blocks // per_byte) * per_byte), dtype=np.uint8)
    padded[:, :n_blocks] = zero_points
    return pack_codes(padded, bits).reshape(-1)


def dequantize(codes: np.ndarray, scales: np.ndarray, zero_points: Optional[np.ndarray], bits: int,
               k: int) -> np.ndarray:
    """What MatMulNBits multiplies by: (code − zero point) · scale, as W [N, K] float32."""
    n, n_blocks, block_size = codes.shape
    zp = (np.full((n, n_blocks), 1 << (bits - 1), dtype=np.float32) if zero_points is None
          else zero_points.astype(np.float32))
    w = (codes.astype(np.float32) - zp[..., None]) * scales[..., None]
    return w.reshape(n, n_blocks * block_size)[:, :k]


def matmul_nbits_node(node: onnx.NodeProto, weight_t: np.ndarray, bits: int, options: QuantOptions
                      ) -> Tuple[onnx.NodeProto, List[onnx.TensorProto]]:
    """One MatMulNBits node (same name, A and output) for float MatMul `node` with B = weight_t
    [K, N], and the initializers it reads."""
    k, n = weight_t.shape
    codes, scales, zero_points = quantize_blockwise(weight_t.T, bits, options.block_size, options.symmetric)
    prefix = node.output[0].replace("/", "_").strip("_")
    b = numpy_helper.from_array(pack_codes(codes, bits), f"{prefix}_q{bits}")
    s = numpy_helper.from_array(scales.reshape(-1), f"{prefix}_scales")
    tensors = [b, s]
    inputs = [node.input[0], b.name, s.name]
    if zero_points is not None:
        z = numpy_helper.from_array(pack_zero_points(zero_points, bits), f"{prefix}_zero_points")
        tensors.append(z)
        inputs.append(z.name)
    new = helper.make_node("MatMulNBits", inputs, list(node.output), name=node.name, domain=MS_DOMAIN,
                           K=k, N=n, bits=bits, block_size=options.block_size,
                           accuracy_level=options.accuracy_level)
    return new, tensors


def _graph_uses(graph: onnx.GraphProto, uses: Dict[str, int]) -> Dict[str, int]:
    """Counts every read of every name in `graph` and the subgraphs under it (If branches read
    outer-scope names), so a weight still read anywhere is never dropped."""
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _graph_uses(attr.g, uses)
    return uses


def _quantize_graph(graph: onnx.GraphProto, options: QuantOptions, replaced: Dict[str, int]) -> None:
    """Quantizes the MatMuls of `graph` whose weights are its own initializers, then those of its
    subgraphs (the split output head keeps each half's weights in its If branch, head_split.py)."""
    inits = {t.name: t for t in graph.initializer}
    uses = _graph_uses(graph, {})
    new_tensors: List[onnx.TensorProto] = []
    dropped = set()
    for i, node in enumerate(graph.node):
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _quantize_graph(attr.g, options, replaced)
        if node.op_type != "MatMul" or node.domain not in ("", "ai.onnx") or node.input[1] not in inits:
            continue
        init = inits[node.input[1]]
        if len(init.dims) != 2 or init.data_type != onnx.TensorProto.FLOAT:
            continue
        bits = options.head_bits if node.name.startswith(HEAD_NODE_PREFIX) else options.bits
        if bits == 0:
            continue
        new, tensors = matmul_nbits_node(node, numpy_helper.to_array(init), bits, options)
        graph.node[i].CopyFrom(new)
        new_tensors += tensors
        replaced[node.name] = bits
        uses[init.name] -= 1
        if uses[init.name] == 0 and init.name not in {o.name for o in graph.output}:
            dropped.add(init.name)
    kept = [t for t in graph.initializer if t.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_tensors)


def quantize_model(model: onnx.ModelProto, options: QuantOptions) -> Dict:
    """Rewrites `model` in place; returns a report {node name: bits} of what was replaced."""
    replaced: Dict[str, int] = {}
    _quantize_graph(model.graph, options, replaced)
    if replaced and not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    report = {"op": f"{MS_DOMAIN}.MatMulNBits", **asdict(options), "nodes": len(replaced),
              "headBits": options.head_bits}
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                   "hita.quantization": json.dumps(report)})
    report["replaced"] = replaced
    return report


def options_for(precision: str, block_size: int = 32, accuracy_level: int = 4,
                symmetric: bool = False, head_bits: Optional[int] = None) -> QuantOptions:
    """The options of a manifest precision ("int8" | "int4"), defaults as measured on
    hita-tiny-emoji (bench/quant-probe.mjs, docs/model-directory.md "Quantized GPT graphs"):
    * accuracy_level 4: at level 0 the CPU provider (AVX2 here) takes a slow float path, 3-5x
      slower than fp32 on a GPT-B decode step; level 4 is the fast path for both widths.
    * head at 8 bits for both: it writes the logits directly; at 4 bits it adds about 15 % to the
      int4 graph's KL and costs 2 points of holistic top-1 agreement (the head is 13 % of the
      linear weights on the tiny GPT, 23 % on GPT-B).
    * asymmetric (zero points): symmetric 4-bit has 1.5x the KL."""
    if precision not in PRECISION_BITS:
        raise ValueError(f"unknown GPT precision {precision!r}; expected one of {sorted(PRECISION_BITS)}")
    bits = PRECISION_BITS[precision]
    return QuantOptions(bits=bits, head_bits=8 if head_bits is None else head_bits,
                        block_size=block_size, accuracy_level=accuracy_level, symmetric=symmetric)


def all_initializers(graph: onnx.GraphProto) -> List[onnx.TensorProto]:
    """The initializers of `graph` and of every subgraph under it."""
    out = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                out += all_initializers(attr.g)
    return out


def save_model(model: onnx.ModelProto, path: str, external_threshold_bytes: int) -> List[str]:
    """Writes `model` to `path`, its weights in `path`.data when they exceed the threshold (the
    2 GB protobuf limit); returns the files written, graph first."""
    weight_bytes = sum(len(t.raw_data) or numpy_helper.to_array(t).nbytes for t in all_initializers(model.graph))
    data_path = path + ".data"
    if os.path.exists(data_path):
        os.remove(data_path)
    if weight_bytes <= external_threshold_bytes:
        onnx.save_model(model, path)
        return [os.path.basename(path)]
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(data_path), size_threshold=1024)
    return [os.path.basename(path), os.path.basename(data_path)]


def quantize_file(src: str, dst: str, options: QuantOptions, external_threshold_bytes: int
                  ) -> Tuple[List[str], Dict]:
    """Quantizes the graph at `src` (external data read from beside it) into `dst`; `src` is only
    read. Returns the files written and the report."""
    model = onnx.load(src)
    report = quantize_model(model, options)
    return save_model(model, dst, external_threshold_bytes), report


def parse_precisions(values: Optional[List[str]]) -> List[str]:
    """`--gpt-precision int8 --gpt-precision int4` or `int8,int4` → ["int8", "int4"] (fp32, always
    written, may be named and is skipped)."""
    out: List[str] = []
    for value in values or []:
        for name in (v.strip() for v in value.split(",")):
            if name in ("", "fp32"):
                continue
            if name not in PRECISION_BITS:
                raise ValueError(f"unknown GPT precision {name!r}; expected fp32, int8 or int4")
            if name not in out:
                out.append(name)
    return out


def add_cli_args(parser) -> None:
    """The quantization flags shared by tools/export.py, tools/convert.py and tools/quantize_gpt.py."""
    parser.add_argument("--gpt-precision", action="append", metavar="int8|int4",
                        help="also write a weight-only quantized GPT graph (repeatable or a comma list)")
    parser.add_argument("--gpt-block-size", type=int, default=32, help="weights per scale along K")
    parser.add_argument("--gpt-accuracy-level", type=int, default=4,
                        help="MatMulNBits accuracy_level (4: int8 activations per block, the fast path)")


def parse_cli_args(parser, argv=None):
    """Parses `argv` with the quantization flags added, their precisions resolved (a bad name is
    a usage error, as argparse reports its own)."""
    add_cli_args(parser)
    args = parser.parse_args(argv)
    try:
        args.gpt_precision = parse_precisions(args.gpt_precision)
    except ValueError as error:
        parser.error(str(error))
    return args
