"""The paired-difference interval behind a GPT variant's `eligibleAsDefault` (tools/evaluate.py)."""
import contextlib
import io
import os
import tempfile
import unittest

import numpy as np

import evaluate as evaluate_cli


class PairedDifferenceCiTest(unittest.TestCase):
    def test_identical_outcomes_give_zero_with_a_zero_width_interval(self):
        outcomes = [True, False, True, True, False] * 20
        r = evaluate_cli.paired_difference_ci(outcomes, outcomes)
        self.assertEqual(r["differencePoints"], 0.0)
        self.assertEqual(r["ci95Points"], [0.0, 0.0])
        self.assertEqual((r["onlyVariantCorrect"], r["onlyBaselineCorrect"]), (0, 0))

    def test_matches_the_wald_formula_by_hand(self):
        # n = 100: 10 samples only the variant gets right, 20 only the baseline, 50 both, 20 neither.
        base = [False] * 10 + [True] * 20 + [True] * 50 + [False] * 20
        var = [True] * 10 + [False] * 20 + [True] * 50 + [False] * 20
        r = evaluate_cli.paired_difference_ci(base, var)
        n, b, c = 100, 10, 20
        d = (b - c) / n
        se = np.sqrt(b + c - (b - c) ** 2 / n) / n
        self.assertAlmostEqual(r["differencePoints"], 100 * d, places=2)
        self.assertAlmostEqual(r["ci95Points"][0], round(100 * (d - 1.959964 * se), 2), places=2)
        self.assertAlmostEqual(r["ci95Points"][1], round(100 * (d + 1.959964 * se), 2), places=2)
        self.assertEqual((r["onlyVariantCorrect"], r["onlyBaselineCorrect"]), (10, 20))
        # the paired se is the sample sd of the per-sample differences over sqrt(n) (ddof 0)
        diffs = np.array(var, float) - np.array(base, float)
        self.assertAlmostEqual(se, diffs.std() / np.sqrt(n), places=12)

    def test_pairing_is_what_narrows_the_interval(self):
        # Same marginal accuracies (60 % each); concordant outcomes give a much tighter interval
        # than an unpaired test would, and swapping a discordant pair changes nothing.
        rng = np.random.Generator(np.random.PCG64(0))
        base = rng.random(2304) < 0.6
        var = base.copy()
        flip = rng.choice(2304, 40, replace=False)
        var[flip] = ~var[flip]
        r = evaluate_cli.paired_difference_ci(base, var)
        p = base.mean()
        unpaired_half_width = 100 * 1.959964 * np.sqrt(2 * p * (1 - p) / 2304)
        self.assertLess(r["ci95Points"][1] - r["ci95Points"][0], unpaired_half_width)
        self.assertLessEqual(r["ci95Points"][0], r["differencePoints"])
        self.assertGreaterEqual(r["ci95Points"][1], r["differencePoints"])

    def test_coverage_is_close_to_95_percent(self):
        # Simulated paired outcomes with a known true difference of −1 point.
        rng = np.random.Generator(np.random.PCG64(1))
        covered, trials = 0, 400
        for _ in range(trials):
            u = rng.random(2304)
            base = u < 0.64
            var = u < 0.63  # the variant loses exactly the samples with 0.63 ≤ u < 0.64
            noise = rng.random(2304) < 0.03  # plus symmetric disagreement
            var = np.where(noise, ~var, var)
            true = 100 * ((0.63 * (1 - 0.03) + 0.37 * 0.03) - 0.64)
            lo, hi = evaluate_cli.paired_difference_ci(base, var)["ci95Points"]
            covered += lo <= true <= hi
        self.assertGreater(covered / trials, 0.91)
        self.assertLess(covered / trials, 0.99)

    def test_rejects_unpaired_input(self):
        with self.assertRaises(ValueError):
            evaluate_cli.paired_difference_ci([True, False], [True])
        with self.assertRaises(ValueError):
            evaluate_cli.paired_difference_ci([], [])

    def test_per_sample_outcomes_round_trip_through_hex(self):
        bits = (np.arange(2304) % 7 == 0) | (np.arange(2304) % 5 == 1)
        text = evaluate_cli.pack_bits(bits.tolist())
        self.assertEqual(len(text), 2304 // 4)
        np.testing.assert_array_equal(evaluate_cli.unpack_bits(text, 2304), bits)
        np.testing.assert_array_equal(evaluate_cli.unpack_bits(evaluate_cli.pack_bits([True, False, True]), 3),
                                      [True, False, True])

    def test_eligibility_uses_the_lower_bound_against_minus_two_points(self):
        cls = {"samples": 2304, "seeds": "s", "samplesPerClass": 2304}
        base_bits = [True] * 1382 + [False] * 922
        same = {"sampling": {}, "classConsistency": {**cls, "correctHex": evaluate_cli.pack_bits(base_bits)}}
        r = evaluate_cli.compare_with_baseline(same, same)
        self.assertTrue(r["eligibleAsDefault"])
        few = {"samples": 100, "seeds": "s", "samplesPerClass": 100,
               "correctHex": evaluate_cli.pack_bits([True] * 60 + [False] * 40)}
        r = evaluate_cli.compare_with_baseline({"sampling": {}, "classConsistency": few},
                                               {"sampling": {}, "classConsistency": few})
        self.assertTrue(r["lowerBoundAboveMargin"])
        self.assertFalse(r["eligibleAsDefault"])  # under 2,304 paired samples: never a default
        worse_bits = [False] * 300 + [True] * 1082 + [False] * 922  # −13 points
        worse = {"sampling": {}, "classConsistency": {**cls, "correctHex": evaluate_cli.pack_bits(worse_bits)}}
        r = evaluate_cli.compare_with_baseline(worse, same)
        self.assertLess(r["ci95Points"][0], -2)
        self.assertFalse(r["eligibleAsDefault"])
        with self.assertRaises(SystemExit):  # another number of classes cannot be paired
            evaluate_cli.compare_with_baseline(
                {"sampling": {}, "classConsistency": {**cls, "samples": 150, "samplesPerClass": 100,
                                                      "correctHex": ""}}, same)
        with self.assertRaises(SystemExit):  # nor other seeds
            evaluate_cli.compare_with_baseline({**same, "classConsistency": {**same["classConsistency"],
                                                                             "seeds": "other"}}, same)

    def test_a_speculative_variant_pairs_by_class_and_seed_index_like_a_precision(self):
        # Another decoding draws another seed stream, yet its record names the same seeds and
        # settings, so it pairs sample by sample with fp32/ar; the stored pairing says so.
        bits = [True, False, True, True, False, True]
        base = {"precision": "fp32", "decoding": "ar", "sampling": {},
                "classConsistency": {"samples": 6, "seeds": "s", "samplesPerClass": 2,
                                     "correctHex": evaluate_cli.pack_bits(bits)}}
        spec = {**base, "decoding": "speculative",
                "classConsistency": {**base["classConsistency"],
                                     "correctHex": evaluate_cli.pack_bits([not b for b in bits[:2]] + bits[2:])}}
        r = evaluate_cli.compare_with_baseline(spec, base)
        self.assertEqual((r["baseline"], r["samples"]), ("fp32/ar", 6))
        self.assertEqual((r["onlyVariantCorrect"], r["onlyBaselineCorrect"]), (1, 1))
        with tempfile.TemporaryDirectory() as tmp:  # --pair-only repairs every variant, decodings too
            path = os.path.join(tmp, "model.json")
            evaluate_cli.write_json(path, {"provenance": {"evaluation": {"variants": {
                "fp32/ar": base, "fp32/speculative": spec}}}})
            with contextlib.redirect_stdout(io.StringIO()):
                evaluate_cli.pair_stored_variants(path)
            variants = evaluate_cli.stored_variants(path)
        self.assertEqual(variants["fp32/speculative"]["pairedWithFp32"], r)
        self.assertNotIn("pairedWithFp32", variants["fp32/ar"])

    def test_fewer_samples_per_class_pair_with_the_baselines_first_ones(self):
        # 3 classes × 4 samples in the baseline; the variant ran 2 per class (seeds k = 0, 1).
        base_bits = [True, True, False, False,  False, True, True, True,  True, False, False, False]
        base = {"sampling": {}, "classConsistency": {"samples": 12, "seeds": "s", "samplesPerClass": 4,
                                                     "correctHex": evaluate_cli.pack_bits(base_bits)}}
        var_bits = [True, False,  True, True,  True, False]  # differs only on class 0 k 1 and class 1 k 0
        var = {"sampling": {}, "classConsistency": {"samples": 6, "seeds": "s", "samplesPerClass": 2,
                                                    "correctHex": evaluate_cli.pack_bits(var_bits)}}
        r = evaluate_cli.compare_with_baseline(var, base)
        self.assertEqual(r["samples"], 6)
        self.assertEqual((r["onlyVariantCorrect"], r["onlyBaselineCorrect"]), (1, 1))
        self.assertEqual(r["differencePoints"], 0.0)
        # and the other way round: a variant with more samples per class than the baseline
        r = evaluate_cli.compare_with_baseline(base, var)
        self.assertEqual(r["samples"], 6)
        self.assertEqual((r["onlyVariantCorrect"], r["onlyBaselineCorrect"]), (1, 1))


if __name__ == "__main__":
    unittest.main()
