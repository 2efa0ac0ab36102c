"""tools/bench_torch.py: the eager loop bench/official-size.mjs drives through --serve."""
import io
import json
import unittest

import torch

import bench_torch
from tests.helpers import tiny_models


class OneThread(unittest.TestCase):
    """Tiny tensors gain nothing from a second thread, and on a shared machine OpenMP barriers
    waiting on a descheduled thread made these tests 15x slower (290 s against 19 s)."""

    def setUp(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def tearDown(self):
        torch.set_num_threads(self.threads)


class ServeTest(OneThread):
    def setUp(self):
        super().setUp()
        self.tokenizer, self.gpt = tiny_models(seed=2)

    def test_answers_each_command_with_one_json_line(self):
        commands = [{"op": "steps", "rows": [1, 3], "past": 5, "reps": 1},
                    {"op": "image", "seed": 3, "cfg": 2},
                    {"op": "nope"}]
        out = io.StringIO()
        stdin = io.StringIO("".join(json.dumps(c) + "\n" for c in commands) + "\n")
        self.assertEqual(bench_torch.serve(self.tokenizer, self.gpt, 2, 0.0, stdin, out), 0)
        ready, steps, image, error = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(ready["ready"], True)
        self.assertEqual(sorted(steps["ms"]), ["1", "3"])
        self.assertTrue(all(ms > 0 for ms in steps["ms"].values()))
        self.assertGreater(image["gptSeconds"], 0)
        self.assertGreater(image["decodeSeconds"], 0)
        self.assertAlmostEqual(image["seconds"], image["gptSeconds"] + image["decodeSeconds"], places=6)
        self.assertIn("unknown op", error["error"])


class LoopTest(OneThread):
    def test_tokens_depend_on_the_seed_only(self):
        _, gpt = tiny_models(seed=2)
        c = gpt.cfg

        def tokens(seed):
            return bench_torch.sample_tokens(gpt, 2, 2.0, 1.0, 0, 1.0, torch.Generator().manual_seed(seed))
        first = tokens(5)
        self.assertEqual(tuple(first.shape), (2, c.num_slots + c.block_size))
        self.assertTrue(bool(((first >= 0) & (first < c.vocab_size)).all()))
        self.assertTrue(torch.equal(first, tokens(5)))
        self.assertFalse(torch.equal(first, tokens(6)))

    def test_the_cache_step_matches_one_call_over_the_whole_prefix(self):
        _, gpt = tiny_models(seed=2)
        ids = torch.tensor([[3, 17, 40, 2]])
        positions = torch.arange(4)[None]
        with torch.no_grad():
            whole, _ = gpt.forward_step(ids, positions, torch.ones(1, 4, dtype=torch.bool), gpt.empty_cache(1))
            cache = bench_torch.KvCache(gpt, 1, 4)
            stepped = [cache.step(gpt, ids[:, p:p + 1], p) for p in range(4)]
        self.assertLess(float((torch.stack(stepped, dim=1) - whole).abs().max()), 1e-4)


if __name__ == "__main__":
    unittest.main()
