import contextlib
import io
import json
import os
import shutil
import subprocess
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


def shipped_copy_and_data(tmp: str) -> tuple:
    """A copy of the shipped model and a fake data set with its class names."""
    model = os.path.join(tmp, "model")
    shutil.copytree(SHIPPED, model)
    classes = [c["name"] for c in evaluate_cli.read_json(os.path.join(model, "model.json"))["classes"]]
    data = os.path.join(tmp, "emoji.npz")
    write_fake_emoji(data, n=72)
    raw = dict(np.load(data))
    raw["class_names"] = np.array(classes)
    np.savez(data, **raw)
    return model, data


def smoke_argv(model: str, data: str, tmp: str) -> list:
    return ["--model", model, "--data", data, "--samples-per-class", "2", "--per-class", "1",
            "--pairs", "4", "--classifier-steps", "3", "--judges-dir", os.path.join(tmp, "judges"), "--write"]


class EvaluateShippedModelTest(unittest.TestCase):
    """The whole path on the shipped graphs (through node and dist/), at smoke-test sizes."""

    def test_reports_every_figure_and_writes_them_to_the_manifest(self):
        with tempfile.TemporaryDirectory() as tmp:
            model, data = shipped_copy_and_data(tmp)
            argv = smoke_argv(model, data, tmp)
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

    def test_a_speculative_run_is_a_variant_paired_with_fp32_ar(self):
        with tempfile.TemporaryDirectory() as tmp:
            model, data = shipped_copy_and_data(tmp)
            argv = smoke_argv(model, data, tmp)
            before = evaluate_cli.read_json(os.path.join(model, "model.json"))["provenance"]["evaluation"]
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(evaluate_cli.main(argv + ["--precision", "fp32"]), 0)
                self.assertEqual(evaluate_cli.main(argv + ["--decoding", "speculative"]), 0)
            evaluation = evaluate_cli.read_json(os.path.join(model, "model.json"))["provenance"]["evaluation"]
            # a variant never replaces the top-level figures
            self.assertEqual(evaluation["classConsistency"], before["classConsistency"])
            spec = evaluation["variants"]["fp32/speculative"]
            self.assertEqual((spec["precision"], spec["decoding"]), ("fp32", "speculative"))
            paired = spec["pairedWithFp32"]
            self.assertEqual((paired["baseline"], paired["samples"]), ("fp32/ar", 18))
            self.assertEqual(evaluation["variants"]["fp32/ar"]["decoding"], "ar")

    def test_an_unknown_decoding_is_refused(self):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            evaluate_cli.parse_args(["--decoding", "greedy"])


class EngineEvalDecodingTest(unittest.TestCase):
    """scripts/engine-eval.mjs hands the spec's decoding to every request, as the server does."""

    def run_spec(self, tmp: str, decoding) -> subprocess.CompletedProcess:
        out = os.path.join(tmp, f"{decoding}.png")
        spec = {"model": SHIPPED, "requests": [{"out": [out], "request": {
            "kind": "generate", "classId": 2, "count": 1, "seed": 7,
            "sampling": {"cfgScale": 1.5, "temperature": 1.0, "topK": 0, "topP": 1.0}}}]}
        if decoding is not None:
            spec["decoding"] = decoding
        path = os.path.join(tmp, f"{decoding}.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        return subprocess.run(["node", os.path.join(ROOT, "scripts", "engine-eval.mjs"), path], cwd=ROOT,
                              capture_output=True, text=True)

    def test_speculative_reaches_the_engine_and_an_unknown_decoding_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            runs = {d: self.run_spec(tmp, d) for d in (None, "ar", "speculative")}
            for d, run in runs.items():
                self.assertEqual(run.returncode, 0, run.stderr)
                opened = json.loads(run.stdout.splitlines()[0])
                self.assertEqual(opened["decoding"], d or "ar")
            png = {d: open(os.path.join(tmp, f"{d}.png"), "rb").read() for d in runs}
            self.assertEqual(png[None], png["ar"])  # no decoding is AR
            self.assertNotEqual(png["ar"], png["speculative"])  # another seed stream: another image
            refused = self.run_spec(tmp, "greedy")
            self.assertEqual(refused.returncode, 1)
            self.assertIn("decoding", refused.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "greedy.png")))


if __name__ == "__main__":
    unittest.main()
