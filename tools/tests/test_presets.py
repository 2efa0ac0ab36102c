import unittest

from hita.gpt import GPT_PRESETS, HitaGPT, gpt_config
from hita.tokenizer import HitaTokenizer, tokenizer_config

from tests.helpers import read_key_table


def shapes(module):
    return {k: list(v.shape) for k, v in module.state_dict().items()}


class TokenizerPresetTest(unittest.TestCase):
    def check_against_table(self, preset: str, table: str) -> None:
        ours = shapes(HitaTokenizer(tokenizer_config(preset)))
        official = read_key_table(table)
        self.assertEqual(sorted(set(official) - set(ours)), [], "keys missing from our model")
        self.assertEqual(sorted(set(ours) - set(official)), [], "keys the official model lacks")
        self.assertEqual({k: v for k, v in ours.items() if official[k] != v}, {}, "shape mismatches")

    def test_hita_v_keys_and_shapes_match_the_official_table(self):
        self.check_against_table("hita-v", "hita_v_state_dict_keys.tsv")

    def test_hita_u_keys_and_shapes_match_the_official_table(self):
        self.check_against_table("hita-u", "hita_u_state_dict_keys.tsv")

    def test_tiny_sizes(self):
        cfg = tokenizer_config("tiny")
        self.assertEqual((cfg.grid, cfg.n_patch, cfg.n_carrier, cfg.codebook_size), (8, 64, 16, 1024))
        params = sum(p.numel() for p in HitaTokenizer(cfg).parameters())
        self.assertAlmostEqual(params / 1e6, 2.49, delta=0.01)


class GPTPresetTest(unittest.TestCase):
    def test_gpt_b_has_the_official_parameter_count_and_names(self):
        model = HitaGPT(gpt_config("gpt-b"))
        self.assertEqual(sum(p.numel() for p in model.parameters()), 136_152_576)
        keys = set(model.state_dict())
        for key in ["cls_embedding.embedding_table.weight", "tok_embeddings.weight", "slot_embeddings.weight",
                    "slot_pos.weight", "layers.11.attention.wqkv.weight", "layers.0.attention.wo.weight",
                    "layers.0.feed_forward.w1.weight", "layers.0.feed_forward.w2.weight",
                    "layers.0.feed_forward.w3.weight", "layers.0.attention_norm.weight",
                    "layers.0.ffn_norm.weight", "norm.weight", "output.weight"]:
            self.assertIn(key, keys)
        self.assertEqual(len(keys), 4 + 12 * 7 + 2)
        self.assertEqual(list(model.output.weight.shape), [2 * 16384, 768])
        self.assertEqual(list(model.cls_embedding.embedding_table.weight.shape), [1001, 768])

    def test_official_table_sizes(self):
        expected = {"gpt-b": (768, 12, 64, 2048), "gpt-l": (1024, 24, 64, 2816),
                    "gpt-xl": (1280, 36, 64, 3584), "gpt-xxl": (1536, 48, 64, 4096),
                    "gpt-2b": (1920, 48, 60, 5120)}
        for name, (dim, layers, head_dim, ffn) in expected.items():
            cfg = GPT_PRESETS[name]
            self.assertEqual((cfg.dim, cfg.n_layer, cfg.head_dim, cfg.ffn_hidden), (dim, layers, head_dim, ffn), name)
            self.assertEqual(cfg.max_positions, 569)

    def test_tiny_parameter_count(self):
        params = sum(p.numel() for p in HitaGPT(gpt_config("tiny")).parameters())
        self.assertAlmostEqual(params / 1e6, 3.45, delta=0.01)


if __name__ == "__main__":
    unittest.main()
