import contextlib
import io
import json
import os
import tempfile
import unittest

import numpy as np

import train as train_cli
from hita.checkpoint import load_checkpoint


def write_fake_emoji(path: str, n: int = 48) -> None:
    """The layout of tools/build_emoji_data.py's .npz, filled with seeded noise."""
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
             classes=np.arange(n) % 9, sets=(np.arange(n) // 4) % 2, split=(np.arange(n) % 4 == 0).astype(np.uint8),
             unified=np.array([f"{i:04X}" for i in range(n)]), class_names=np.array([f"c{i}" for i in range(9)]),
             set_names=np.array(["google", "twitter"]))


class TrainSmokeTest(unittest.TestCase):
    """Every stage takes real optimizer steps (backward included) and writes a loadable checkpoint."""

    def test_all_stages_then_resume(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "emoji.npz")
            write_fake_emoji(data)
            argv = ["--run-dir", tmp, "--data", data, "--batch", "8", "--backbone-steps", "2",
                    "--tokenizer-steps", "4", "--gpt-steps", "3", "--save-every", "2", "--eval-every", "2",
                    "--restart-every", "2"]
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(train_cli.main(train_cli.parse_args(argv)), 0)
            tokenizer, gpt, classes, extra = load_checkpoint(os.path.join(tmp, "final.pt"))
            self.assertEqual(classes, [f"c{i}" for i in range(9)])
            self.assertEqual(gpt.cfg.num_classes, 9)
            with open(os.path.join(tmp, "log.jsonl")) as f:
                finals = [r for r in map(json.loads, f) if r.get("final")]
            self.assertEqual([r["stage"] for r in finals], ["backbone", "tokenizer", "gpt"])
            self.assertEqual(finals[1]["steps"], 4)
            self.assertTrue(np.isfinite(finals[1]["psnr"]))

            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                train_cli.main(train_cli.parse_args(argv + ["--resume"]))
            self.assertEqual(out.getvalue().count("already done, skipping"), 3)


if __name__ == "__main__":
    unittest.main()
