"""The split output head (tools/hita/head_split.py): structure, and bitwise equality with the
unsplit graph on onnxruntime-node (fp32, int8, int4). The in-place tool: test_upgrade_gpt_graph.py."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from hita import export_onnx
from hita.head_split import HeadPatternError, is_split, split_head
from hita.model_dir import write_model_dir
from hita.quantize import QuantOptions, all_initializers, options_for, quantize_file, quantize_model
from tests.helpers import ROOT, assert_servable, tiny_models

COMPARE = os.path.join(ROOT, "scripts", "compare-gpt-graphs.mjs")


def export_unsplit(gpt, path: str, rewrite=None) -> None:
    """The GPT step graph as export_gpt traced it before its rewrites (one [dim, 2V] MatMul for the
    head, a Concat of each layer's cache), with `rewrite` applied if given."""
    cfg = gpt.cfg
    b, t, s = 2, 3, 2
    args = (torch.zeros(b, t, dtype=torch.long), torch.arange(s, s + t).expand(b, -1).contiguous(),
            torch.ones(b, s + t, dtype=torch.bool),
            *[torch.zeros(b, cfg.n_head, s, cfg.head_dim) for _ in range(2 * cfg.n_layer)])
    export_onnx.export_graph(export_onnx.GPTStepGraph(gpt), args, export_onnx.gpt_io(gpt), path, rewrite=rewrite)


def compare(test, model_dir: str, a: str, b: str, *options: str) -> dict:
    """scripts/compare-gpt-graphs.mjs: bitwise, or within `--tolerance TOL`."""
    result = subprocess.run(["node", COMPARE, model_dir, a, b, *options], capture_output=True, text=True,
                            timeout=300)
    test.assertIn(result.returncode, (0, 1), result.stderr)
    return json.loads(result.stdout)


def if_branches(model: onnx.ModelProto):
    return {n.name: {a.name: a.g for a in n.attribute} for n in model.graph.node if n.op_type == "If"}


class HeadSplitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "model")
        tokenizer, gpt = tiny_models(seed=3)
        cls.gpt = gpt
        # A generate-only directory (no encoder) is enough for the GPT and keeps the export short.
        write_model_dir(cls.dir, "split-test", tokenizer, gpt, [f"c{i}" for i in range(10)], {}, "none",
                        "test", has_encoder=False, fixture_batch=1)
        # The head split alone (export_gpt also splits the attention, which rounds differently).
        cls.split = os.path.join(cls.tmp.name, "gpt.split.onnx")
        export_unsplit(gpt, cls.split, rewrite=split_head)
        cls.unsplit = os.path.join(cls.tmp.name, "gpt.unsplit.onnx")
        export_unsplit(gpt, cls.unsplit)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_each_head_half_is_an_if_branch_with_its_own_weights(self):
        model = onnx.load(self.split)
        onnx.checker.check_model(model)
        self.assertTrue(is_split(model))
        cfg = self.gpt.cfg
        branches = if_branches(model)
        self.assertEqual(sorted(branches), ["/output/HolisticIf", "/output/PatchIf"])
        weight = self.gpt.output.weight.detach().numpy()  # [2V, dim]
        halves = {"/output/HolisticIf": weight[: cfg.vocab_size], "/output/PatchIf": weight[cfg.vocab_size:]}
        for name, graphs in branches.items():
            (init,) = graphs["then_branch"].initializer
            np.testing.assert_array_equal(numpy_helper.to_array(init), halves[name].T)
            self.assertEqual([n.op_type for n in graphs["else_branch"].node], ["Constant"])
        # No [dim, 2V] weight is left anywhere: the traced head is gone.
        shapes = [tuple(t.dims) for t in all_initializers(model.graph)]
        self.assertNotIn((cfg.dim, 2 * cfg.vocab_size), shapes)
        self.assertEqual(shapes.count((cfg.dim, cfg.vocab_size)), 2)

    def test_split_graph_is_bitwise_the_unsplit_one_on_onnxruntime(self):
        result = compare(self, self.dir, self.unsplit, self.split)
        self.assertEqual(result, {"cases": result["cases"], "equal": True, "differences": [], "maxAbsDifference": 0})

    def test_the_comparison_can_fail(self):
        other = os.path.join(self.tmp.name, "gpt.other.onnx")
        export_unsplit(tiny_models(seed=4)[1], other)
        result = compare(self, self.dir, self.unsplit, other)
        self.assertFalse(result["equal"])
        self.assertIn("step 1 rows past M: logits", result["differences"])

    def test_quantized_split_graphs_are_bitwise_the_quantized_unsplit_ones(self):
        for precision in ("int8", "int4"):
            with self.subTest(precision=precision):
                paths = [os.path.join(self.tmp.name, f"{name}.{precision}.onnx") for name in ("unsplit", "split")]
                reports = [quantize_file(src, dst, options_for(precision), 1 << 30)[1]
                           for src, dst in zip((self.unsplit, self.split), paths)]
                # The head is quantized in its branches, at the head's bits.
                self.assertEqual(reports[1]["replaced"]["/output/holistic/MatMul"], 8)
                self.assertEqual(reports[1]["replaced"]["/output/patch/MatMul"], 8)
                self.assertEqual(reports[1]["nodes"], reports[0]["nodes"] + 1)
                model = onnx.load(paths[1])
                for graphs in if_branches(model).values():
                    self.assertEqual([n.op_type for n in graphs["then_branch"].node], ["MatMulNBits"])
                    self.assertNotIn(onnx.TensorProto.FLOAT, [t.data_type for t in graphs["then_branch"].initializer
                                                              if len(t.dims) == 2])
                result = compare(self, self.dir, *paths)
                self.assertTrue(result["equal"], result["differences"])

    def test_head_bits_zero_leaves_the_branches_float(self):
        model = onnx.load(self.split)
        report = quantize_model(model, QuantOptions(bits=8, head_bits=0))
        self.assertNotIn("/output/holistic/MatMul", report["replaced"])
        for graphs in if_branches(model).values():
            self.assertEqual([n.op_type for n in graphs["then_branch"].node], ["MatMul"])

    def test_refuses_a_split_or_unknown_graph(self):
        with self.assertRaises(HeadPatternError):
            split_head(onnx.load(self.split))
        model = onnx.load(self.unsplit)
        where = next(n for n in model.graph.node if n.output[0] == "logits")
        where.input[1], where.input[2] = where.input[2], where.input[1]  # halves swapped: not ours
        with self.assertRaises(HeadPatternError):
            split_head(model)


if __name__ == "__main__":
    unittest.main()
