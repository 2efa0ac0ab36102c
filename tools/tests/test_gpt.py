import unittest

import torch

from tests.helpers import tiny_models


def step_by_step(gpt, input_ids):
    """Feed a sequence one position per call through the KV cache, as a decoder would."""
    b, length = input_ids.shape
    past, logits = gpt.empty_cache(b), []
    for p in range(length):
        mask = torch.ones(b, past[0][0].shape[2] + 1, dtype=torch.bool)
        step, new = gpt.forward_step(input_ids[:, p:p + 1], torch.full((b, 1), p), mask, past)
        past = [(torch.cat([pk, k], 2), torch.cat([pv, v], 2)) for (pk, pv), (k, v) in zip(past, new)]
        logits.append(step)
    return torch.cat(logits, dim=1)


class GPTTest(unittest.TestCase):
    def setUp(self):
        _, self.gpt = tiny_models(seed=1)
        cfg = self.gpt.cfg
        gen = torch.Generator().manual_seed(0)
        self.tokens = torch.randint(0, cfg.vocab_size, (2, cfg.num_slots + cfg.block_size), generator=gen)
        self.classes = torch.tensor([3, cfg.num_classes])
        self.ids = torch.cat([self.classes[:, None], self.tokens[:, :-1]], dim=1)

    def test_training_pass_equals_kv_cache_decoding(self):
        with torch.no_grad():
            full = self.gpt(self.tokens, self.classes)
            steps = step_by_step(self.gpt, self.ids)
        self.assertLess((full - steps).abs().max().item(), 1e-4)

    def test_rows_at_different_positions_share_a_call(self):
        gpt = self.gpt
        with torch.no_grad():
            alone = step_by_step(gpt, self.ids)
            # Row 0 has 40 cached positions, row 1 has 10: left-aligned cache, padding masked out.
            p0, p1 = 40, 10
            cache0 = gpt.forward_step(self.ids[:1, :p0], torch.arange(p0)[None], torch.ones(1, p0, dtype=torch.bool),
                                      gpt.empty_cache(1))[1]
            cache1 = gpt.forward_step(self.ids[1:, :p1], torch.arange(p1)[None], torch.ones(1, p1, dtype=torch.bool),
                                      gpt.empty_cache(1))[1]
            past = []
            for (k0, v0), (k1, v1) in zip(cache0, cache1):
                pad = torch.zeros(1, k1.shape[1], p0 - p1, k1.shape[3])
                past.append((torch.cat([k0, torch.cat([k1, pad], 2)]), torch.cat([v0, torch.cat([v1, pad], 2)])))
            mask = torch.zeros(2, p0 + 1, dtype=torch.bool)
            mask[0, :] = True
            mask[1, :p1] = True
            mask[1, p0] = True
            ids = torch.stack([self.ids[0, p0:p0 + 1], self.ids[1, p1:p1 + 1]])
            logits, _ = gpt.forward_step(ids, torch.tensor([[p0], [p1]]), mask, past)
        self.assertLess((logits[0, 0] - alone[0, p0]).abs().max().item(), 1e-4)
        self.assertLess((logits[1, 0] - alone[1, p1]).abs().max().item(), 1e-4)

    def test_position_m_embedding_flag_only_changes_positions_from_m(self):
        _, tok_gpt = tiny_models(seed=1, pos_m_embedding="tok")
        m = self.gpt.cfg.num_slots
        with torch.no_grad():
            positions = torch.arange(self.ids.shape[1]).expand(2, -1)
            mask = torch.ones_like(self.ids, dtype=torch.bool)
            slot_logits, _ = self.gpt.forward_step(self.ids, positions, mask, self.gpt.empty_cache(2))
            tok_logits, _ = tok_gpt.forward_step(self.ids, positions, mask, tok_gpt.empty_cache(2))
        self.assertTrue(torch.equal(slot_logits[:, :m], tok_logits[:, :m]))
        self.assertGreater((slot_logits[:, m] - tok_logits[:, m]).abs().max().item(), 1e-3)

    def test_heads_switch_at_m(self):
        gpt, cfg = self.gpt, self.gpt.cfg
        with torch.no_grad():
            positions = torch.arange(self.ids.shape[1]).expand(2, -1)
            logits, _ = gpt.forward_step(self.ids, positions, torch.ones_like(self.ids, dtype=torch.bool),
                                         gpt.empty_cache(2))
            hidden = {}
            gpt.norm.register_forward_hook(lambda mod, inp, out: hidden.setdefault("h", out))
            gpt.forward_step(self.ids, positions, torch.ones_like(self.ids, dtype=torch.bool), gpt.empty_cache(2))
            both = gpt.output(hidden["h"])
        m, v = cfg.num_slots, cfg.vocab_size
        # A half of the weight is another BLAS call shape than the whole: on some machines' OpenBLAS
        # (AVX2 EPYC) it rounds differently, up to ~7e-7 on logits of magnitude ~1.
        self.assertTrue(torch.allclose(logits[:, :m], both[:, :m, :v], atol=1e-6))
        self.assertTrue(torch.allclose(logits[:, m:], both[:, m:, v:], atol=1e-6))
        # Calls whose positions all lie on one side of M compute only that half, to the same logits.
        with torch.no_grad():
            h = hidden["h"]
            everywhere = torch.ones(h.shape[:2], dtype=torch.bool)
            self.assertTrue(torch.allclose(gpt.head(h, everywhere), both[..., :v], atol=1e-6))
            self.assertTrue(torch.allclose(gpt.head(h, ~everywhere), both[..., v:], atol=1e-6))


class TokenizerTest(unittest.TestCase):
    def test_decoder_cell_sees_only_patches_at_least_shift_k_behind(self):
        tokenizer, _ = tiny_models()
        cfg = tokenizer.cfg
        gen = torch.Generator().manual_seed(0)
        holistic = torch.randint(0, cfg.codebook_size, (1, cfg.n_carrier), generator=gen)
        patch = torch.randint(0, cfg.codebook_size, (1, cfg.n_patch), generator=gen)
        changed = patch.clone()
        j = 20
        changed[0, j] = (changed[0, j] + 1) % cfg.codebook_size
        with torch.no_grad():
            h = tokenizer.post_quant_conv(tokenizer.quantize.lookup(patch).reshape(1, cfg.grid, cfg.grid, -1)
                                          .permute(0, 3, 1, 2))
            h2 = tokenizer.post_quant_conv(tokenizer.quantize.lookup(changed).reshape(1, cfg.grid, cfg.grid, -1)
                                           .permute(0, 3, 1, 2))
            queries = tokenizer.post_slots_quant(tokenizer.slot_quantize.lookup(holistic))
            a = tokenizer.decode_transformer(queries, h).flatten(2)[0]
            b = tokenizer.decode_transformer(queries, h2).flatten(2)[0]
        differs = (a - b).abs().amax(dim=0) > 1e-6
        first = int(differs.nonzero()[0])
        self.assertEqual(first, j + cfg.shift_k, "cell j depends on patch tokens ≤ j − shift_k only")

    def test_encode_decode_shapes_and_code_ranges(self):
        tokenizer, _ = tiny_models()
        cfg = tokenizer.cfg
        image = torch.rand(2, 3, cfg.image_size, cfg.image_size) * 2 - 1
        with torch.no_grad():
            holistic, patch = tokenizer.encode(image)
            out = tokenizer.decode(holistic, patch)
        self.assertEqual(list(holistic.shape), [2, cfg.n_carrier])
        self.assertEqual(list(patch.shape), [2, cfg.n_patch])
        self.assertTrue(int(patch.max()) < cfg.codebook_size and int(holistic.min()) >= 0)
        self.assertEqual(list(out.shape), list(image.shape))


if __name__ == "__main__":
    unittest.main()
