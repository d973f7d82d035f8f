"""Fine-tuning the backend's NLI model in place: differentiable scoring, AdamW steps.

Knows torch, not spaCy: the spaCy glue (`update`, `finish_update`) lives in the components,
as in spacy-transformers. After every step the backend is told that its weights changed, so
cached pair logits, lossy copies (bfloat16, int8, float16) and `fast_deberta`'s cached
projections are rebuilt before the next prediction.

The step is torch's AdamW rather than thinc's Adam: thinc writes through NumPy views of the
weights without bumping torch's version counters (caches keyed on them would go stale), and
needs CuPy on a GPU. The optimizer's settings are read from spaCy's `[training.optimizer]`
at every step, so its schedules keep their meaning.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import Errors
from ..scheduler import deduplicate, plan_batches
from .groups import TrainGroup
from .losses import batch_loss

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..backend import NLIBackend

# A backpropagation graph holds the pairs of about this many forward batches (each of the
# backend's `batch_tokens` padded tokens), whatever the training batch's size.
GRAPH_BATCHES = 4


@dataclass(frozen=True)
class StepSettings:
    """One optimizer step's hyper-parameters (spaCy's `[training.optimizer]` names in brackets).

    learn_rate (float): Step size (`learn_rate`).
    beta1, beta2 (float): Adam's moment decay rates (`beta1`, `beta2`).
    eps (float): Adam's epsilon (`eps`).
    weight_decay (float): Decoupled weight decay, as AdamW (`L2` with `L2_is_weight_decay`);
        never applied to biases and LayerNorm weights.
    l2 (float): Plain L2 penalty added to the gradient (`L2` without `L2_is_weight_decay`).
    grad_clip (float): Max global norm of the gradient (`grad_clip`); 0 turns clipping off.
    """

    learn_rate: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    l2: float = 0.0
    grad_clip: float = 1.0


def _no_decay(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith("bias") or "layernorm" in lowered or "layer_norm" in lowered


class NLITrainer:
    """Accumulates gradients of the fine-tuning loss on the backend's model and steps it.

    backend (NLIBackend): The shared backend; its model is updated in place.
    freeze_embeddings (bool): Keep the word embeddings fixed (the zero-shot vocabulary
        semantics of words absent from a few examples stay intact).
    l2_sp (float): Strength of the L2-SP penalty (Li et al. 2018, "Explicit Inductive Bias
        for Transfer Learning with Convolutional Networks"): `l2_sp * ||w - w0||^2` pulls the
        weights toward the pretrained ones; 0 turns it off (no copy of the weights kept).
    """

    def __init__(self, backend: "NLIBackend", *, freeze_embeddings: bool = True, l2_sp: float = 0.0) -> None:
        if isinstance(l2_sp, bool) or not isinstance(l2_sp, (int, float)) or not l2_sp >= 0:
            raise ValueError(Errors.E302.format(value=l2_sp))
        self.backend = backend
        self.freeze_embeddings = bool(freeze_embeddings)
        self.l2_sp = float(l2_sp)
        self.steps = 0
        self.pending = False  # gradients accumulated since the last step
        self._optimizer: Any = None
        self._anchor: Optional[Dict[str, "torch.Tensor"]] = None
        self._named: List[Tuple[str, "torch.nn.Parameter"]] = []

    # Setup -----------------------------------------------------------------------------

    def _model(self) -> Any:
        model = self.backend.trainable_model()
        if not self._named:
            if self.freeze_embeddings:
                embeddings = model.get_input_embeddings()
                if embeddings is not None:
                    embeddings.weight.requires_grad_(False)
            self._named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
            if self.l2_sp:
                self._anchor = {n: p.detach().clone() for n, p in self._named}
        return model

    def _make_optimizer(self) -> Any:
        import torch

        decay = [p for n, p in self._named if not _no_decay(n)]
        plain = [p for n, p in self._named if _no_decay(n)]
        groups = [{"params": decay, "decay": True}, {"params": plain, "decay": False}]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=1e-5, weight_decay=0.0)

    # Loss ------------------------------------------------------------------------------

    def logits(self, pairs: Sequence[Tuple[str, str]], *, dropout: bool) -> "torch.Tensor":
        """Logits of `pairs` with gradients, tokenized and length-batched exactly as scoring
        does (the same truncation). Repeated pairs run once.

        RETURNS (torch.Tensor): float32, shape (len(pairs), n_classes), in input order.
        """
        unique, inverse = deduplicate([(str(p), str(h)) for p, h in pairs])
        features, lengths = self.backend.encode(unique)
        return self._forward(features, lengths, inverse, dropout)

    def _forward(
        self, features: Dict[str, List[List[int]]], lengths: List[int], rows: Sequence[int], dropout: bool
    ) -> "torch.Tensor":
        """Logits with gradients of the encoded pairs `rows` (repeats allowed, run once)."""
        import torch

        model = self._model()
        model.train(dropout)
        unique, inverse = deduplicate(list(rows))
        sub_lengths = [lengths[i] for i in unique]
        order: List[int] = []
        chunks = []
        for batch in plan_batches(sub_lengths, self.backend.batch_tokens, self.backend.max_batch_pairs):
            chunks.append(model(**self.backend.tensors(features, [unique[i] for i in batch], lengths)).logits.float())
            order.extend(batch)
        model.eval()
        stacked = torch.cat(chunks)
        position = torch.empty(len(order), dtype=torch.long)
        position[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
        return stacked[position[torch.tensor(inverse, dtype=torch.long)].to(stacked.device)]

    def loss(self, groups: Sequence[TrainGroup], *, dropout: bool = False) -> Tuple["torch.Tensor", int]:
        """The mean loss over the decisions of `groups` (see `losses.batch_loss`), with
        gradients, from one graph. RETURNS (loss, number of decisions)."""
        import torch

        pairs = [pair for group in groups for pair in group.pairs]
        if not pairs:
            return torch.zeros((), requires_grad=False), 0
        logits = self.logits(pairs, dropout=dropout)
        return batch_loss(logits, groups, self.backend.entailment_index, self.backend.contradiction_index)

    def accumulate(self, groups: Sequence[TrainGroup], *, dropout: bool = False, learn: bool = True) -> float:
        """Add the gradient of the groups' mean loss to the model's (without a step).

        Groups are backpropagated in chunks of about `GRAPH_BATCHES` forward batches of
        padded tokens each, so that a batch of long documents (many windows) never holds
        the activations of all its pairs at once; the gradient is the same as one graph's.

        learn (bool): False computes the loss only (a frozen model): no gradient, no change.
        RETURNS (float): The loss value (0.0 when there is nothing to learn).
        """
        with self.backend.lock:  # no scoring while the model is in training mode
            return self._accumulate(groups, dropout, learn)

    def _accumulate(self, groups: Sequence[TrainGroup], dropout: bool, learn: bool) -> float:
        import torch

        total = sum(group.decisions for group in groups)
        if not total:
            return 0.0
        if not learn:
            with torch.no_grad():
                loss, _ = self.loss(groups, dropout=False)
            return float(loss)
        unique, inverse = deduplicate([pair for group in groups for pair in group.pairs])
        features, lengths = self.backend.encode(unique)
        value = 0.0
        for chunk, rows in self._chunks(groups, inverse, lengths):
            logits = self._forward(features, lengths, rows, dropout)
            loss, count = batch_loss(logits, chunk, self.backend.entailment_index, self.backend.contradiction_index)
            if count:
                (loss * (count / total)).backward()
                value += float(loss.detach()) * count / total
                self.pending = True
        return value

    def _chunks(
        self, groups: Sequence[TrainGroup], inverse: Sequence[int], lengths: Sequence[int]
    ) -> Iterator[Tuple[List[TrainGroup], List[int]]]:
        """Consecutive groups whose pairs' tokens stay within the graph budget (a group
        larger than the budget forms a chunk of its own)."""
        budget = self.backend.batch_tokens * GRAPH_BATCHES
        chunk: List[TrainGroup] = []
        rows: List[int] = []
        tokens = 0
        start = 0
        for group in groups:
            size = len(group.pairs)
            group_rows = list(inverse[start : start + size])
            start += size
            group_tokens = sum(lengths[i] for i in group_rows)
            if chunk and tokens + group_tokens > budget:
                yield chunk, rows
                chunk, rows, tokens = [], [], 0
            chunk.append(group)
            rows.extend(group_rows)
            tokens += group_tokens
        if chunk:
            yield chunk, rows

    # Step ------------------------------------------------------------------------------

    def step(self, settings: StepSettings) -> bool:
        """One AdamW step with the accumulated gradients, then clear them and tell the
        backend its weights changed. RETURNS (bool): False when no gradient was pending."""
        with self.backend.lock:  # no forward pass reads weights half-way through the step
            return self._step(settings)

    def _step(self, settings: StepSettings) -> bool:
        import torch

        if not self.pending:
            return False
        self._model()
        if self._optimizer is None:
            self._optimizer = self._make_optimizer()
        params = [p for _, p in self._named]
        with torch.no_grad():
            for name, param in self._named:
                if param.grad is None:
                    continue
                if settings.l2:
                    param.grad.add_(param, alpha=settings.l2)
                if self._anchor is not None:
                    param.grad.add_(param - self._anchor[name], alpha=2.0 * self.l2_sp)
        if settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        for group in self._optimizer.param_groups:
            group["lr"] = settings.learn_rate
            group["betas"] = (settings.beta1, settings.beta2)
            group["eps"] = settings.eps
            group["weight_decay"] = settings.weight_decay if group["decay"] else 0.0
        self._optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)
        self.pending = False
        self.steps += 1
        self.backend.weights_changed()
        return True

    def discard(self) -> None:
        """Drop accumulated gradients without a step."""
        for _, param in self._named:
            param.grad = None
        self.pending = False
