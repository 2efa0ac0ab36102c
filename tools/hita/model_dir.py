"""A servable model directory: `model.json` (the manifest), ONNX graphs and parity fixtures.

The manifest is the runtime's only source of sizes and conventions (docs/model-directory.md).
Fixtures are raw little-endian tensors indexed by `fixtures/index.json`, computed by PyTorch, so
the TypeScript side can check every graph without Python.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from . import export_onnx, quantize
from .gpt import HitaGPT
from .tokenizer import HitaTokenizer

MANIFEST_FORMAT = "hita-serve/model@1"
DEFAULT_SAMPLING = {"cfgScale": 1.5, "temperature": 1.0, "topK": 0, "topP": 1.0}
PIXELS = {"layout": "NCHW", "channels": "RGB", "range": [-1, 1],
          "toUint8": "floor(clamp(127.5 * x + 128, 0, 255))"}


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FixtureWriter:
    def __init__(self, directory: str):
        self.directory = directory
        self.index: Dict[str, Dict] = {}
        os.makedirs(directory, exist_ok=True)

    def add(self, name: str, tensor: torch.Tensor) -> None:
        array = tensor.detach().cpu().numpy()
        dtype = {np.dtype("float32"): "float32", np.dtype("int64"): "int64",
                 np.dtype("bool"): "bool"}[array.dtype]
        file = f"{name}.bin"
        np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tofile(
            os.path.join(self.directory, file))
        self.index[name] = {"file": file, "dtype": dtype, "shape": list(array.shape)}

    def close(self, notes: Dict) -> None:
        with open(os.path.join(self.directory, "index.json"), "w") as f:
            json.dump({"tensors": self.index, "notes": notes}, f, indent=1)


def write_fixtures(directory: str, tokenizer: HitaTokenizer, gpt: HitaGPT, has_encoder: bool,
                   seed: int, batch: int) -> None:
    """PyTorch outputs for small inputs: what every graph must reproduce."""
    tcfg, gcfg = tokenizer.cfg, gpt.cfg
    gen = torch.Generator().manual_seed(seed)
    out = FixtureWriter(directory)
    with torch.no_grad():
        if has_encoder:
            image = export_onnx.sample_image(batch, tcfg.image_size, seed + 1)
            holistic, patch = export_onnx.EncodeGraph(tokenizer)(image)
            out.add("encode.image", image)
            out.add("encode.holistic_ids", holistic)
            out.add("encode.patch_ids", patch)
        holistic = torch.randint(0, tcfg.codebook_size, (batch, tcfg.n_carrier), generator=gen)
        patch = torch.randint(0, tcfg.codebook_size, (batch, tcfg.n_patch), generator=gen)
        out.add("decode.holistic_ids", holistic)
        out.add("decode.patch_ids", patch)
        out.add("decode.image", tokenizer.decode(holistic, patch))
        # A whole teacher-forced sequence: [class, h0..h(M-1), z0..z(N-2)]; row 1 uses the null class.
        classes = torch.tensor([i % gcfg.num_classes if i % 2 == 0 else gcfg.num_classes
                                for i in range(batch)])
        tokens = torch.randint(0, gcfg.vocab_size, (batch, gcfg.num_slots + gcfg.block_size - 1),
                               generator=gen)
        input_ids = torch.cat([classes[:, None], tokens], dim=1)
        positions = torch.arange(input_ids.shape[1]).expand(batch, -1).contiguous()
        mask = torch.ones_like(input_ids, dtype=torch.bool)
        logits, _ = gpt.forward_step(input_ids, positions, mask, gpt.empty_cache(batch))
        out.add("gpt.input_ids", input_ids)
        out.add("gpt.logits", logits)
    out.close({"source": "PyTorch fp32 (tools/hita)", "seed": seed,
               "gpt": "logits of the whole sequence from one call at positions 0..L-1, empty cache"})


def graph_entry(directory: str, files: List[str], io_spec: Dict, seconds: float) -> Dict:
    entry = {"file": files[0], "sha256": sha256_file(os.path.join(directory, files[0])),
             "bytes": os.path.getsize(os.path.join(directory, files[0])),
             "externalData": [{"file": f, "sha256": sha256_file(os.path.join(directory, f)),
                               "bytes": os.path.getsize(os.path.join(directory, f))} for f in files[1:]],
             "exportSeconds": round(seconds, 2)}
    entry.update(io_spec)
    return entry


def manifest(model_id: str, tokenizer: HitaTokenizer, gpt: HitaGPT, classes: Sequence[str],
             graphs: Dict[str, Dict], provenance: Dict, license_text: str, description: str,
             sampling: Optional[Dict] = None) -> Dict:
    tcfg, gcfg = tokenizer.cfg, gpt.cfg
    has_encoder = "encode" in graphs
    tokenizer_entry = {
        "grid": tcfg.grid, "numHolistic": tcfg.n_carrier, "numPatch": tcfg.n_patch,
        "codebookSize": tcfg.codebook_size, "patchEmbedDim": tcfg.patch_embed_dim,
        "holisticEmbedDim": tcfg.slot_embed_dim, "shiftK": tcfg.shift_k,
    }
    # The backbone only runs inside the encode graph. A generate-only model (convert.py without
    # --dinov2) has a depth-0 placeholder, which the runtime's schema rightly rejects: leave it out.
    if has_encoder:
        tokenizer_entry["semanticBackbone"] = {
            "inputSize": tcfg.backbone.input_size, "patchSize": tcfg.backbone.patch_size,
            "embedDim": tcfg.backbone.embed_dim, "depth": tcfg.backbone.depth,
            "resize": ("none" if tcfg.backbone.input_size == tcfg.image_size else
                       "kornia bicubic antialias (gaussian σ=max((s-1)/2,0.001), "
                       "reflect) as a matrix product")}
    return {
        "format": MANIFEST_FORMAT,
        "id": model_id,
        "description": description,
        "license": license_text,
        "imageSize": tcfg.image_size,
        "tokenizer": tokenizer_entry,
        "gpt": {
            "dim": gcfg.dim, "numLayers": gcfg.n_layer, "numHeads": gcfg.n_head,
            "headDim": gcfg.head_dim, "vocabSize": gcfg.vocab_size, "numClasses": gcfg.num_classes,
            "nullClassId": gcfg.num_classes, "clsTokenNum": gcfg.cls_token_num,
            "numHolistic": gcfg.num_slots, "numPatch": gcfg.block_size,
            "maxPositions": gcfg.max_positions, "ropeBase": gcfg.rope_base,
            "posMEmbedding": gcfg.pos_m_embedding,
        },
        "classes": [{"id": i, "name": name} for i, name in enumerate(classes)],
        "sampling": dict(sampling or DEFAULT_SAMPLING),
        "pixels": PIXELS,
        "capabilities": {"generate": True, "inpaint": has_encoder, "style": has_encoder},
        "graphs": graphs,
        "fixtures": "fixtures/index.json",
        "provenance": provenance,
    }


def write_model_dir(out: str, model_id: str, tokenizer: HitaTokenizer, gpt: HitaGPT,
                    classes: Sequence[str], provenance: Dict, license_text: str, description: str,
                    has_encoder: bool = True, fixture_batch: int = 2, seed: int = 0,
                    sampling: Optional[Dict] = None, gpt_precisions: Sequence[str] = (),
                    gpt_block_size: int = 32, gpt_accuracy_level: int = 4) -> Dict:
    """Export every graph, the fixtures and the manifest into `out`; returns the manifest.
    `gpt_precisions` ("int8", "int4") adds quantized GPT graphs beside the fp32 one."""
    if tokenizer.cfg.codebook_size != gpt.cfg.vocab_size or tokenizer.cfg.n_patch != gpt.cfg.block_size \
            or tokenizer.cfg.n_carrier != gpt.cfg.num_slots:
        raise ValueError("tokenizer and GPT disagree on codebook size, patch or holistic token count")
    if len(classes) != gpt.cfg.num_classes:
        raise ValueError(f"{len(classes)} class names for a GPT with {gpt.cfg.num_classes} classes")
    os.makedirs(out, exist_ok=True)
    tokenizer.eval()
    gpt.eval()
    steps: List[tuple[str, Callable[[str], List[str]], Callable[[], Dict]]] = []
    if has_encoder:
        steps.append(("encode", lambda p: export_onnx.export_encode(tokenizer, p),
                      lambda: export_onnx.encode_io(tokenizer)))
    steps.append(("decode", lambda p: export_onnx.export_decode(tokenizer, p),
                  lambda: export_onnx.decode_io(tokenizer)))
    steps.append(("gpt", lambda p: export_onnx.export_gpt(gpt, p), lambda: export_onnx.gpt_io(gpt)))
    graphs: Dict[str, Dict] = {}
    with tqdm(total=len(steps) + 1, desc="export", unit="step") as bar:
        for name, export, io_spec in steps:
            bar.set_postfix_str(name)
            start = time.perf_counter()
            files = export(os.path.join(out, f"{name}.onnx"))
            graphs[name] = graph_entry(out, files, io_spec(), time.perf_counter() - start)
            bar.update()
        bar.set_postfix_str("fixtures")
        write_fixtures(os.path.join(out, "fixtures"), tokenizer, gpt, has_encoder, seed, fixture_batch)
        bar.update()
    if gpt_precisions:
        graphs["gptVariants"] = write_gpt_variants(out, graphs["gpt"], gpt_precisions, gpt_block_size,
                                                   gpt_accuracy_level)
    data = manifest(model_id, tokenizer, gpt, classes, graphs, provenance, license_text, description,
                    sampling)
    save_manifest(out, data)
    return data


def save_manifest(directory: str, data: Dict) -> None:
    """Writes `data` as `directory`/model.json, in the layout every tool writes."""
    with open(os.path.join(directory, "model.json"), "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def read_manifest_for_gpt(directory: str) -> Tuple[Dict, Optional[str]]:
    """`directory`/model.json and why its `graphs.gpt` files are not the ones it describes (None
    when every sha256 matches). Tools that derive graphs from gpt.onnx refuse to start from a
    graph the manifest disowns."""
    with open(os.path.join(directory, "model.json")) as f:
        data = json.load(f)
    gpt_entry = data["graphs"]["gpt"]
    for file in [gpt_entry, *gpt_entry.get("externalData", [])]:
        actual = sha256_file(os.path.join(directory, file["file"]))
        if actual != file["sha256"]:
            return data, f"{file['file']} has sha256 {actual}, model.json says {file['sha256']}"
    return data, None


def gpt_variant_file(precision: str) -> str:
    """The file a quantized GPT graph is written to, beside gpt.onnx."""
    return f"gpt.{precision}.onnx"


def write_gpt_variants(directory: str, gpt_entry: Dict, precisions: Sequence[str], block_size: int = 32,
                       accuracy_level: int = 4) -> Dict[str, Dict]:
    """Quantizes the fp32 GPT graph of `gpt_entry` (a `graphs.gpt` manifest entry in `directory`)
    into one graph per precision; returns the `graphs.gptVariants` entries. The fp32 files are
    only read, and each variant names the sha256 it was made from."""
    variants: Dict[str, Dict] = {}
    source = os.path.join(directory, gpt_entry["file"])
    for precision in precisions:
        options = quantize.options_for(precision, block_size=block_size, accuracy_level=accuracy_level)
        start = time.perf_counter()
        files, report = quantize.quantize_file(source, os.path.join(directory, gpt_variant_file(precision)),
                                               options, export_onnx.EXTERNAL_DATA_THRESHOLD_BYTES)
        entry = graph_entry(directory, files, {"inputs": gpt_entry["inputs"], "outputs": gpt_entry["outputs"]},
                            time.perf_counter() - start)
        seconds = entry.pop("exportSeconds")
        entry.update({"precision": precision, "op": report["op"], "weightBits": options.bits,
                      "headBits": options.head_bits, "blockSize": options.block_size,
                      "accuracyLevel": options.accuracy_level, "symmetric": options.symmetric,
                      "quantizedNodes": report["nodes"], "quantizedFrom": gpt_entry["sha256"],
                      "quantizeSeconds": seconds})
        variants[precision] = entry
    return variants
