"""Tiny random NLI models built offline, for tests, examples and benchmarks.

Nothing is downloaded: a DeBERTa-v2 (the default model's architecture) gets a sentencepiece
tokenizer trained here on a small corpus; a BERT gets a WordPiece vocabulary made from it.
Both are saved with `save_pretrained`, so they load through the same path a user's model does.
"""

import io
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional

CORPUS = """one day I will see the world
What is the capital city of Ukraine? Kyiv London Berlin Warsaw
This example is travel cooking dancing exploration sports business politics science.
The team won the match and the fans celebrated in the stadium all night.
Shares fell sharply after the company reported weaker profits than expected.
Scientists discovered a new species of frog in the rain forest of Brazil.
The president met foreign leaders to discuss trade, peace and climate change.
Knowledgator is an open-source ML research organization focused on advancing the information extraction field.
Is the sky blue? Yes no maybe. The answer to the question is correct.
Apple was founded by Steve Jobs in California. Paris is the capital of France.
FKBP5 gene variants are associated with PTSD and depression in adults.
She cooked pasta with tomatoes, garlic and basil for her family on Sunday.
Barack Obama was born in Hawaii and served as president of the United States.
The university hired a new professor of physics from Germany last year.
He is a politician athlete scientist company product city university agency person.
"""

NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def corpus_lines() -> List[str]:
    return [line for line in CORPUS.splitlines() if line.strip()]


def _words(lines: Iterable[str]) -> List[str]:
    seen: Dict[str, None] = {}
    for line in lines:
        for word in re.findall(r"\w+|[^\w\s]", line.lower()):
            seen.setdefault(word, None)
    return list(seen)


def build_deberta(path: Path, id2label: Optional[Dict[int, str]] = None, seed: int = 0, initializer_range: float = 0.2) -> Path:
    """A 2-layer DeBERTa-v2 with relative attention (like DeBERTa-v3) and a trained sentencepiece model."""
    import sentencepiece as spm
    import torch
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, DebertaV2TokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model_io = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines() * 4),
        model_writer=model_io,
        vocab_size=250,
        model_type="unigram",
        pad_id=0,
        bos_id=1,
        eos_id=2,
        unk_id=3,
        pad_piece="[PAD]",
        bos_piece="[CLS]",
        eos_piece="[SEP]",
        unk_piece="[UNK]",
        user_defined_symbols=["[MASK]"],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    spm_file = path / "spm.model"
    spm_file.write_bytes(model_io.getvalue())
    tokenizer = DebertaV2TokenizerFast(vocab_file=str(spm_file), model_max_length=128)
    spm_file.unlink()
    labels = id2label or NLI_LABELS
    config = DebertaV2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        relative_attention=True,
        position_buckets=32,
        max_relative_positions=-1,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=initializer_range,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(seed)
    model = DebertaV2ForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_bert(path: Path, id2label: Optional[Dict[int, str]] = None, seed: int = 0, initializer_range: float = 0.2) -> Path:
    """A 2-layer BERT with a WordPiece vocabulary made from the corpus words."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + _words(corpus_lines()) + letters
    vocab += ["##" + c for c in letters]
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), model_max_length=128)
    labels = id2label or {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=initializer_range,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
