import contextlib
import io
import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch

import evaluate as evaluate_cli
from tests.helpers import assert_servable
from tests.test_train import write_fake_emoji

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(ROOT, "models", "hita-tiny-emoji")


class MetricTest(unittest.TestCase):
    def test_psnr_of_a_one_level_error_is_48_13_db(self):
        a = torch.full((2, 3, 4, 4), 100, dtype=torch.uint8)
        b = a.clone()
        b[1] += 1
        result = evaluate_cli.psnr(b, a)
        self.assertGreater(result[0].item(), 90)  # identical images: capped, not infinite
        self.assertAlmostEqual(result[1].item(), 20 * np.log10(255), places=3)

    def test_balanced_accuracy_weighs_classes_equally(self):
        truth = torch.tensor([0, 0, 0, 0, 1])
        pred = torch.tensor([0, 0, 0, 0, 0])
        self.assertAlmostEqual(evaluate_cli.balanced_accuracy(pred, truth), 0.5)

    def test_style_pairs_always_cross_sets(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "emoji.npz")
            write_fake_emoji(path)
            data = evaluate_cli.EmojiData(path)
            pairs = evaluate_cli.cross_set_pairs(data, data.held, 10, seed=0)
            for content, style in pairs:
                self.assertNotEqual(int(data.sets[content]), int(data.sets[style]))
            self.assertEqual(sorted({int(data.sets[c]) for c, _ in pairs}), [0, 1])


class EvaluateShippedModelTest(unittest.TestCase):
    """The whole path on the shipped graphs (through node and dist/), at smoke-test sizes."""

    def test_reports_every_figure_and_writes_them_to_the_manifest(self):
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "model")
            shutil.copytree(SHIPPED, model)
            classes = [c["name"] for c in evaluate_cli.read_json(os.path.join(model, "model.json"))["classes"]]
            data = os.path.join(tmp, "emoji.npz")
            write_fake_emoji(data, n=72)
            raw = dict(np.load(data))
            raw["class_names"] = np.array(classes)
            np.savez(data, **raw)
            argv = ["--model", model, "--data", data, "--samples-per-class", "2", "--per-class", "1",
                    "--pairs", "4", "--classifier-steps", "3", "--judges-dir", os.path.join(tmp, "judges"),
                    "--write"]
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(evaluate_cli.main(argv), 0)
            written = evaluate_cli.read_json(os.path.join(model, "model.json"))["provenance"]["evaluation"]
            self.assertEqual(written["heldOutImages"], 18)
            self.assertEqual(written["classConsistency"]["samples"], 18)
            self.assertEqual(written["styleTransfer"]["pairs"], 4)
            self.assertEqual(written["inpainting"]["images"], 9)
            rec = written["reconstruction"]
            self.assertTrue(0 < rec["holisticCodesUsed"] <= rec["codebookSize"])
            self.assertTrue(10 < rec["psnr"] < 60)
            self.assertIn("reconstruction   PSNR", out.getvalue())
            self.assertEqual(len(os.listdir(os.path.join(tmp, "judges"))), 2)  # reused by later runs
            assert_servable(self, model)  # the rewritten manifest still loads


if __name__ == "__main__":
    unittest.main()
