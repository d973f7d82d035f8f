"""The speed model: a random DeBERTa-v3-base-shaped NLI model built offline.

Speed does not depend on weight values, so a random model with the default model's exact
shape (`knowledgator/comprehend_it-base`) measures what users would get, without the hub.
"""

import random
from pathlib import Path
from typing import List

from .shared import MINILM, SHARED, SHARED_DATA

BERT_VOCAB = SHARED_DATA / "tokenizer" / "bert-base-uncased-vocab.txt"
__all__ = ["MINILM", "SHARED", "BERT_VOCAB", "NLI_LABELS", "WORDS"]
NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}

WORDS = (
    "the a of to in and for on with by at from market team government company players said "
    "year new first week officials shares season report people world minister game win deal "
    "technology software study scientists election oil prices police city president country"
).split()


def build_random_deberta(path: Path, initializer_range: float = 0.02, seed: int = 0) -> Path:
    """A random DeBERTa-v3-base-shaped NLI model with a WordPiece tokenizer, saved to `path`
    (kept when it is already there). The vocabulary is bert-base-uncased's from
    ../shared/data/tokenizer when present, else one generated from `WORDS`."""
    import torch
    from transformers import BertTokenizerFast, DebertaV2Config, DebertaV2ForSequenceClassification

    if (path / "config.json").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    vocab_file = path / "vocab.txt"
    if BERT_VOCAB.exists():
        vocab_file.write_text(BERT_VOCAB.read_text(encoding="utf8"), encoding="utf8")
    else:
        vocab_file.write_text("\n".join(generated_vocab()) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), model_max_length=512)
    config = DebertaV2Config(
        vocab_size=128100,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=256,
        max_relative_positions=-1,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
        layer_norm_eps=1e-7,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=initializer_range,
        id2label=NLI_LABELS,
        label2id={v: k for k, v in NLI_LABELS.items()},
    )
    torch.manual_seed(seed)
    model = DebertaV2ForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def generated_texts(n: int, rng: random.Random, min_words: int = 25, max_words: int = 100) -> List[str]:
    """`n` texts of random `WORDS`, `min_words` to `max_words` long."""
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(min_words, max_words))) + "." for _ in range(n)]


def generated_vocab() -> List[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + letters + ["##" + c for c in letters] + sorted(set(WORDS))
