import contextlib
import io
import json
import os
import tempfile
import unittest

import torch

import convert as convert_cli
from hita.checkpoint import BACKBONE_PREFIX, CheckpointError
from hita.official import ConversionOptions, convert

from tests.helpers import assert_servable, tiny_models

TINY_OPTIONS = ConversionOptions(tokenizer_heads=4, gpt_heads=6, backbone_heads=3, backbone_input_size=32,
                                 shift_k=2, pos_m_embedding="slot")


def write_official(directory, tokenizer, gpt, drop_key=None):
    """Our weights laid out as the official training scripts save them."""
    state = {k: v.clone() for k, v in tokenizer.state_dict().items()}
    dino = {k[len(BACKBONE_PREFIX):]: v for k, v in state.items() if k.startswith(BACKBONE_PREFIX)}
    ema = {k: v for k, v in state.items() if "backbone" not in k}
    if drop_key:
        del ema[drop_key]
    paths = {name: os.path.join(directory, name) for name in ["tok.pt", "dino.pth", "gpt.pt"]}
    torch.save({"model": {"module." + k: torch.zeros_like(v) for k, v in ema.items()}, "ema": ema,
                "steps": 10, "args": None}, paths["tok.pt"])
    torch.save(dino, paths["dino.pth"])
    torch.save({"model": {"_orig_mod." + k: v for k, v in gpt.state_dict().items()}, "steps": 5},
               paths["gpt.pt"])
    return paths


class ConverterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.tokenizer, self.gpt = tiny_models(seed=3)

    def tearDown(self):
        self.tmp.cleanup()

    def test_round_trip_gives_the_same_outputs(self):
        paths = write_official(self.tmp.name, self.tokenizer, self.gpt)
        out = convert(paths["tok.pt"], paths["gpt.pt"], paths["dino.pth"], TINY_OPTIONS)
        self.assertTrue(out.has_encoder)
        self.assertEqual(out.tokenizer.cfg, self.tokenizer.cfg)
        self.assertEqual(out.gpt.cfg, self.gpt.cfg)
        image = torch.rand(2, 3, 32, 32) * 2 - 1
        ids = torch.randint(0, 1024, (2, 80))
        ids[:, 0] = 4
        positions = torch.arange(80).expand(2, -1)
        mask = torch.ones(2, 80, dtype=torch.bool)
        with torch.no_grad():
            for a, b in zip(self.tokenizer.encode(image), out.tokenizer.encode(image)):
                self.assertTrue(torch.equal(a, b))
            holistic, patch = self.tokenizer.encode(image)
            self.assertTrue(torch.equal(self.tokenizer.decode(holistic, patch), out.tokenizer.decode(holistic, patch)))
            ours = self.gpt.forward_step(ids, positions, mask, self.gpt.empty_cache(2))[0]
            theirs = out.gpt.forward_step(ids, positions, mask, out.gpt.empty_cache(2))[0]
            self.assertTrue(torch.equal(ours, theirs))

    def test_missing_key_is_named_and_nothing_is_written(self):
        key = "decode_transformer.transformer.layers.1.ffnet.w3.bias"
        paths = write_official(self.tmp.name, self.tokenizer, self.gpt, drop_key=key)
        with self.assertRaises(CheckpointError) as caught:
            convert(paths["tok.pt"], paths["gpt.pt"], paths["dino.pth"], TINY_OPTIONS)
        self.assertIn(f"missing key: {key}", str(caught.exception))
        out_dir = os.path.join(self.tmp.name, "model")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = convert_cli.main(["--tokenizer", paths["tok.pt"], "--gpt", paths["gpt.pt"], "--dinov2",
                                     paths["dino.pth"], "--out", out_dir, "--shift-k", "2", "--tokenizer-heads", "4",
                                     "--gpt-heads", "6", "--backbone-heads", "3", "--backbone-input-size", "32"])
        self.assertEqual(code, 2)
        self.assertIn(key, stderr.getvalue())
        self.assertFalse(os.path.exists(out_dir))

    def test_unexpected_keys_are_named_but_not_fatal(self):
        paths = write_official(self.tmp.name, self.tokenizer, self.gpt)
        state = torch.load(paths["gpt.pt"])
        state["model"]["_orig_mod.extra_head.weight"] = torch.zeros(3)
        torch.save(state, paths["gpt.pt"])
        out = convert(paths["tok.pt"], paths["gpt.pt"], paths["dino.pth"], TINY_OPTIONS)
        self.assertEqual(out.unexpected, ["extra_head.weight"])

    def test_without_dinov2_the_model_generates_but_cannot_encode(self):
        paths = write_official(self.tmp.name, self.tokenizer, self.gpt)
        out_dir = os.path.join(self.tmp.name, "model")
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            code = convert_cli.main(["--tokenizer", paths["tok.pt"], "--gpt", paths["gpt.pt"], "--out", out_dir,
                                     "--shift-k", "2", "--tokenizer-heads", "4", "--gpt-heads", "6",
                                     "--pos-m-embedding", "slot"])
        self.assertEqual(code, 0)
        with open(os.path.join(out_dir, "model.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["capabilities"], {"generate": True, "inpaint": False, "style": False})
        self.assertEqual(sorted(manifest["graphs"]), ["decode", "gpt"])
        self.assertFalse(os.path.exists(os.path.join(out_dir, "encode.onnx")))
        assert_servable(self, out_dir)
        # No backbone was given: its depth-0 placeholder must not reach the manifest.
        self.assertNotIn("semanticBackbone", manifest["tokenizer"])


if __name__ == "__main__":
    unittest.main()
