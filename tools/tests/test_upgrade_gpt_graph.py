"""tools/upgrade_gpt_graph.py on a directory whose gpt.onnx predates the exporter's rewrites (the
head split and the attention split): it applies both, updates the manifest, re-quantizes the
variants, and a second run changes nothing."""
from __future__ import annotations

import json
import os
import tempfile
import unittest

import upgrade_gpt_graph
from hita.model_dir import sha256_file, write_model_dir
from tests.helpers import assert_servable, tiny_models
from tests.test_attention_split import TOLERANCE
from tests.test_head_split import compare, export_unsplit


class UpgradeInPlaceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = os.path.join(self.tmp.name, "model")
        tokenizer, gpt = tiny_models(seed=5)
        self.layers = gpt.cfg.n_layer
        write_model_dir(self.dir, "in-place", tokenizer, gpt, [f"c{i}" for i in range(10)], {}, "none",
                        "test", has_encoder=False, fixture_batch=1, gpt_precisions=["int8"])
        self.exported = os.path.join(self.tmp.name, "gpt.exported.onnx")  # what export.py writes today
        os.replace(os.path.join(self.dir, "gpt.onnx"), self.exported)
        export_unsplit(gpt, os.path.join(self.dir, "gpt.onnx"))
        self.old = os.path.join(self.tmp.name, "gpt.old.onnx")
        export_unsplit(gpt, self.old)
        manifest = self.manifest()
        manifest["graphs"]["gpt"]["sha256"] = sha256_file(os.path.join(self.dir, "gpt.onnx"))
        manifest["graphs"]["gpt"]["bytes"] = os.path.getsize(os.path.join(self.dir, "gpt.onnx"))
        with open(os.path.join(self.dir, "model.json"), "w") as f:
            json.dump(manifest, f)

    def manifest(self) -> dict:
        with open(os.path.join(self.dir, "model.json")) as f:
            return json.load(f)

    def test_applies_every_rewrite_updates_the_manifest_and_requantizes_variants(self):
        before = self.manifest()
        self.assertEqual(upgrade_gpt_graph.main(["--model", self.dir]), 0)
        after = self.manifest()
        gpt = after["graphs"]["gpt"]
        path = os.path.join(self.dir, "gpt.onnx")
        self.assertEqual(gpt["sha256"], sha256_file(path))
        self.assertNotEqual(gpt["sha256"], before["graphs"]["gpt"]["sha256"])
        self.assertEqual(gpt["inputs"], before["graphs"]["gpt"]["inputs"])
        self.assertEqual(gpt["headSplit"]["op"], "If")
        self.assertEqual(gpt["attentionSplit"], {"layers": self.layers, "concatsRemoved": 2 * self.layers})
        int8 = after["graphs"]["gptVariants"]["int8"]
        self.assertEqual(int8["quantizedFrom"], gpt["sha256"])
        self.assertEqual(int8["sha256"], sha256_file(os.path.join(self.dir, "gpt.int8.onnx")))
        for key in ("graphs", "provenance"):
            before.pop(key), after.pop(key)
        self.assertEqual(after, before)  # nothing outside the graphs changed
        # The upgraded graph is the one export.py writes today, and close to the old one.
        self.assertTrue(compare(self, self.dir, self.exported, path)["equal"])
        self.assertTrue(compare(self, self.dir, self.old, path, "--tolerance", TOLERANCE)["equal"])
        assert_servable(self, self.dir)
        # A second run finds every rewrite done and changes nothing.
        self.assertEqual(upgrade_gpt_graph.main(["--model", self.dir]), 0)
        self.assertEqual(self.manifest()["graphs"]["gpt"]["sha256"], gpt["sha256"])

    def test_refuses_a_gpt_graph_the_manifest_does_not_describe(self):
        with open(os.path.join(self.dir, "gpt.onnx"), "ab") as f:
            f.write(b"\0")
        self.assertEqual(upgrade_gpt_graph.main(["--model", self.dir]), 2)


if __name__ == "__main__":
    unittest.main()
