"""The emoji training set written by tools/build_emoji_data.py, in memory."""
from __future__ import annotations

import numpy as np
import torch


class EmojiData:
    """The .npz as tensors: images in [-1, 1] float NCHW and uint8 NCHW, category and set labels,
    and the fixed train (split 0) / held-out (split 1) indices."""

    def __init__(self, path: str, limit: int = 0):
        raw = np.load(path)
        self.uint8 = torch.from_numpy(raw["images"]).permute(0, 3, 1, 2).contiguous()
        self.images = self.uint8.float().div(127.5).sub(1.0)
        self.classes = torch.from_numpy(raw["classes"])
        self.sets = torch.from_numpy(raw["sets"])
        self.split = raw["split"]
        self.class_names = [str(n) for n in raw["class_names"]]
        self.set_names = [str(n) for n in raw["set_names"]]
        self.train = np.flatnonzero(self.split == 0)
        self.held = np.flatnonzero(self.split == 1)
        if limit:  # evenly spaced, so a small subset still spans every set and category
            self.train, self.held = (np.sort(idx[np.linspace(0, len(idx) - 1, min(limit, len(idx))).astype(int)])
                                     for idx in (self.train, self.held))

    def weights(self, idx: np.ndarray, power: float) -> np.ndarray:
        """Class-balanced sampling: People & Body (57 %, mostly skin tones) must not dominate."""
        labels = self.classes.numpy()[idx]
        counts = np.bincount(labels, minlength=len(self.class_names)).astype(np.float64)
        w = counts[labels] ** -power
        return w / w.sum()
