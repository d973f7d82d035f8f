"""Tokenizing (premise, hypothesis) pairs exactly as scoring does: lengths, premise budgets,
windows of long texts, truncated encodings and padded tensors.

`PairEncoding` is mixed into `backend.NLIBackend`, which provides the tokenizer, `max_length`,
`pair_special_tokens` and the device; scoring (`NLIBackend.score`) and fine-tuning
(`training.trainer`) both encode through it, so they read the very same tokens.
"""

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Tuple

from ..errors import Errors
from .runtime import pad_batch

if TYPE_CHECKING:  # pragma: no cover
    import torch

Pair = Tuple[str, str]


class PairEncoding:
    """Pair tokenization for a backend that provides `tokenizer`, `max_length`,
    `pair_special_tokens`, `device` and `lock` (the members below are that contract).

    Every tokenizer call holds `lock`: a Rust ("fast") tokenizer called from two threads at
    once raises "Already borrowed" (huggingface/tokenizers#537).
    """

    lock: "threading.RLock"

    @property
    def tokenizer(self) -> Any:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def max_length(self) -> int:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def pair_special_tokens(self) -> int:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def device(self) -> "torch.device":  # pragma: no cover - provided by the backend
        raise NotImplementedError

    def token_lengths(self, texts: Sequence[str]) -> List[int]:
        """Number of tokens of each text, without special tokens."""
        if not texts:
            return []
        # verbose=False: no "Token indices sequence length is longer than the specified maximum"
        # message; these counts decide truncation and windows, nothing runs at this length.
        with self.lock:
            encoded = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def premise_budget(self, hypotheses: Sequence[str]) -> int:
        """How many premise tokens fit beside the longest of `hypotheses` within `max_length`."""
        unique = list(dict.fromkeys(hypotheses))
        lengths = self.token_lengths(unique)
        longest = max(lengths, default=0)
        budget = self.max_length - self.pair_special_tokens - longest
        if budget < 1:
            worst = unique[lengths.index(longest)]
            raise ValueError(Errors.E012.format(length=longest, max_length=self.max_length, hypothesis=worst))
        return budget

    def token_windows(self, text: str, max_tokens: int, stride: int) -> List[Tuple[int, int]]:
        """Character spans of windows of at most `max_tokens` model tokens covering `text`.

        Consecutive windows overlap by `stride` tokens so that no token is read without
        some context. A text that fits gives one window.
        """
        with self.lock:
            encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets = [(s, e) for s, e in encoded["offset_mapping"] if e > s]
        if len(offsets) <= max_tokens:
            return [(0, len(text))]
        step = max(1, max_tokens - max(0, min(stride, max_tokens - 1)))
        spans = []
        for begin in range(0, len(offsets), step):
            chunk = offsets[begin : begin + max_tokens]
            spans.append((chunk[0][0], chunk[-1][1]))
            if begin + max_tokens >= len(offsets):
                break
        return spans

    def encode(self, pairs: Sequence[Pair]) -> Tuple[Dict[str, List[List[int]]], List[int]]:
        """Tokenize pairs exactly as scoring does: only the premise is truncated, to
        `max_length` tokens (transformers' zero-shot pipeline's `truncation="only_first"`).

        pairs (Sequence[Tuple[str, str]]): (premise, hypothesis) pairs.
        RETURNS (Tuple[Dict[str, List[List[int]]], List[int]]): The model inputs per pair
            ("input_ids", and "token_type_ids" where the tokenizer makes them), and each
            pair's length in tokens.
        RAISES ValueError: [E012] when a hypothesis leaves no room for the premise.
        """
        self.premise_budget([h for _, h in pairs])  # a clear error before the tokenizer's own
        with self.lock:
            encoded = self.tokenizer(
                [p for p, _ in pairs],
                [h for _, h in pairs],
                truncation="only_first",
                max_length=self.max_length,
            )
        features = {key: encoded[key] for key in ("input_ids", "token_type_ids") if key in encoded}
        return features, [len(ids) for ids in features["input_ids"]]

    def tensors(self, features: Dict[str, List[List[int]]], batch: List[int], lengths: List[int]) -> Dict[str, Any]:
        """The rows `batch` of encoded `features` as padded torch tensors on the model's device."""
        import torch

        pad_left = getattr(self.tokenizer, "padding_side", "right") == "left"
        arrays = pad_batch(features, batch, lengths, int(self.tokenizer.pad_token_id), pad_left)
        device = self.device
        return {key: torch.from_numpy(value).to(device) for key, value in arrays.items()}
