"""Attention without the cache Concat (tools/hita/attention_split.py): structure, closeness to the
traced graph on onnxruntime-node (it rounds the weighted sum of values differently), and that the
rewrite commutes with quantization, so a variant made from the rewritten graph is the old variant
rewritten."""
from __future__ import annotations

import os
import tempfile
import unittest

import onnx

from hita.attention_split import AttentionPatternError, is_split, split_attention
from hita.head_split import split_head
from hita.model_dir import write_model_dir
from hita.quantize import options_for, quantize_file, save_model
from tests.helpers import tiny_models
from tests.test_head_split import compare, export_unsplit

TOLERANCE = "1e-5"  # fp32: measured max |difference| about 1e-5 on logits of magnitude ~10


def past_concats(model: onnx.ModelProto):
    inputs = {i.name for i in model.graph.input}
    return [n for n in model.graph.node if n.op_type == "Concat" and n.input[0] in inputs]


class AttentionSplitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "model")
        tokenizer, gpt = tiny_models(seed=6)
        cls.gpt = gpt
        write_model_dir(cls.dir, "attention-test", tokenizer, gpt, [f"c{i}" for i in range(10)], {}, "none",
                        "test", has_encoder=False, fixture_batch=1)
        cls.traced = os.path.join(cls.tmp.name, "gpt.traced.onnx")  # head split, attention as traced
        export_unsplit(gpt, cls.traced, rewrite=split_head)
        cls.exported = os.path.join(cls.dir, "gpt.onnx")  # export_gpt applies both rewrites

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_no_layer_copies_its_cache(self):
        traced, exported = onnx.load(self.traced), onnx.load(self.exported)
        layers = self.gpt.cfg.n_layer
        self.assertEqual(len(past_concats(traced)), 2 * layers)
        self.assertEqual(past_concats(exported), [])
        self.assertTrue(is_split(exported))
        self.assertFalse(is_split(traced))
        # Each past_value_l is read by its Shape (the slice point) and one MatMul; past_key_l by one
        # Transpose feeding one MatMul: the cache is read where it is used, never copied first.
        for layer in range(layers):
            readers = sorted(n.op_type for n in exported.graph.node if f"past_value_{layer}" in n.input)
            self.assertEqual(readers, ["MatMul", "Shape"])
            readers = [n.op_type for n in exported.graph.node if f"past_key_{layer}" in n.input]
            self.assertEqual(readers, ["Transpose"])

    def test_outputs_stay_within_rounding_of_the_traced_graph(self):
        result = compare(self, self.dir, self.traced, self.exported, "--tolerance", TOLERANCE)
        self.assertTrue(result["equal"], result)
        self.assertGreater(result["maxAbsDifference"], 0)  # it does round differently: not a no-op

    def test_the_comparison_can_fail(self):
        other = os.path.join(self.tmp.name, "gpt.other.onnx")
        export_unsplit(tiny_models(seed=7)[1], other, rewrite=split_head)
        result = compare(self, self.dir, self.traced, other, "--tolerance", TOLERANCE)
        self.assertFalse(result["equal"])

    def test_quantizing_the_rewritten_graph_is_rewriting_the_quantized_one(self):
        for precision in ("int8", "int4"):
            with self.subTest(precision=precision):
                quantized = os.path.join(self.tmp.name, f"traced.{precision}.onnx")
                quantize_file(self.traced, quantized, options_for(precision), 1 << 30)
                model = onnx.load(quantized)
                split_attention(model)
                rewritten = os.path.join(self.tmp.name, f"traced.{precision}.rewritten.onnx")
                save_model(model, rewritten, 1 << 30)
                direct = os.path.join(self.tmp.name, f"exported.{precision}.onnx")
                quantize_file(self.exported, direct, options_for(precision), 1 << 30)
                result = compare(self, self.dir, rewritten, direct)
                self.assertTrue(result["equal"], result["differences"])

    def test_refuses_a_rewritten_or_unknown_graph(self):
        with self.assertRaises(AttentionPatternError):
            split_attention(onnx.load(self.exported))
        model = onnx.load(self.traced)
        concat = past_concats(model)[0]
        model.graph.node.append(onnx.helper.make_node("Identity", [concat.output[0]], ["extra"]))
        with self.assertRaises(AttentionPatternError):  # the keys feed something else too: not ours
            split_attention(model)


if __name__ == "__main__":
    unittest.main()
