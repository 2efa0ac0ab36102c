import math
import unittest

import torch

from hita.gpt import apply_rope, pair_swap, rope_2d_table, rope_cos_sin


class RopeTableTest(unittest.TestCase):
    def test_hand_computed_table_for_head_dim_8_on_a_2x2_grid(self):
        table = rope_2d_table(grid=2, head_dim=8, base=10000.0, zero_rows=1)
        self.assertEqual(list(table.shape), [5, 4, 2])
        self.assertTrue(torch.equal(table[0], torch.zeros(4, 2)), "row 0 is all zeros (cos too)")
        f1 = 10000 ** (-2 / 4)  # the second frequency: base^(-2i/half), half = 4
        # rows after the zero row are raster cells (r, c); pairs 0-1 rotate by r, pairs 2-3 by c
        for row, (r, c) in zip(range(1, 5), [(0, 0), (0, 1), (1, 0), (1, 1)]):
            angles = [r * 1.0, r * f1, c * 1.0, c * f1]
            expected = torch.tensor([[math.cos(a), math.sin(a)] for a in angles])
            self.assertTrue(torch.allclose(table[row], expected, atol=1e-7), (row, table[row], expected))

    def test_head_dim_60_uses_15_frequencies_per_axis(self):
        table = rope_2d_table(grid=21, head_dim=60)
        self.assertEqual(list(table.shape), [442, 30, 2])
        cell = 1 + 3 * 21 + 5  # (row 3, col 5)
        i = 7
        self.assertAlmostEqual(table[cell, i, 0].item(), math.cos(3 * 10000 ** (-2 * i / 30)), places=6)
        self.assertAlmostEqual(table[cell, 15 + i, 1].item(), math.sin(5 * 10000 ** (-2 * i / 30)), places=6)

    def test_rotation_is_interleaved_pairs(self):
        x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4)
        angle = 0.3
        table = torch.tensor([[[math.cos(angle), math.sin(angle)], [1.0, 0.0]]])  # one row, 2 pairs
        cos, sin = rope_cos_sin(table)[:, 0].reshape(2, 1, 1, 1, 4)
        out = apply_rope(x, cos, sin, pair_swap(4)).flatten().tolist()
        expected = [1 * math.cos(angle) - 2 * math.sin(angle), 2 * math.cos(angle) + 1 * math.sin(angle), 3.0, 4.0]
        for a, b in zip(out, expected):
            self.assertAlmostEqual(a, b, places=6)

    def test_matrix_form_is_bit_identical_to_rotating_pairs(self):
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, 5, 3, 8, generator=gen)
        table = rope_2d_table(grid=3, head_dim=8)[torch.randint(0, 10, (2, 5), generator=gen)]  # [2, 5, 4, 2]
        a, b = x.reshape(2, 5, 3, 4, 2)[..., 0], x.reshape(2, 5, 3, 4, 2)[..., 1]
        cos_k, sin_k = table[:, :, None, :, 0], table[:, :, None, :, 1]
        by_pairs = torch.stack([a * cos_k - b * sin_k, b * cos_k + a * sin_k], dim=-1).flatten(3)
        cos, sin = table.permute(3, 0, 1, 2).repeat_interleave(2, dim=-1)[:, :, :, None]
        self.assertTrue(torch.equal(apply_rope(x, cos, sin, pair_swap(8)), by_pairs))


if __name__ == "__main__":
    unittest.main()
