"""MatMulNBits quantization (tools/hita/quantize.py): error bounds, the packed layout, the rewrite."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import quantize_gpt
from hita.model_dir import sha256_file
from hita.quantize import (MS_DOMAIN, QuantOptions, dequantize, options_for, pack_codes, pack_zero_points,
                           quantize_blockwise, quantize_model, unpack_codes)


class BlockwiseErrorTest(unittest.TestCase):
    def test_dequantized_weights_are_within_half_a_step(self):
        rng = np.random.default_rng(0)
        w = rng.normal(0, 0.02, (48, 200)).astype(np.float32)  # K = 200: the last block is padded
        for bits in (4, 8):
            for symmetric in (False, True):
                with self.subTest(bits=bits, symmetric=symmetric):
                    codes, scales, zp = quantize_blockwise(w, bits, 32, symmetric)
                    self.assertEqual(codes.shape, (48, 7, 32))
                    self.assertEqual(scales.shape, (48, 7))
                    self.assertEqual(zp is None, symmetric)
                    back = dequantize(codes, scales, zp, bits, 200)
                    # Rounding to the nearest code: at most half a step (+ float slack) per weight.
                    step = np.repeat(scales, 32, axis=1)[:, :200]
                    self.assertTrue(np.all(np.abs(back - w) <= 0.5 * step * (1 + 1e-5) + 1e-9))
                    # And relative to the block's range: 2^-bits of it, a bit more when symmetric.
                    limit = (1.0 / ((1 << bits) - 1)) if not symmetric else (1.0 / ((1 << (bits - 1)) - 1))
                    rel = np.abs(back - w).max() / np.abs(w).max()
                    self.assertLessEqual(rel, limit)

    def test_zeros_stay_exactly_zero(self):
        w = np.zeros((2, 32), dtype=np.float32)
        w[0, :16] = np.linspace(0.1, 1.0, 16)  # all positive: 0 must still be a code
        for symmetric in (False, True):
            codes, scales, zp = quantize_blockwise(w, 4, 32, symmetric)
            back = dequantize(codes, scales, zp, 4, 32)
            self.assertTrue(np.all(back[0, 16:] == 0.0))
            self.assertTrue(np.all(back[1] == 0.0))

    def test_eight_bit_error_is_small_on_gaussian_weights(self):
        w = np.random.default_rng(1).normal(0, 1, (64, 256)).astype(np.float32)
        codes, scales, zp = quantize_blockwise(w, 8, 32, False)
        rel_mse = ((dequantize(codes, scales, zp, 8, 256) - w) ** 2).mean() / (w ** 2).mean()
        self.assertLess(rel_mse, 1e-4)
        codes, scales, zp = quantize_blockwise(w, 4, 32, False)
        rel_mse = ((dequantize(codes, scales, zp, 4, 256) - w) ** 2).mean() / (w ** 2).mean()
        self.assertLess(rel_mse, 2e-2)


class PackedLayoutTest(unittest.TestCase):
    """A hand-computed example, N = 2, K = 32, block_size = 16 (two blocks per row)."""

    def setUp(self):
        # Row 0, block 0: 0 … 15 → asymmetric 4-bit: lo = 0, hi = 15, scale 1, zero point 0.
        # Row 0, block 1: −15 … 0 → lo = −15, scale 1, zero point 15: codes 0 … 15 again.
        # Row 1: block 0 all 2.0 (lo clamped to 0: scale 2/15, zero point 0, code 15);
        #        block 1 all −3.0 (hi clamped to 0: scale 3/15 = 0.2, zero point 15, code 0).
        w = np.zeros((2, 32), dtype=np.float32)
        w[0, :16] = np.arange(16)
        w[0, 16:] = np.arange(16) - 15
        w[1, :16] = 2.0
        w[1, 16:] = -3.0
        self.w = w

    def test_codes_scales_zero_points(self):
        codes, scales, zp = quantize_blockwise(self.w, 4, 16, symmetric=False)
        np.testing.assert_array_equal(codes[0, 0], np.arange(16))
        np.testing.assert_array_equal(codes[0, 1], np.arange(16))
        np.testing.assert_array_equal(codes[1, 0], np.full(16, 15))
        np.testing.assert_array_equal(codes[1, 1], np.zeros(16))
        np.testing.assert_allclose(scales, [[1.0, 1.0], [2 / 15, 0.2]], rtol=1e-6)
        np.testing.assert_array_equal(zp, [[0, 15], [0, 15]])
        np.testing.assert_allclose(dequantize(codes, scales, zp, 4, 32), self.w, atol=1e-6)

    def test_four_bit_codes_are_packed_low_nibble_first(self):
        codes, _, _ = quantize_blockwise(self.w, 4, 16, symmetric=False)
        packed = pack_codes(codes, 4)
        self.assertEqual(packed.shape, (2, 2, 8))  # [N, n_blocks, block_size·bits/8]
        # Byte j of a block holds code 2j (low nibble) and code 2j+1 (high nibble).
        np.testing.assert_array_equal(packed[0, 0], [0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE])
        np.testing.assert_array_equal(packed[1, 0], np.full(8, 0xFF))
        np.testing.assert_array_equal(packed[1, 1], np.zeros(8))
        np.testing.assert_array_equal(unpack_codes(packed, 4), codes)

    def test_zero_points_pack_per_row_padded_to_whole_bytes(self):
        _, _, zp = quantize_blockwise(self.w, 4, 16, symmetric=False)
        # Row n: block 0 in the low nibble, block 1 in the high one → 0xF0 per row.
        np.testing.assert_array_equal(pack_zero_points(zp, 4), [0xF0, 0xF0])
        # Three blocks per row: ceil(3·4/8) = 2 bytes per row, the last high nibble unused (0).
        three = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
        np.testing.assert_array_equal(pack_zero_points(three, 4), [0x21, 0x03, 0x54, 0x06])
        # 8 bits: one byte per block, row-major.
        np.testing.assert_array_equal(pack_zero_points(three, 8), [1, 2, 3, 4, 5, 6])

    def test_symmetric_four_bit_uses_the_default_zero_point_eight(self):
        w = np.array([[-7.0, 7.0, 0.0, 3.5] + [0.0] * 12], dtype=np.float32)
        codes, scales, zp = quantize_blockwise(w, 4, 16, symmetric=True)
        self.assertIsNone(zp)
        np.testing.assert_allclose(scales, [[1.0]])
        np.testing.assert_array_equal(codes[0, 0, :4], [1, 15, 8, 12])  # round half to even: 3.5 → 4
        packed = pack_codes(codes, 4)
        self.assertEqual(packed[0, 0, 0], 0xF1)
        self.assertEqual(packed[0, 0, 1], 0xC8)


def linear_graph(k: int = 64, n: int = 48) -> onnx.ModelProto:
    rng = np.random.default_rng(2)
    w1 = numpy_helper.from_array(rng.normal(0, 0.1, (k, n)).astype(np.float32), "w1")
    head = numpy_helper.from_array(rng.normal(0, 0.1, (n, 16)).astype(np.float32), "head")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="/layers.0/w1/MatMul"),
             helper.make_node("MatMul", ["h", "head"], ["y"], name="/output/MatMul")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "t", 16])],
                              [w1, head])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class RewriteTest(unittest.TestCase):
    def test_matmuls_with_initializer_b_become_matmul_nbits(self):
        model = linear_graph()
        report = quantize_model(model, QuantOptions(bits=4, head_bits=8, accuracy_level=4))
        self.assertEqual(report["replaced"], {"/layers.0/w1/MatMul": 4, "/output/MatMul": 8})
        ops = [(n.op_type, n.domain) for n in model.graph.node]
        self.assertEqual(ops, [("MatMulNBits", MS_DOMAIN)] * 2)
        attrs = {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
        self.assertEqual(attrs, {"K": 64, "N": 48, "bits": 4, "block_size": 32, "accuracy_level": 4})
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.assertNotIn("w1", inits)  # the float weights are gone
        b, s, z = (inits[name] for name in model.graph.node[0].input[1:])
        self.assertEqual((b.dtype, b.shape), (np.uint8, (48, 2, 16)))
        self.assertEqual((s.dtype, s.shape), (np.float32, (96,)))
        self.assertEqual((z.dtype, z.shape), (np.uint8, (48,)))  # ceil(2·4/8) = 1 byte per row
        self.assertIn(MS_DOMAIN, {o.domain for o in model.opset_import})
        self.assertIn("hita.quantization", {p.key for p in model.metadata_props})

    def test_dequantized_graph_matches_the_float_one(self):
        model = linear_graph()
        w1 = numpy_helper.to_array(model.graph.initializer[0])
        x = np.random.default_rng(3).normal(0, 1, (5, 64)).astype(np.float32)
        quantize_model(model, QuantOptions(bits=8, head_bits=0))
        node = model.graph.node[0]
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        codes = unpack_codes(inits[node.input[1]], 8)
        zp = inits[node.input[3]].reshape(48, 2)
        w = dequantize(codes, inits[node.input[2]].reshape(48, 2), zp, 8, 64)  # [N, K]
        np.testing.assert_allclose(x @ w.T, x @ w1, atol=2e-2 * np.abs(x @ w1).max())
        self.assertEqual(model.graph.node[1].op_type, "MatMul")  # head_bits 0: the head stays float

    def test_shared_or_non_2d_weights_are_left_alone(self):
        model = linear_graph()
        model.graph.node.append(helper.make_node("Identity", ["w1"], ["w1_copy"]))
        quantize_model(model, QuantOptions(bits=4, head_bits=4))
        self.assertIn("w1", {t.name for t in model.graph.initializer})  # still read by Identity

    def test_options(self):
        self.assertEqual(options_for("int4"), QuantOptions(bits=4, head_bits=8, block_size=32, accuracy_level=4))
        with self.assertRaises(ValueError):
            options_for("int3")
        with self.assertRaises(ValueError):
            QuantOptions(bits=4, head_bits=8, block_size=24)


class InPlaceTest(unittest.TestCase):
    """tools/quantize_gpt.py on a copy of models/hita-tiny-random."""

    def setUp(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.dir = os.path.join(tempfile.mkdtemp(), "model")
        self.addCleanup(shutil.rmtree, os.path.dirname(self.dir))
        shutil.copytree(os.path.join(root, "models", "hita-tiny-random"), self.dir,
                        ignore=shutil.ignore_patterns("fixtures"))

    def manifest(self) -> dict:
        with open(os.path.join(self.dir, "model.json")) as f:
            return json.load(f)

    def test_adds_variants_and_leaves_the_fp32_graph_alone(self):
        before = self.manifest()
        self.assertEqual(quantize_gpt.main(["--model", self.dir, "--gpt-precision", "int4"]), 0)
        self.assertEqual(quantize_gpt.main(["--model", self.dir, "--gpt-precision", "int8"]), 0)
        after = self.manifest()
        variants = after["graphs"].pop("gptVariants")
        self.assertEqual(after, before)  # nothing else changed
        self.assertEqual(sha256_file(os.path.join(self.dir, "gpt.onnx")), before["graphs"]["gpt"]["sha256"])
        self.assertEqual(sorted(variants), ["int4", "int8"])  # the second run kept the first's
        for name, entry in variants.items():
            self.assertEqual(entry["file"], f"gpt.{name}.onnx")
            self.assertEqual(entry["sha256"], sha256_file(os.path.join(self.dir, entry["file"])))
            self.assertEqual(entry["quantizedFrom"], before["graphs"]["gpt"]["sha256"])
            self.assertEqual(entry["inputs"], before["graphs"]["gpt"]["inputs"])
            model = onnx.load(os.path.join(self.dir, entry["file"]))
            # 5 per block × 6 blocks at the top level, and the head's two halves in their If branches.
            self.assertEqual(sum(n.op_type == "MatMulNBits" for n in model.graph.node), 30)
            branches = [a.g for n in model.graph.node if n.op_type == "If" for a in n.attribute
                        if a.name == "then_branch"]
            self.assertEqual([n.op_type for g in branches for n in g.node], ["MatMulNBits"] * 2)
            self.assertEqual(entry["quantizedNodes"], 32)

    def test_refuses_a_gpt_graph_the_manifest_does_not_describe(self):
        with open(os.path.join(self.dir, "gpt.onnx"), "ab") as f:
            f.write(b"\0")
        self.assertEqual(quantize_gpt.main(["--model", self.dir, "--gpt-precision", "int8"]), 2)
        self.assertNotIn("gptVariants", self.manifest()["graphs"])


if __name__ == "__main__":
    unittest.main()
