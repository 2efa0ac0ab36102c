"""ONNX graphs for serving (SPEC §6): `encode`, `decode` and one KV-cache `gpt` step graph.

The GPT graph covers prefill and decode with one set of weights: a call feeds T new positions per
row plus a per-layer cache of S earlier ones (S = 0 for a prefill), per-row `position_ids` and an
`attention_mask` over the S + T keys, so rows at different positions share one call. It returns
only the new keys and values; the host owns the cache. Opset 17, fp32. Its output head is split
into two If branches (head_split.py), so a call computes only the head halves its positions need,
and each layer attends over its cache without copying it (attention_split.py).
"""
from __future__ import annotations

import io
import os
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import onnx
import torch
from torch import nn

from .attention_split import split_attention
from .gpt import HitaGPT
from .head_split import split_head
from .tokenizer import HitaTokenizer

OPSET = 17
EXTERNAL_DATA_THRESHOLD_BYTES = 64 * 1024 * 1024  # graphs above this keep weights in a .data file


class EncodeGraph(nn.Module):
    def __init__(self, tokenizer: HitaTokenizer):
        super().__init__()
        self.tokenizer = tokenizer
        # The semantic pos-embed interpolation (bicubic, antialiased) depends only on the fixed
        # input size, and ONNX has no antialiased bicubic: bake its result.
        backbone = tokenizer.encode_transformer.backbone.pretrained_encoder
        with torch.no_grad():
            self.register_buffer("semantic_pos", backbone.interpolated_pos_embed().detach().clone())

    def forward(self, image: torch.Tensor):
        return self.tokenizer.encode(image, self.semantic_pos)


class DecodeGraph(nn.Module):
    def __init__(self, tokenizer: HitaTokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    def forward(self, holistic_ids: torch.Tensor, patch_ids: torch.Tensor):
        return self.tokenizer.decode(holistic_ids, patch_ids)


class GPTStepGraph(nn.Module):
    def __init__(self, gpt: HitaGPT):
        super().__init__()
        self.gpt = gpt

    def forward(self, input_ids, position_ids, attention_mask, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, new_kv = self.gpt.forward_step(input_ids, position_ids, attention_mask, past)
        return (logits, *[t for kv in new_kv for t in kv])


def tensor_spec(name: str, dtype: str, shape: Sequence) -> Dict:
    return {"name": name, "dtype": dtype, "shape": list(shape)}


def encode_io(tokenizer: HitaTokenizer) -> Dict[str, List[Dict]]:
    cfg = tokenizer.cfg
    r = cfg.image_size
    return {"inputs": [tensor_spec("image", "float32", ["batch", 3, r, r])],
            "outputs": [tensor_spec("holistic_ids", "int64", ["batch", cfg.n_carrier]),
                        tensor_spec("patch_ids", "int64", ["batch", cfg.n_patch])]}


def decode_io(tokenizer: HitaTokenizer) -> Dict[str, List[Dict]]:
    cfg = tokenizer.cfg
    r = cfg.image_size
    return {"inputs": [tensor_spec("holistic_ids", "int64", ["batch", cfg.n_carrier]),
                       tensor_spec("patch_ids", "int64", ["batch", cfg.n_patch])],
            "outputs": [tensor_spec("image", "float32", ["batch", 3, r, r])]}


def gpt_io(gpt: HitaGPT) -> Dict[str, List[Dict]]:
    cfg = gpt.cfg
    kv_in = ["batch", cfg.n_head, "past", cfg.head_dim]
    kv_out = ["batch", cfg.n_head, "seq", cfg.head_dim]
    inputs = [tensor_spec("input_ids", "int64", ["batch", "seq"]),
              tensor_spec("position_ids", "int64", ["batch", "seq"]),
              tensor_spec("attention_mask", "bool", ["batch", "past+seq"])]
    outputs = [tensor_spec("logits", "float32", ["batch", "seq", cfg.vocab_size])]
    for layer in range(cfg.n_layer):
        inputs += [tensor_spec(f"past_key_{layer}", "float32", kv_in),
                   tensor_spec(f"past_value_{layer}", "float32", kv_in)]
        outputs += [tensor_spec(f"new_key_{layer}", "float32", kv_out),
                    tensor_spec(f"new_value_{layer}", "float32", kv_out)]
    return {"inputs": inputs, "outputs": outputs}


def dynamic_axes(io_spec: Dict[str, List[Dict]]) -> Dict[str, Dict[int, str]]:
    axes = {}
    for spec in io_spec["inputs"] + io_spec["outputs"]:
        named = {i: d for i, d in enumerate(spec["shape"]) if isinstance(d, str)}
        if named:
            axes[spec["name"]] = named
    return axes


def export_graph(module: nn.Module, args: tuple, io_spec: Dict[str, List[Dict]], path: str,
                 rewrite: Optional[Callable[[onnx.ModelProto], object]] = None) -> List[str]:
    """Trace `module` to `path`, applying `rewrite` to the traced graph in place before it is
    written; returns the files written (the graph and any external data)."""
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13's exporter warns about constant folding and shape inference of constants;
        # the parity fixtures are what prove a graph right.
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            module.eval(), args, buffer, opset_version=OPSET, do_constant_folding=True,
            input_names=[s["name"] for s in io_spec["inputs"]],
            output_names=[s["name"] for s in io_spec["outputs"]],
            dynamic_axes=dynamic_axes(io_spec))
    model = onnx.load_from_string(buffer.getvalue())
    if rewrite is not None:
        rewrite(model)
    files = [os.path.basename(path)]
    if buffer.tell() > EXTERNAL_DATA_THRESHOLD_BYTES:
        data_name = os.path.basename(path) + ".data"
        if os.path.exists(path + ".data"):
            os.remove(path + ".data")
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=1024)
        files.append(data_name)
    else:
        onnx.save_model(model, path)
    return files


def sample_image(batch: int, size: int, seed: int) -> torch.Tensor:
    """Smooth, seeded test images in [-1, 1]: upsampled low-resolution noise, like real pictures."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 4, 4, generator=gen) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear",
                                           align_corners=False).clamp(-1, 1)


def export_encode(tokenizer: HitaTokenizer, path: str) -> List[str]:
    image = sample_image(1, tokenizer.cfg.image_size, 0)
    return export_graph(EncodeGraph(tokenizer), (image,), encode_io(tokenizer), path)


def export_decode(tokenizer: HitaTokenizer, path: str) -> List[str]:
    cfg = tokenizer.cfg
    ids = (torch.zeros(1, cfg.n_carrier, dtype=torch.long), torch.zeros(1, cfg.n_patch, dtype=torch.long))
    return export_graph(DecodeGraph(tokenizer), ids, decode_io(tokenizer), path)


def export_gpt(gpt: HitaGPT, path: str) -> List[str]:
    cfg = gpt.cfg
    b, t, s = 2, 3, 2  # distinct sizes so no axis is traced as a constant by accident
    input_ids = torch.zeros(b, t, dtype=torch.long)
    positions = torch.arange(s, s + t).expand(b, -1).contiguous()
    mask = torch.ones(b, s + t, dtype=torch.bool)
    past = [torch.zeros(b, cfg.n_head, s, cfg.head_dim) for _ in range(2 * cfg.n_layer)]
    return export_graph(GPTStepGraph(gpt), (input_ids, positions, mask, *past), gpt_io(gpt), path,
                        rewrite=rewrite_gpt)


def rewrite_gpt(model: onnx.ModelProto) -> None:
    """The traced step graph, made to compute only what a call needs: the head computes both halves
    for every position (head_split.py makes each an If branch run only when some position needs
    it, bitwise the same logits), and each layer copies its whole cache into a Concat before
    attending (attention_split.py attends over the cache and the new positions apart)."""
    split_head(model)
    split_attention(model)
