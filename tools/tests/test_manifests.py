"""Every model directory the tools write must load in the runtime (scripts/check-model.mjs).

test_convert covers convert.py without --dinov2; test_evaluate the manifest evaluate.py rewrites.
"""
import contextlib
import io
import json
import os
import tempfile
import unittest

import convert as convert_cli
import export as export_cli
from tests.helpers import assert_servable, tiny_models
from tests.test_convert import write_official


def quietly(main, argv) -> int:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


class WrittenManifestsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "model")

    def tearDown(self):
        self.tmp.cleanup()

    def test_export_random_init_is_servable(self):
        argv = ["--preset", "tiny", "--random-init", "--seed", "1", "--out", self.out, "--fixture-batch", "1"]
        self.assertEqual(quietly(export_cli.main, argv), 0)
        assert_servable(self, self.out)

    def test_export_without_encoder_is_generate_only_and_servable(self):
        argv = ["--preset", "tiny", "--random-init", "--seed", "1", "--out", self.out, "--fixture-batch", "1",
                "--no-encoder"]
        self.assertEqual(quietly(export_cli.main, argv), 0)
        with open(os.path.join(self.out, "model.json")) as f:
            manifest = json.load(f)
        self.assertNotIn("encode", manifest["graphs"])
        self.assertFalse(os.path.exists(os.path.join(self.out, "encode.onnx")))
        self.assertEqual(manifest["capabilities"], {"generate": True, "inpaint": False, "style": False})
        assert_servable(self, self.out)

    def test_convert_with_dinov2_is_servable_and_can_encode(self):
        paths = write_official(self.tmp.name, *tiny_models(seed=4))
        argv = ["--tokenizer", paths["tok.pt"], "--gpt", paths["gpt.pt"], "--dinov2", paths["dino.pth"],
                "--out", self.out, "--shift-k", "2", "--tokenizer-heads", "4", "--gpt-heads", "6",
                "--backbone-heads", "3", "--backbone-input-size", "32", "--pos-m-embedding", "slot"]
        self.assertEqual(quietly(convert_cli.main, argv), 0)
        with open(os.path.join(self.out, "model.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["capabilities"], {"generate": True, "inpaint": True, "style": True})
        self.assertEqual(manifest["tokenizer"]["semanticBackbone"]["depth"], 4)
        assert_servable(self, self.out)


if __name__ == "__main__":
    unittest.main()
