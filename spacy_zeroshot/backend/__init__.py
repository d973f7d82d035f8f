"""The NLI backend: one NLI cross-encoder, loaded lazily, scoring (premise, hypothesis) pairs.

Knows torch and transformers, not spaCy. The parts:

- `model`: `NLIBackend`, loading, settings, device moves, fine-tuning hooks;
- `scoring`: pooled, de-duplicated, cached, length-batched scoring and float32 re-checks;
- `encoding`: pair tokenization shared by scoring and fine-tuning;
- `runtime`: precision copies, CPU threads and memory, out-of-memory handling;
- `devices`: device, dtype and batching defaults; `labels`: entailment/contradiction indices;
- `cache`: the LRU pair cache; `stats`: the backend's pair counts; `fast_deberta`: the
  faster equivalent DeBERTa-v2/v3 attention.
"""

from .model import NLIBackend

__all__ = ["NLIBackend"]
