import math
import unittest

import torch

from hita.sample import (apply_temperature, cfg_merge, choose_token, greedy, philox4x32, row_uniform,
                         sample_from_uniform, top_k_filter, top_p_filter)

NEG = float("-inf")
V = 32
# Exact in float32; src/inference/sampling/sampler.test.ts builds the same rows.
COND = torch.tensor([(i * 37 % 17) / 4 - 2 for i in range(V)], dtype=torch.float32)
UNCOND = torch.tensor([(i * 11 % 13) / 8 - 0.75 for i in range(V)], dtype=torch.float32)
U_GRID = [j / 10 for j in range(10)] + [1 - 2 ** -53]

# (seed, step, lane) → row_uniform; the TS RowRng tests assert the same doubles.
UNIFORMS = [
    ((12345, 7, 0), 0.6210685913546881),
    ((12345, 7, 1), 0.38404586290064235),
    ((12345, 0, 0), 0.8202246739383457),
    ((0, 0, 0), 0.39904647231489565),
    ((2 ** 53 - 1, 0xFFFFFFFF, 0xFFFFFFFF), 0.545614358033207),
    ((2 ** 40 + 3, 568, 2), 0.2618854902188459),
    ((2 ** 32, 1, 0), 0.8005833282085124),
]

# (cfg_scale, temperature, top_k, top_p) → tokens for U_GRID; mirrored in sampler.test.ts.
TOKENS_ON_GRID = [
    ((1.5, 1.0, 0, 1.0), [0, 5, 5, 11, 11, 14, 16, 22, 27, 28, 31]),
    ((1.0, 1.0, 3, 1.0), [5, 5, 5, 11, 11, 11, 11, 28, 28, 28, 28]),
    ((1.0, 1.0, 0, 0.3), [5, 5, 5, 11, 11, 11, 11, 28, 28, 28, 28]),
    ((1.0, 0.5, 0, 1.0), [0, 5, 10, 11, 11, 16, 22, 22, 28, 28, 31]),
]


class PhiloxTest(unittest.TestCase):
    def test_random123_known_answer_vectors(self):
        cases = [
            ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
            ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
            ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
             [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
        ]
        for counter, key, expected in cases:
            self.assertEqual(philox4x32(counter, key), expected)

    def test_row_uniform_matches_the_typescript_constants(self):
        for args, expected in UNIFORMS:
            self.assertEqual(row_uniform(*args), expected, args)

    def test_row_uniform_is_in_unit_interval_and_depends_only_on_its_arguments(self):
        values = [row_uniform(42, step) for step in range(2000)]
        self.assertTrue(all(0.0 <= u < 1.0 for u in values))
        self.assertAlmostEqual(sum(values) / len(values), 0.5, delta=0.02)
        self.assertEqual([row_uniform(42, step) for step in reversed(range(2000))], values[::-1])
        self.assertNotEqual(row_uniform(43, 10), values[10])

    def test_bad_seed_and_step(self):
        for seed in (-1, 2 ** 53, 1.5):
            with self.assertRaises(ValueError):
                row_uniform(seed, 0)
        with self.assertRaises(ValueError):
            row_uniform(1, 2 ** 32)


class ProcessorTest(unittest.TestCase):
    def test_cfg_merge_and_scale_one(self):
        cond, uncond = torch.tensor([1.0, 2.0, -1.0]), torch.tensor([0.0, 1.0, 1.0])
        self.assertEqual(cfg_merge(cond, uncond, 2.0).tolist(), [2.0, 3.0, -3.0])
        self.assertTrue(torch.equal(cfg_merge(cond, uncond, 1.0), cond))

    def test_temperature_divides_by_at_least_1e_5(self):
        self.assertEqual(apply_temperature(torch.tensor([1.0, -2.0]), 0.5).tolist(), [2.0, -4.0])
        row = apply_temperature(torch.tensor([0.25, 0.5]), 0.0)
        self.assertEqual(row.tolist(), (torch.tensor([0.25, 0.5]) / 1e-5).tolist())

    def test_top_k_keeps_exactly_k_with_lowest_indices_on_ties(self):
        row = torch.tensor([1.0, 3.0, 2.0, 3.0, 2.0, 2.0, 0.0])
        self.assertEqual(top_k_filter(row, 4).tolist(), [NEG, 3.0, 2.0, 3.0, 2.0, NEG, NEG])
        self.assertEqual(top_k_filter(row, 7).tolist(), row.tolist())

    def test_top_k_1_equals_argmax(self):
        gen = torch.Generator().manual_seed(0)
        for _ in range(20):
            row = torch.randint(0, 5, (50,), generator=gen).to(torch.float32)
            kept = top_k_filter(row, 1)
            self.assertEqual(torch.nonzero(kept > NEG).flatten().tolist(), [greedy(row)])
            self.assertEqual(choose_token(row, None, 1.0, 1.0, 1, 1.0, 0.99), int(torch.argmax(row)))

    def test_top_p_keeps_the_crossing_token(self):
        row = torch.zeros(4)  # 0.25 each
        self.assertEqual(top_p_filter(row, 0.3).tolist(), [0.0, 0.0, NEG, NEG])
        self.assertEqual(top_p_filter(row, 0.5).tolist(), [0.0, 0.0, 0.0, NEG])  # cum 0.5 is not > p
        row = torch.tensor([math.log(0.1), math.log(0.3), math.log(0.6)])
        self.assertEqual(top_p_filter(row, 0.55).tolist(), [NEG, NEG, row[2].item()])
        self.assertEqual(top_p_filter(row, 0.7).tolist(), [NEG, row[1].item(), row[2].item()])
        self.assertEqual(torch.nonzero(top_p_filter(COND, 0.3) > NEG).flatten().tolist(), [5, 11, 28])

    def test_inputs_are_not_modified(self):
        row = COND.clone()
        top_k_filter(row, 3), top_p_filter(row, 0.5), apply_temperature(row, 0.5)
        choose_token(row, UNCOND, 2.0, 0.7, 5, 0.9, 0.5)
        self.assertTrue(torch.equal(row, COND))


class SamplerTest(unittest.TestCase):
    def test_greedy_takes_the_lowest_index_on_ties(self):
        self.assertEqual(greedy(torch.tensor([NEG, 4.0, 9.0, 1.0, 9.0])), 2)

    def test_inverse_cdf_frequencies_follow_softmax(self):
        row = torch.tensor([0.0, 1.0, NEG, 2.0, -1.0, NEG])
        probs = torch.softmax(row.double(), 0).tolist()
        n = 2000
        counts = [0] * 6
        for j in range(n):
            counts[sample_from_uniform(row, (j + 0.5) / n)] += 1
        self.assertEqual(counts[2] + counts[5], 0)
        for c, p in zip(counts, probs):
            self.assertLessEqual(abs(c - n * p), 1.0)

    def test_never_returns_a_masked_index(self):
        row = torch.tensor([NEG, 0.0, 3.0, NEG])
        self.assertEqual(sample_from_uniform(row, 0.0), 1)
        self.assertEqual(sample_from_uniform(row, 1 - 2 ** -53), 2)

    def test_nan_and_all_masked_rows_raise(self):
        with self.assertRaises(ValueError):
            sample_from_uniform(torch.tensor([NEG, NEG]), 0.5)
        with self.assertRaises(ValueError):
            greedy(torch.tensor([1.0, float("nan")]))

    def test_choose_token_fixtures_shared_with_typescript(self):
        for (cfg, temperature, top_k, top_p), expected in TOKENS_ON_GRID:
            got = [choose_token(COND, UNCOND, cfg, temperature, top_k, top_p, u) for u in U_GRID]
            self.assertEqual(got, expected, (cfg, temperature, top_k, top_p))
        u = row_uniform(12345, 7)
        self.assertEqual(choose_token(COND, UNCOND, 1.5, 1.0, 0, 1.0, u), 21)
        self.assertEqual(choose_token(COND, UNCOND, 4.0, 0.7, 10, 0.9, row_uniform(7, 100)), 11)
        self.assertEqual(choose_token(COND, None, 1.0, 1.3, 0, 0.8, row_uniform(99, 3, 1)), 4)

    def test_cfg_above_one_needs_uncond(self):
        with self.assertRaises(ValueError):
            choose_token(COND, None, 1.5, 1.0, 0, 1.0, 0.5)


if __name__ == "__main__":
    unittest.main()
