#!/usr/bin/python3
"""Build the 32×32 emoji training set from the npm image packages (devDependencies).

  /usr/bin/python3 tools/build_emoji_data.py [--out tools/data/emoji32.npz]

Reads `node_modules/emoji-datasource-{google,twitter}/emoji.json` and their `img/<set>/64/` PNGs
(skin-tone variants included), composites RGBA over white, resizes to 32×32 and writes an .npz:
  images uint8 [K, 32, 32, 3]; classes int64 [K] (index into class_names: the emoji category,
  "Component" dropped); sets int64 [K] (0 google, 1 twitter: the "style" label); split uint8 [K]
  (0 train, 1 held out); unified str [K]; class_names, set_names str.
Only the Google (Noto, Apache-2.0) and Twitter (Twemoji, CC-BY-4.0) sets are read: Apple's and
Facebook's images are not freely licensed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from typing import Dict, Iterator, List, Tuple

import numpy as np
from PIL import Image

SETS = ("google", "twitter")  # index = set id; never add apple / facebook
DROPPED_CATEGORIES = {"Component"}  # bare skin-tone swatches and hair parts, not emoji
HOLDOUT_PERCENT = 10
SIZE = 32
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node-modules", default=os.path.join(ROOT, "node_modules"))
    parser.add_argument("--out", default=os.path.join(ROOT, "tools", "data", "emoji32.npz"))
    parser.add_argument("--size", type=int, default=SIZE)
    return parser.parse_args(argv)


def is_held_out(unified: str) -> bool:
    """Fixed split from the code point string, so it never depends on file order or package version."""
    digest = hashlib.sha1(unified.encode("ascii")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


def entries(emoji: List[Dict], set_name: str) -> Iterator[Tuple[str, str, str, str]]:
    """(unified, split key, category, image file) for every image of `set_name`, variants included.

    Skin-tone variants use their base emoji's code points as the split key: they are near-duplicates
    of it, and letting them straddle the split would leak held-out images into training.
    """
    flag = f"has_img_{set_name}"
    for item in emoji:
        if item["category"] in DROPPED_CATEGORIES:
            continue
        base = item["unified"]
        if item.get(flag):
            yield base, base, item["category"], item["image"]
        for variant in (item.get("skin_variations") or {}).values():
            if variant.get(flag):
                yield variant["unified"], base, item["category"], variant["image"]


def load_image(path: str, size: int) -> np.ndarray:
    """RGBA over white, then a LANCZOS downsample (64 → 32 is an exact 2× reduction)."""
    with Image.open(path) as img:
        rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    return np.asarray(rgb.resize((size, size), Image.LANCZOS), dtype=np.uint8)


def build(node_modules: str, size: int) -> Dict[str, np.ndarray]:
    rows = []  # (unified, split key, category, set id, path)
    for set_id, set_name in enumerate(SETS):
        package = os.path.join(node_modules, f"emoji-datasource-{set_name}")
        with open(os.path.join(package, "emoji.json"), encoding="utf-8") as f:
            emoji = json.load(f)
        for unified, key, category, image in entries(emoji, set_name):
            path = os.path.join(package, "img", set_name, "64", image)
            if os.path.exists(path):  # the flags are trusted, but a missing file must not abort
                rows.append((unified, key, category, set_id, path))
    class_names = sorted({row[2] for row in rows})
    class_index = {name: i for i, name in enumerate(class_names)}
    images = np.stack([load_image(row[4], size) for row in rows])
    return {
        "images": images,
        "classes": np.array([class_index[row[2]] for row in rows], dtype=np.int64),
        "sets": np.array([row[3] for row in rows], dtype=np.int64),
        "split": np.array([1 if is_held_out(row[1]) else 0 for row in rows], dtype=np.uint8),
        "unified": np.array([row[0] for row in rows]),
        "class_names": np.array(class_names),
        "set_names": np.array(SETS),
    }


def print_counts(data: Dict[str, np.ndarray]) -> None:
    names, sets, split = data["class_names"], data["set_names"], data["split"]
    print(f"{len(data['images'])} images, {len(names)} classes, "
          f"{int((split == 0).sum())} train / {int((split == 1).sum())} held out")
    by_class = Counter(zip(data["classes"].tolist(), data["sets"].tolist(), split.tolist()))
    header = "".join(f"{s + '/' + part:>16}" for s in sets for part in ("train", "held"))
    print(f"{'class':<20}{header}")
    for c, name in enumerate(names):
        cells = "".join(f"{by_class[(c, s, p)]:>16}" for s in range(len(sets)) for p in (0, 1))
        print(f"{name:<20}{cells}")
    for s, name in enumerate(sets):
        print(f"set {name}: {int((data['sets'] == s).sum())}")


def main(argv=None) -> int:
    args = parse_args(argv)
    data = build(args.node_modules, args.size)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **data)
    print_counts(data)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
