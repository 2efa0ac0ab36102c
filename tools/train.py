#!/usr/bin/python3
"""Train a tiny Hita (tokenizer, then GPT) on the emoji set from tools/build_emoji_data.py.

  /usr/bin/python3 tools/train.py --name emoji --stage all \
      --backbone-minutes 3 --tokenizer-minutes 42 --gpt-minutes 33
  /usr/bin/python3 tools/train.py --name emoji --stage all --resume   # after an interruption

Stages, each writing into --run-dir (default tools/runs/<name>):
  backbone   the frozen semantic ViT, pretrained as a category classifier → backbone.pt
  tokenizer  CNN/holistic tokenizer with EMA and dead-code restarts → tokenizer.pt (EMA weights)
  gpt        class-conditional GPT on pre-extracted codes (both flips) → final.pt (EMA weights)
Only the training split is trained on; the held-out split gives PSNR and validation CE.
Every stage saves <stage>_last.pt every --save-every steps (model, EMA, optimizer, step, elapsed
time, RNG states); --resume continues from it and skips finished stages. Budgets are wall-clock
minutes (time spent before an interruption counts), optionally capped by step counts.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from hita.checkpoint import load_checkpoint, save_checkpoint
from hita.emoji_data import EmojiData as Data
from hita.gpt import HitaGPT, gpt_config
from hita.runtime import configure_threads
from hita.tokenizer import HitaTokenizer, tokenizer_config

TOOLS = os.path.dirname(os.path.abspath(__file__))
STAGES = ("backbone", "tokenizer", "gpt")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="emoji")
    p.add_argument("--run-dir", help="default: tools/runs/<name>")
    p.add_argument("--data", default=os.path.join(TOOLS, "data", "emoji32.npz"))
    p.add_argument("--stage", choices=STAGES + ("all",), default="all")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoints")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--balance-power", type=float, default=0.75,
                   help="per-image sampling weight ∝ class count^-power (1 = uniform over classes)")
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--backbone-minutes", type=float, default=3.0)
    p.add_argument("--backbone-steps", type=int, default=0, help="0 = no step cap")
    p.add_argument("--tokenizer-minutes", type=float, default=42.0)
    p.add_argument("--tokenizer-steps", type=int, default=0)
    p.add_argument("--tokenizer-lr", type=float, default=3e-4)
    p.add_argument("--restart-every", type=int, default=50, help="dead-code restart period (steps)")
    p.add_argument("--gpt-minutes", type=float, default=33.0)
    p.add_argument("--gpt-steps", type=int, default=0)
    p.add_argument("--gpt-lr", type=float, default=3e-4)
    p.add_argument("--limit", type=int, default=0, help="smoke tests: use N evenly spaced images of each split")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# Data and bookkeeping shared by the stages


class Sampler:
    """Seeded, resumable batch order: weighted sampling with replacement plus random flips."""

    def __init__(self, size: int, weights: np.ndarray, seed: int):
        self.size, self.weights = size, weights
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def batch(self, n: int):
        idx = self.rng.choice(self.size, size=n, p=self.weights)
        return torch.from_numpy(idx), torch.from_numpy(self.rng.random(n) < 0.5)


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


class EMA:
    """Exponential moving average of parameters (buffers copied); warm-up so early steps count."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model, self.decay = copy.deepcopy(model).eval(), decay
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        ema_p = list(self.model.parameters())
        torch._foreach_mul_(ema_p, d)
        torch._foreach_add_(ema_p, [p.detach() for p in model.parameters()], alpha=1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


def lr_at(base: float, step: int, progress: float, warmup: int) -> float:
    """Linear warm-up, then cosine from base to base/10 over the (time or step) progress."""
    return base * min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


class Budget:
    """Wall-clock minutes (carried over on resume) and an optional step cap; progress in [0, 1]."""

    def __init__(self, minutes: float, max_steps: int, elapsed: float = 0.0):
        self.seconds, self.max_steps = minutes * 60.0, max_steps
        self.start = time.time() - elapsed

    def elapsed(self) -> float:
        return time.time() - self.start

    def progress(self, step: int) -> float:
        by_steps = step / self.max_steps if self.max_steps else 0.0
        return max(by_steps, self.elapsed() / self.seconds)


def rng_state(sampler: Sampler) -> Dict:
    return {"torch": torch.get_rng_state(), "numpy": sampler.rng.bit_generator.state,
            "python": random.getstate()}


def set_rng_state(state: Dict, sampler: Sampler) -> None:
    torch.set_rng_state(state["torch"])
    sampler.rng.bit_generator.state = state["numpy"]
    random.setstate(state["python"])


def save_atomic(obj, path: str) -> None:
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)  # an interruption mid-write never leaves a torn checkpoint


class Logger:
    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, "log.jsonl")

    def write(self, **record) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def train_loop(args, stage: str, model, ema: Optional[EMA], opt, sampler: Sampler, budget: Budget,
               step_fn, lr: float, warmup: int, log: Logger, hooks=None, start_step: int = 0,
               extra_state=None) -> int:
    """The shared loop: schedule, step, EMA, periodic saves/logs; returns the last step."""
    step = start_step
    bar = tqdm(desc=stage, initial=step, total=budget.max_steps or None, dynamic_ncols=True,
               mininterval=5.0)
    window_start, window_items = time.time(), 0
    while budget.progress(step) < 1.0:
        for group in opt.param_groups:
            group["lr"] = lr_at(lr, step, budget.progress(step), warmup)
        stats, items = step_fn(sampler)
        step += 1
        window_items += items
        if ema is not None:
            ema.update(model, step)
        if hooks:
            stats.update(hooks(step, budget.progress(step)) or {})
        if step % 25 == 0 or budget.progress(step) >= 1.0:
            rate = window_items / max(time.time() - window_start, 1e-6)
            window_start, window_items = time.time(), 0
            log.write(stage=stage, step=step, lr=opt.param_groups[0]["lr"], rate=round(rate, 1),
                      minutes=round(budget.elapsed() / 60, 2), **stats)
            bar.set_postfix({k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()
                             if k in ("loss", "acc", "rec", "psnr", "ce", "slot_used", "patch_used")})
        if step % args.save_every == 0:
            save_atomic({"step": step, "elapsed": budget.elapsed(), "model": model.state_dict(),
                         "ema": None if ema is None else ema.model.state_dict(),
                         "opt": opt.state_dict(), "rng": rng_state(sampler),
                         "extra": extra_state() if extra_state else None},
                        os.path.join(args.run_dir, f"{stage}_last.pt"))
        bar.update(1)
    bar.close()
    return step


def load_last(args, stage: str, model, ema, opt, sampler, minutes: float, max_steps: int):
    """Restore <stage>_last.pt under --resume; returns (start step, budget, extra state)."""
    path = os.path.join(args.run_dir, f"{stage}_last.pt")
    if not (args.resume and os.path.exists(path)):
        return 0, Budget(minutes, max_steps), None
    state = torch.load(path, map_location="cpu")
    model.load_state_dict(state["model"])
    if ema is not None:
        ema.model.load_state_dict(state["ema"])
    opt.load_state_dict(state["opt"])
    set_rng_state(state["rng"], sampler)
    print(f"{stage}: resumed at step {state['step']} ({state['elapsed'] / 60:.1f} min)", flush=True)
    return state["step"], Budget(minutes, max_steps, state["elapsed"]), state["extra"]


# ---------------------------------------------------------------------------------------------
# Stage 1: the semantic backbone as a category classifier


def train_backbone(args, data: Data, log: Logger) -> None:
    """Pretrain the ViT so the holistic queries see semantic features rather than random ones."""
    seed_all(args.seed)
    tokenizer = HitaTokenizer(tokenizer_config("tiny"))
    backbone = tokenizer.encode_transformer.backbone.requires_grad_(True).train()
    head = torch.nn.Linear(tokenizer.cfg.backbone.embed_dim, len(data.class_names))
    model = torch.nn.ModuleDict({"backbone": backbone, "head": head})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
    train = data.train
    sampler = Sampler(len(train), data.weights(train, args.balance_power), args.seed + 1)
    step, budget, _ = load_last(args, "backbone", model, None, opt, sampler, args.backbone_minutes,
                                args.backbone_steps)

    def step_fn(s: Sampler):
        idx, flips = s.batch(args.batch)
        x, y = flip(data.images[train[idx]], flips), data.classes[train[idx]]
        logits = head(backbone(x)[:, 0])  # the final-norm cls token
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "acc": (logits.argmax(-1) == y).float().mean().item()}, len(idx)

    train_loop(args, "backbone", model, None, opt, sampler, budget, step_fn, 1e-3, 50, log, start_step=step)
    backbone.eval()
    with torch.no_grad():
        held = torch.from_numpy(data.held)
        acc = (head(backbone(data.images[held])[:, 0]).argmax(-1) == data.classes[held]).float().mean()
    log.write(stage="backbone", final=True, held_acc=round(acc.item(), 4))
    print(f"backbone: held-out category accuracy {acc.item():.3f}", flush=True)
    torch.save({"state": backbone.state_dict(), "held_acc": acc.item(), "minutes": budget.elapsed() / 60},
               os.path.join(args.run_dir, "backbone.pt"))


# ---------------------------------------------------------------------------------------------
# Stage 2: the tokenizer


@torch.no_grad()
def held_out_psnr(tokenizer: HitaTokenizer, data: Data) -> Dict[str, float]:
    """PSNR of uint8 32×32 reconstructions (SPEC §1.2 post-processing), averaged per image."""
    tokenizer.eval()
    idx = torch.from_numpy(data.held)
    psnrs, holistic, patch = [], set(), set()
    for chunk in idx.split(256):
        h_ids, p_ids = tokenizer.encode(data.images[chunk])
        holistic.update(h_ids.flatten().tolist())
        patch.update(p_ids.flatten().tolist())
        rec = (tokenizer.decode(h_ids, p_ids) * 127.5 + 128).clamp(0, 255).floor()
        mse = (rec - data.uint8[chunk].float()).pow(2).flatten(1).mean(1)
        psnrs.append(10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-10)))
    return {"psnr": torch.cat(psnrs).mean().item(), "held_slot_used": len(holistic),
            "held_patch_used": len(patch)}


@torch.no_grad()
def restart_dead_codes(quantizer, usage: torch.Tensor, vectors: torch.Tensor, ema: EMA, name: str,
                       opt) -> int:
    """Re-seed codes unused since the last restart with random current encoder outputs.

    Without this the holistic codebook collapses (119/1024 codes in an earlier run). The new rows
    go into the EMA copy too (an EMA would take thousands of steps to follow), and their Adam
    moments are cleared so stale momentum does not drag them straight back.
    """
    dead = (usage == 0).nonzero().flatten()
    if len(dead) == 0:
        return 0
    pool = F.normalize(vectors.reshape(-1, vectors.shape[-1]), dim=-1)
    pick = pool[torch.randint(len(pool), (len(dead),))]
    new = F.normalize(pick + 0.01 * torch.randn_like(pick), dim=-1)
    weight = quantizer.embedding.weight
    weight[dead] = new
    dict(ema.model.named_parameters())[f"{name}.embedding.weight"][dead] = new
    for key in ("exp_avg", "exp_avg_sq"):
        if key in opt.state.get(weight, {}):
            opt.state[weight][key][dead] = 0
    return len(dead)


def train_tokenizer(args, data: Data, log: Logger) -> None:
    seed_all(args.seed)
    tokenizer = HitaTokenizer(tokenizer_config("tiny"))
    backbone = torch.load(os.path.join(args.run_dir, "backbone.pt"), map_location="cpu")
    tokenizer.encode_transformer.backbone.load_state_dict(backbone["state"])
    tokenizer.encode_transformer.backbone.requires_grad_(False)
    ema = EMA(tokenizer, 0.999)
    params = [p for p in tokenizer.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.tokenizer_lr, betas=(0.9, 0.95))
    train = data.train
    sampler = Sampler(len(train), data.weights(train, args.balance_power), args.seed + 2)
    v = tokenizer.cfg.codebook_size
    usage = {"slot_quantize": torch.zeros(v), "quantize": torch.zeros(v)}
    step, budget, extra = load_last(args, "tokenizer", tokenizer, ema, opt, sampler,
                                    args.tokenizer_minutes, args.tokenizer_steps)
    if extra:
        usage = extra["usage"]
    last = {"vectors": None}
    tokenizer.train()
    tokenizer.encode_transformer.backbone.eval()

    def step_fn(s: Sampler):
        idx, flips = s.batch(args.batch)
        x = flip(data.images[train[idx]], flips)
        slot_vec, patch_vec = tokenizer.pre_quant(x)
        slot_q, slot_ids, slot_l = tokenizer.slot_quantize(slot_vec)
        patch_q, patch_ids, patch_l = tokenizer.quantize(patch_vec)
        rec = tokenizer.decode_vectors(slot_q, patch_q)
        rec_loss = 2 * F.mse_loss(rec, x) + F.l1_loss(rec, x)
        q_loss = slot_l["vq"] + slot_l["commit"] + patch_l["vq"] + patch_l["commit"]
        loss = rec_loss + q_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        usage["slot_quantize"] += torch.bincount(slot_ids.flatten(), minlength=v)
        usage["quantize"] += torch.bincount(patch_ids.flatten(), minlength=v)
        last["vectors"] = {"slot_quantize": slot_vec.detach(), "quantize": patch_vec.detach()}
        return {"loss": loss.item(), "rec": rec_loss.item(), "slot_vq": slot_l["vq"].item(),
                "patch_vq": patch_l["vq"].item()}, len(idx)

    def hooks(step: int, progress: float):
        stats = {}
        if step % args.restart_every == 0:
            stats["slot_used"] = int((usage["slot_quantize"] > 0).sum())
            stats["patch_used"] = int((usage["quantize"] > 0).sum())
            if progress < 0.85:  # stop restarting near the end so the EMA settles on stable codes
                for name in usage:
                    stats[f"{name}_restarted"] = restart_dead_codes(
                        getattr(tokenizer, name), usage[name], last["vectors"][name], ema, name, opt)
            for name in usage:
                usage[name].zero_()
        if step % args.eval_every == 0:
            stats.update(held_out_psnr(ema.model, data))
            tokenizer.train()
            tokenizer.encode_transformer.backbone.eval()
        return stats

    step = train_loop(args, "tokenizer", tokenizer, ema, opt, sampler, budget, step_fn, args.tokenizer_lr,
                      100, log, hooks=hooks, start_step=step, extra_state=lambda: {"usage": usage})
    result = held_out_psnr(ema.model, data)
    result.update(steps=step, minutes=round(budget.elapsed() / 60, 2), backbone_held_acc=backbone["held_acc"],
                  images_seen=step * args.batch)
    log.write(stage="tokenizer", final=True, **result)
    print(f"tokenizer: {json.dumps(result)}", flush=True)
    save_checkpoint(os.path.join(args.run_dir, "tokenizer.pt"), ema.model, None, data.class_names,
                    extra={"tokenizer": result})


# ---------------------------------------------------------------------------------------------
# Stage 3: the GPT


@torch.no_grad()
def extract_codes(tokenizer: HitaTokenizer, data: Data, idx: np.ndarray, flips: bool):
    """[holistic ; patch] ids per image (and per mirrored image when `flips`), with class labels."""
    tokenizer.eval()
    images, labels = data.images[idx], data.classes[idx]
    if flips:
        images, labels = torch.cat([images, images.flip(-1)]), torch.cat([labels, labels])
    codes = [torch.cat(tokenizer.encode(chunk), dim=1) for chunk in images.split(256)]
    return torch.cat(codes), labels


def gpt_loss(logits: torch.Tensor, tokens: torch.Tensor, m: int):
    """Official loss: mean CE of the holistic head (p < M) plus mean CE of the patch head."""
    ce_h = F.cross_entropy(logits[:, :m].flatten(0, 1), tokens[:, :m].flatten())
    ce_p = F.cross_entropy(logits[:, m:].flatten(0, 1), tokens[:, m:].flatten())
    return ce_h + ce_p, ce_h, ce_p


def decay_groups(model: torch.nn.Module, wd: float):
    """Weight decay on matrices and embeddings only (≥ 2-D), never on norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": wd},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def train_gpt(args, data: Data, log: Logger) -> None:
    seed_all(args.seed)
    tokenizer, _, _, tok_extra = load_checkpoint(os.path.join(args.run_dir, "tokenizer.pt"))
    codes_path = os.path.join(args.run_dir, "codes.pt")
    if not os.path.exists(codes_path):  # deterministic given the tokenizer, so cached across resumes
        start = time.time()
        train_codes, train_labels = extract_codes(tokenizer, data, data.train, flips=True)
        held_codes, held_labels = extract_codes(tokenizer, data, data.held, flips=False)
        save_atomic({"train": (train_codes, train_labels), "held": (held_codes, held_labels),
                     "seconds": time.time() - start}, codes_path)
    codes = torch.load(codes_path)
    (train_codes, train_labels), (held_codes, held_labels) = codes["train"], codes["held"]
    tcfg = tokenizer.cfg
    gpt = HitaGPT(gpt_config("tiny", num_classes=len(data.class_names), vocab_size=tcfg.codebook_size,
                             num_slots=tcfg.n_carrier, block_size=tcfg.n_patch)).train()
    ema = EMA(gpt, 0.9995)
    opt = torch.optim.AdamW(decay_groups(gpt, 0.05), lr=args.gpt_lr, betas=(0.9, 0.95))
    weights = data.weights(np.concatenate([data.train, data.train]), args.balance_power)
    sampler = Sampler(len(train_codes), weights, args.seed + 3)
    # Code extraction is part of the stage's wall-clock budget.
    minutes = args.gpt_minutes - codes["seconds"] / 60
    step, budget, _ = load_last(args, "gpt", gpt, ema, opt, sampler, minutes, args.gpt_steps)
    m = tcfg.n_carrier

    def step_fn(s: Sampler):
        idx, _ = s.batch(args.batch)  # flips are already in the extracted codes
        tokens = train_codes[idx]
        logits = gpt(tokens, gpt.drop_classes(train_labels[idx]))
        loss, ce_h, ce_p = gpt_loss(logits, tokens, m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gpt.parameters(), 1.0)
        opt.step()
        return {"loss": loss.item(), "ce_holistic": ce_h.item(), "ce_patch": ce_p.item()}, tokens.numel()

    @torch.no_grad()
    def validate() -> Dict[str, float]:
        _, ce_h, ce_p = gpt_loss(ema.model(held_codes, held_labels), held_codes, m)
        return {"held_ce_holistic": ce_h.item(), "held_ce_patch": ce_p.item()}

    def hooks(step: int, progress: float):
        return validate() if step % args.eval_every == 0 else None

    step = train_loop(args, "gpt", gpt, ema, opt, sampler, budget, step_fn, args.gpt_lr, 100, log,
                      hooks=hooks, start_step=step)
    result = {"steps": step, "minutes": round(budget.elapsed() / 60, 2), "sequences_seen": step * args.batch,
              "train_sequences": len(train_codes), **validate()}
    log.write(stage="gpt", final=True, **result)
    print(f"gpt: {json.dumps(result)}", flush=True)
    provenance = {
        "source": "tools/train.py", "dataset": "emoji-datasource-google@16.0.0 + emoji-datasource-twitter@16.0.0",
        "imageSize": tcfg.image_size, "trainImages": int(len(data.train)), "heldOutImages": int(len(data.held)),
        "classes": data.class_names, "seed": args.seed, "batch": args.batch,
        "backbone": {"heldOutAccuracy": tok_extra["tokenizer"]["backbone_held_acc"]},
        "tokenizer": tok_extra["tokenizer"], "gpt": result}
    save_checkpoint(os.path.join(args.run_dir, "final.pt"), tokenizer, ema.model, data.class_names,
                    extra={"provenance": provenance})


# ---------------------------------------------------------------------------------------------


def stage_done(args, stage: str) -> bool:
    output = {"backbone": "backbone.pt", "tokenizer": "tokenizer.pt", "gpt": "final.pt"}[stage]
    return os.path.exists(os.path.join(args.run_dir, output))


def main(args: argparse.Namespace) -> int:
    threads = configure_threads()
    args.run_dir = args.run_dir or os.path.join(TOOLS, "runs", args.name)
    os.makedirs(args.run_dir, exist_ok=True)
    data = Data(args.data, args.limit)
    log = Logger(args.run_dir)
    log.write(event="start", argv=sys.argv[1:], threads=threads, train=int(len(data.train)),
              held=int(len(data.held)), classes=data.class_names, time=time.strftime("%Y-%m-%dT%H:%M:%S"))
    stages = STAGES if args.stage == "all" else (args.stage,)
    runners = {"backbone": train_backbone, "tokenizer": train_tokenizer, "gpt": train_gpt}
    for stage in stages:
        if args.resume and stage_done(args, stage):
            print(f"{stage}: already done, skipping", flush=True)
            continue
        runners[stage](args, data, log)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
