#!/usr/bin/python3
"""Evaluate a shipped emoji model through its ONNX graphs and the TypeScript engine.

  /usr/bin/python3 tools/evaluate.py --model models/hita-tiny-emoji            # print the figures
  /usr/bin/python3 tools/evaluate.py --model models/hita-tiny-emoji --write    # and store them in
                                                                               # model.json provenance
  /usr/bin/python3 tools/evaluate.py --precision int8 --samples-per-class 256 --write
      one GPT variant (AR decoding), stored under provenance.evaluation.variants["int8/ar"]; a
      variant other than fp32/ar is compared, sample by sample (same classes, same seeds, same
      judge), with the stored variants["fp32/ar"] of the same settings: run fp32 first.
  /usr/bin/python3 tools/evaluate.py --precision fp32 --decoding speculative --write
      the same for a decoding, stored under variants["fp32/speculative"]. Speculative decoding
      draws from another seed stream than AR, so its sample (class c, seed k) is another image
      than fp32/ar's: the pair compares two draws of one class, as int8's pairs do.
Every image scored here is made by `scripts/engine-eval.mjs` (build first: npm run build), so
the figures describe what `hita serve` returns. PyTorch only trains and runs the judges:
  reconstruction  held-out PSNR of encode → decode, and codebook usage of both codebooks;
  classes         a small CNN trained on the training split labels class-conditional samples;
                  its balanced accuracy on real held-out images is the anchor;
  style transfer  a set classifier (Noto vs Twemoji) labels swap-mode outputs whose content and
                  style images come from different sets;
  in-painting     the lower half regenerated without a class: class agreement with the original,
                  and how much the kept upper half moves.
Classes and seeds are balanced and fixed, so two runs on one model print the same figures.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from hita.emoji_data import EmojiData
from hita.runtime import configure_threads

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
PRECISIONS = ("fp32", "int8", "int4")
MAX_IMAGES_PER_REQUEST = 64  # src/inference/inference-engine.ts
DECODINGS = ("ar", "speculative")  # src/jobs/decoding.ts
BASELINE = "fp32/ar"  # every variant is paired with this one
MIN_PAIRED_SAMPLES = 2304  # 256 per class: fewer samples cannot make a variant a default
DEFAULT_MARGIN_POINTS = -2.0  # a variant may be a default only if its CI's lower bound lies above this


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(ROOT, "models", "hita-tiny-emoji"))
    p.add_argument("--data", default=os.path.join(TOOLS, "data", "emoji32.npz"))
    p.add_argument("--samples-per-class", type=int, default=32)
    p.add_argument("--per-class", type=int, default=12, help="held-out images per class for in-painting")
    p.add_argument("--pairs", type=int, default=120, help="style-transfer pairs")
    p.add_argument("--classifier-steps", type=int, default=1500)
    p.add_argument("--judges-dir", default=os.path.join(TOOLS, "runs", "judges"),
                   help="cache of trained judges (they depend on the data only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cfg", type=float, help="guidance scale (default: the model's)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--top-p", type=float)
    p.add_argument("--limit", type=int, default=0, help="smoke tests: N evenly spaced images of each split")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="GPT graph to run (graphs.gptVariants); given, --write stores the figures under "
                        "provenance.evaluation.variants['<precision>/<decoding>'] (default: fp32, top-level "
                        "figures unless --decoding is not ar)")
    p.add_argument("--decoding", choices=DECODINGS, default="ar",
                   help="how the engine decodes tokens (a job's `decoding`); other than ar, the run is a "
                        "variant stored under variants['<precision>/<decoding>'] (default: ar)")
    p.add_argument("--score-dir", help="run no engine: score the images an earlier run of the same settings "
                                       "left in this work directory (/tmp/hita-eval-*)")
    p.add_argument("--no-set-judge", action="store_true",
                   help="skip the style set judge (its training is the slowest step): no set figures")
    p.add_argument("--pair-only", action="store_true",
                   help="run nothing: recompute every stored variant's pairing with variants['fp32/ar']")
    p.add_argument("--write", action="store_true", help="store the figures in model.json provenance.evaluation")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# Judges: small CNNs trained on the training split only


class Judge(torch.nn.Module):
    """Three conv stages and a linear head: enough to tell emoji categories and sets apart."""

    def __init__(self, outputs: int):
        super().__init__()
        layers: List[torch.nn.Module] = []
        width = 3
        for out in (32, 64, 128):
            layers += [torch.nn.Conv2d(width, out, 3, padding=1), torch.nn.BatchNorm2d(out), torch.nn.GELU(),
                       torch.nn.Conv2d(out, out, 3, padding=1), torch.nn.BatchNorm2d(out), torch.nn.GELU(),
                       torch.nn.MaxPool2d(2)]
            width = out
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.eval()
        return torch.cat([self(chunk).argmax(-1) for chunk in x.split(512)])


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror and shift by up to 2 px (white fill), so the judge learns shapes, not positions."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (2, 2, 2, 2), value=1.0)
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    return padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]


def train_judge(images: torch.Tensor, labels: torch.Tensor, outputs: int, steps: int, seed: int) -> Judge:
    """Class-balanced batches: generated samples come evenly from every class, so must the judge."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    judge = Judge(outputs).train()
    opt = torch.optim.AdamW(judge.parameters(), lr=2e-3, weight_decay=0.05)
    counts = torch.bincount(labels, minlength=outputs).clamp_min(1).double()
    weights = (1.0 / counts)[labels]
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * step / steps))
        idx = torch.multinomial(weights, 128, replacement=True, generator=gen)
        loss = F.cross_entropy(judge(augment(images[idx], gen)), labels[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return judge.eval()


def cached_judge(args: argparse.Namespace, name: str, images: torch.Tensor, labels: torch.Tensor,
                 outputs: int, seed: int) -> Judge:
    """A judge depends only on the data, its labels, steps and seed, never on the model judged:
    keep it in tools/runs/judges so evaluating another model or sampling setting reuses it."""
    digest = hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()[:16]
    path = os.path.join(args.judges_dir, f"{name}-{digest}-{args.classifier_steps}-{seed}.pt")
    if os.path.exists(path):
        judge = Judge(outputs)
        judge.load_state_dict(torch.load(path))
        return judge.eval()
    judge = train_judge(images, labels, outputs, args.classifier_steps, seed)
    os.makedirs(args.judges_dir, exist_ok=True)
    torch.save(judge.state_dict(), path + ".tmp")
    os.replace(path + ".tmp", path)
    return judge


def balanced_accuracy(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean per-class recall over the classes present."""
    recalls = [(pred[truth == c] == c).float().mean().item() for c in truth.unique().tolist()]
    return float(np.mean(recalls))


def paired_difference_ci(baseline: Sequence[bool], variant: Sequence[bool], z: float = 1.959964) -> Dict:
    """Difference of two paired proportions (variant − baseline), each sample judged correct or not
    on the same class and seed, with the normal-approximation (Wald) interval of a paired difference:
    d = (b − c) / n and se = sqrt(b + c − (b − c)² / n) / n, where b counts samples only the variant
    gets right and c those only the baseline gets right (the McNemar discordant pairs). In points."""
    a = np.asarray(baseline, dtype=bool)
    v = np.asarray(variant, dtype=bool)
    if a.shape != v.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("paired samples must be two non-empty sequences of the same length")
    n = int(a.size)
    gained = int(np.sum(v & ~a))
    lost = int(np.sum(a & ~v))
    diff = (gained - lost) / n
    se = float(np.sqrt(max(gained + lost - (gained - lost) ** 2 / n, 0.0))) / n
    return {"samples": n, "onlyVariantCorrect": gained, "onlyBaselineCorrect": lost,
            "differencePoints": round(100 * diff, 2),
            "ci95Points": [round(100 * (diff - z * se), 2), round(100 * (diff + z * se), 2)],
            "method": "normal approximation of the paired difference of proportions (Wald, McNemar pairs)"}


def pack_bits(bits: Sequence[bool]) -> str:
    """Per-sample outcomes as hex, first sample in the high bit of the first byte."""
    return np.packbits(np.asarray(bits, dtype=bool)).tobytes().hex()


def unpack_bits(text: str, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))[:n].astype(bool)


# ---------------------------------------------------------------------------------------------
# Images through the engine


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB between uint8-valued tensors [N, C, H, W]."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-10))


def save_png(pixels: torch.Tensor, path: str) -> None:
    Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(path)


def load_pngs(paths: Sequence[str]) -> torch.Tensor:
    """uint8 [N, 3, H, W]."""
    return torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                        for p in paths])


def read_json(path: str) -> Dict:
    with open(path) as f:
        return json.load(f)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(127.5).sub(1.0)


def run_engine(spec: Dict, work: str) -> List[Dict]:
    path = os.path.join(work, "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    script = os.path.join(ROOT, "scripts", "engine-eval.mjs")
    out = subprocess.run(["node", script, path], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"engine-eval.mjs failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    with open(os.path.join(work, "records.jsonl"), "w") as f:  # for --score-dir
        f.write(out.stdout)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def pick_per_class(data: EmojiData, idx: np.ndarray, per_class: int) -> np.ndarray:
    classes = data.classes.numpy()[idx]
    return np.concatenate([idx[classes == c][:per_class] for c in range(len(data.class_names))])


def cross_set_pairs(data: EmojiData, idx: np.ndarray, count: int, seed: int) -> List[tuple]:
    """(content, style) index pairs whose images come from different sets, alternating direction."""
    rng = np.random.Generator(np.random.PCG64(seed))
    by_set = [idx[data.sets.numpy()[idx] == s] for s in range(len(data.set_names))]
    pairs = []
    for i in range(count):
        content_set = i % 2
        content = rng.choice(by_set[content_set])
        style = rng.choice(by_set[1 - content_set])
        pairs.append((int(content), int(style)))
    return pairs


def sampling_overrides(args: argparse.Namespace, manifest: Dict) -> Dict:
    sampling = dict(manifest["sampling"])
    for key, value in (("cfgScale", args.cfg), ("temperature", args.temperature), ("topK", args.top_k),
                       ("topP", args.top_p)):
        if value is not None:
            sampling[key] = value
    return sampling


# ---------------------------------------------------------------------------------------------


def evaluate(args: argparse.Namespace) -> Dict:
    data = EmojiData(args.data, args.limit)
    manifest = read_json(os.path.join(args.model, "model.json"))
    if [c["name"] for c in manifest["classes"]] != data.class_names:
        raise SystemExit(f"{args.model} was not trained on {args.data}: class names differ")
    sampling = sampling_overrides(args, manifest)
    held = data.held
    work = os.path.abspath(args.score_dir) if args.score_dir else tempfile.mkdtemp(prefix="hita-eval-")
    originals = {}
    for i in held:
        originals[int(i)] = os.path.join(work, f"real-{i}.png")
        if not args.score_dir:
            save_png(data.uint8[i], originals[int(i)])

    size = data.uint8.shape[-1]
    mask_path = os.path.join(work, "lower-half.png")
    mask = np.zeros((size, size), np.uint8)
    mask[size // 2:] = 255
    Image.fromarray(mask).save(mask_path)
    inpaint_idx = pick_per_class(data, held, args.per_class)
    pairs = cross_set_pairs(data, held, args.pairs, args.seed)

    precision = args.precision or "fp32"
    spec = {"model": os.path.abspath(args.model), "precision": precision, "decoding": args.decoding,
            "reconstruct": [], "requests": []}
    for i in held:
        spec["reconstruct"].append({"image": originals[int(i)], "out": os.path.join(work, f"rec-{i}.png")})
    generated, generated_labels = [], []
    for c in range(len(data.class_names)):
        seeds = [args.seed + 1000 * c + k for k in range(args.samples_per_class)]
        out = [os.path.join(work, f"gen-{c}-{s}.png") for s in seeds]
        for start in range(0, len(seeds), MAX_IMAGES_PER_REQUEST):  # image k of a request: seed + k
            chunk = out[start:start + MAX_IMAGES_PER_REQUEST]
            spec["requests"].append({"out": chunk, "request": {
                "kind": "generate", "classId": c, "count": len(chunk), "seed": seeds[start], "sampling": sampling}})
        generated += out
        generated_labels += [c] * len(out)
    inpainted = []
    for k, i in enumerate(inpaint_idx):
        out = [os.path.join(work, f"inpaint-{i}.png")]
        spec["requests"].append({"out": out, "request": {
            "kind": "inpaint", "image": originals[int(i)], "mask": mask_path, "keepHolistic": True,
            "composite": False, "count": 1, "seed": args.seed + k, "sampling": sampling}})
        inpainted += out
    swapped = []
    for k, (content, style) in enumerate(pairs):
        out = [os.path.join(work, f"swap-{content}-{style}.png")]
        spec["requests"].append({"out": out, "request": {
            "kind": "style", "mode": "swap", "content": originals[content], "style": originals[style],
            "count": 1, "seed": args.seed + k, "sampling": sampling}})
        swapped += out
    if args.score_dir:
        # Score the images an earlier run left in its work directory, made by this very spec.
        # Specs written before decodings existed have no `decoding` and ran AR.
        if {"decoding": "ar", **read_json(os.path.join(work, "spec.json"))} != spec:
            raise SystemExit(f"{work}/spec.json is not this evaluation's spec (other settings or precision)")
        records_path = os.path.join(work, "records.jsonl")
        records = ([json.loads(line) for line in open(records_path) if line.strip()]
                   if os.path.exists(records_path) else [{"precision": precision, "decoding": args.decoding}])
    else:
        records = run_engine(spec, work)
    opened = next(r for r in records if "precision" in r)
    if opened["precision"] != precision:
        raise SystemExit(f"the engine ran {opened['precision']}, not {precision}")
    if opened.get("decoding", "ar") != args.decoding:
        raise SystemExit(f"the engine decoded {opened.get('decoding', 'ar')}, not {args.decoding}")
    codes = [r for r in records if "holistic" in r]

    real = data.uint8[held]
    rec = load_pngs([s["out"] for s in spec["reconstruct"]])
    results: Dict = {"precision": precision, "decoding": args.decoding, "heldOutImages": int(len(held)),
                     "sampling": sampling}
    v = manifest["tokenizer"]["codebookSize"]
    holistic_used = len({t for r in codes for t in r["holistic"]})
    patch_used = len({t for r in codes for t in r["patch"]})
    results["reconstruction"] = {
        "psnr": round(psnr(rec, real).mean().item(), 2),
        "holisticCodesUsed": holistic_used if codes else None, "patchCodesUsed": patch_used if codes else None,
        "codebookSize": v,
    }

    train_images = to_unit(data.uint8[data.train])
    class_judge = cached_judge(args, "class", train_images, data.classes[data.train], len(data.class_names),
                               args.seed)
    set_judge = None if args.no_set_judge else cached_judge(
        args, "set", train_images, data.sets[data.train], len(data.set_names), args.seed + 1)

    real_pred = class_judge.predict(to_unit(real))
    real_acc = balanced_accuracy(real_pred, data.classes[held])
    gen_labels = torch.tensor(generated_labels)
    gen_pred = class_judge.predict(to_unit(load_pngs(generated)))
    gen_acc = balanced_accuracy(gen_pred, gen_labels)
    per_class = {data.class_names[c]: round((gen_pred[gen_labels == c] == c).float().mean().item(), 3)
                 for c in range(len(data.class_names))}
    results["classConsistency"] = {
        "samples": len(generated), "realHeldOutAccuracy": round(real_acc, 3),
        "generatedAccuracy": round(gen_acc, 3), "ratioToReal": round(gen_acc / max(real_acc, 1e-9), 3),
        "generatedPerClass": per_class, "judge": "balanced accuracy of a CNN trained on the training split",
        "judgeSteps": args.classifier_steps,
        "seeds": f"class c, sample k: seed {args.seed} + 1000 c + k",
        "samplesPerClass": args.samples_per_class,
        "correctHex": pack_bits((gen_pred == gen_labels).tolist()),
    }

    content_sets = data.sets[[c for c, _ in pairs]]
    style_sets = data.sets[[s for _, s in pairs]]
    swapped_images = to_unit(load_pngs(swapped))
    content_classes = data.classes[[c for c, _ in pairs]]
    results["styleTransfer"] = {
        "pairs": len(pairs), "mode": "swap",
        "contentClassKept": round((class_judge.predict(swapped_images) == content_classes)
                                  .float().mean().item(), 3),
    }
    if set_judge is None:
        results["styleTransfer"]["setJudge"] = "not run (--no-set-judge): set figures not measured"
    else:
        swap_pred = set_judge.predict(swapped_images)
        real_set_acc = (set_judge.predict(to_unit(real)) == data.sets[held]).float().mean().item()
        results["styleTransfer"].update({
            "realHeldOutSetAccuracy": round(real_set_acc, 3),
            "labelledStyleSet": round((swap_pred == style_sets).float().mean().item(), 3),
            "labelledContentSet": round((swap_pred == content_sets).float().mean().item(), 3),
        })

    original = data.uint8[inpaint_idx]
    rec_by_index = {int(i): k for k, i in enumerate(held)}
    original_rec = rec[[rec_by_index[int(i)] for i in inpaint_idx]]
    filled = load_pngs(inpainted)
    truth = data.classes[inpaint_idx]
    filled_pred = class_judge.predict(to_unit(filled))
    original_pred = class_judge.predict(to_unit(original))
    top = slice(0, size // 2)
    results["inpainting"] = {
        "images": len(inpaint_idx), "mask": "lower half", "classId": "none (unconditional)",
        "agreesWithOriginalPrediction": round((filled_pred == original_pred).float().mean().item(), 3),
        "filledAccuracy": round((filled_pred == truth).float().mean().item(), 3),
        "originalAccuracy": round((original_pred == truth).float().mean().item(), 3),
        "upperHalfPsnr": round(psnr(filled[:, :, top], original[:, :, top]).mean().item(), 2),
        "upperHalfPsnrOfReconstruction": round(psnr(original_rec[:, :, top], original[:, :, top]).mean().item(), 2),
        "upperHalfMeanAbsChange": round((filled[:, :, top].float() - original_rec[:, :, top].float())
                                        .abs().mean().item(), 2),
        "composite": "off here; with composite on (the API default) the upper half is the input's pixels",
    }
    return results


def print_report(r: Dict) -> None:
    rec, cls, sty, inp = r["reconstruction"], r["classConsistency"], r["styleTransfer"], r["inpainting"]
    print(f"reconstruction   PSNR {rec['psnr']} dB on {r['heldOutImages']} held-out images "
          f"(target ≥ 24); codes used: holistic {rec['holisticCodesUsed']}/{rec['codebookSize']}, "
          f"patch {rec['patchCodesUsed']}/{rec['codebookSize']}")
    print(f"classes          generated {cls['generatedAccuracy']:.1%} over {cls['samples']} samples, real held-out "
          f"{cls['realHeldOutAccuracy']:.1%}, ratio {cls['ratioToReal']} (targets ≥ 60 %, ≥ 0.7)")
    for name, acc in cls["generatedPerClass"].items():
        print(f"                   {name:<20} {acc:.1%}")
    if "labelledStyleSet" in sty:
        print(f"style transfer   {sty['pairs']} swap pairs: labelled as the style's set {sty['labelledStyleSet']:.1%}, "
              f"as the content's set {sty['labelledContentSet']:.1%} (set judge on real: "
              f"{sty['realHeldOutSetAccuracy']:.1%}); content class kept {sty['contentClassKept']:.1%}")
    else:
        print(f"style transfer   {sty['pairs']} swap pairs: content class kept {sty['contentClassKept']:.1%} "
              "(set judge not run)")
    print(f"in-painting      {inp['images']} images, lower half: class agrees with the original's "
          f"{inp['agreesWithOriginalPrediction']:.1%} (filled correct {inp['filledAccuracy']:.1%}, original "
          f"{inp['originalAccuracy']:.1%}); upper half PSNR {inp['upperHalfPsnr']} dB vs "
          f"{inp['upperHalfPsnrOfReconstruction']} dB for plain reconstruction")


def compare_with_baseline(results: Dict, baseline: Dict) -> Dict:
    """The paired difference in class consistency against the fp32 AR figures of the same settings.
    Pairs are (class c, seed index k): the same image for a precision variant only up to its
    rounding, another draw of the class for another decoding (another seed stream); both are
    paired draws of one class, so the paired CI applies to either."""
    cls, base = results["classConsistency"], baseline["classConsistency"]
    if cls.get("judgeSteps") != base.get("judgeSteps"):
        raise SystemExit("fp32/ar baseline was judged by another judge (judgeSteps): rerun fp32 first")
    if cls["seeds"] != base["seeds"] or results["sampling"] != baseline["sampling"]:
        raise SystemExit("fp32/ar baseline used other seeds or sampling settings: rerun fp32 first")
    per, base_per = cls["samplesPerClass"], base["samplesPerClass"]
    classes = base["samples"] // base_per
    if cls["samples"] != classes * per:
        raise SystemExit("fp32/ar baseline has another number of classes: rerun fp32 first")
    # Class-major order, seed + 1000 c + k: when the two runs have different samples per class,
    # the pairs are the first min(per, base_per) seeds of each class.
    k = min(per, base_per)
    base_bits = unpack_bits(base["correctHex"], base["samples"]).reshape(classes, base_per)[:, :k].reshape(-1)
    bits = unpack_bits(cls["correctHex"], cls["samples"]).reshape(classes, per)[:, :k].reshape(-1)
    paired = paired_difference_ci(base_bits, bits)
    above = bool(paired["ci95Points"][0] > DEFAULT_MARGIN_POINTS)
    return {**paired, "baseline": BASELINE, "lowerBoundAboveMargin": above,
            "eligibleAsDefault": above and paired["samples"] >= MIN_PAIRED_SAMPLES,
            "rule": f"a default only if, over at least {MIN_PAIRED_SAMPLES} paired samples, the 95 % CI's "
                    f"lower bound lies above {DEFAULT_MARGIN_POINTS:g} points"}


def stored_variants(path: str) -> Dict:
    return read_json(path).get("provenance", {}).get("evaluation", {}).get("variants", {})


def pair_stored_variants(path: str) -> int:
    """Recompute pairedWithFp32 of every stored variant from the stored per-sample outcomes."""
    manifest = read_json(path)
    variants = manifest.get("provenance", {}).get("evaluation", {}).get("variants", {})
    baseline = variants.get(BASELINE)
    if baseline is None:
        raise SystemExit(f"no provenance.evaluation.variants['{BASELINE}'] in {path}")
    for key, record in variants.items():
        if key != BASELINE:
            record["pairedWithFp32"] = compare_with_baseline(record, baseline)
            p = record["pairedWithFp32"]
            print(f"{key:<16} {p['differencePoints']:+.2f} points, 95 % CI {p['ci95Points']} over "
                  f"{p['samples']} samples; eligible as default: {p['eligibleAsDefault']}")
    write_json(path, manifest)
    return 0


def write_json(path: str, manifest: Dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_threads()
    path = os.path.join(args.model, "model.json")
    # A decoding other than AR is always a variant, of fp32 when no precision is named.
    variant = args.precision is not None or args.decoding != "ar"
    key = f"{args.precision or 'fp32'}/{args.decoding}"
    if args.pair_only:
        return pair_stored_variants(path)
    started = time.monotonic()
    results = evaluate(args)
    if args.score_dir:
        results["scoredFrom"] = "the images of an earlier engine run of the same spec (--score-dir)"
    else:
        results["seconds"] = round(time.monotonic() - started, 1)
    if key == BASELINE:
        n = results["classConsistency"]["samples"]
        results["pairedWithFp32"] = {"samples": n, "differencePoints": 0.0, "ci95Points": [0.0, 0.0],
                                     "baseline": "itself", "eligibleAsDefault": True}
    elif variant:
        # read at the end, so a variant may run while its fp32 baseline is still being measured
        baseline = stored_variants(path).get(BASELINE)
        if baseline is not None:
            results["pairedWithFp32"] = compare_with_baseline(results, baseline)
        else:
            print(f"no variants['{BASELINE}'] in {path} yet: not paired (run fp32 with --write, "
                  "then --pair-only)", file=sys.stderr)
    print_report(results)
    if "pairedWithFp32" in results:
        p = results["pairedWithFp32"]
        print(f"paired vs fp32   {p['differencePoints']:+.2f} points, 95 % CI {p['ci95Points']} "
              f"over {p['samples']} samples; eligible as default: {p['eligibleAsDefault']}")
    print(json.dumps(results))
    if args.write:
        manifest = read_json(path)
        evaluation = manifest.setdefault("provenance", {}).setdefault("evaluation", {})
        if variant:
            evaluation.setdefault("variants", {})[key] = {**results, "by": "tools/evaluate.py"}
        else:
            variants = evaluation.get("variants")
            evaluation.clear()
            evaluation.update({**results, "by": "tools/evaluate.py"})
            if variants is not None:
                evaluation["variants"] = variants
        with open(path + ".tmp", "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
