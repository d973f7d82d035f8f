"""The training core (no spaCy): groups, the losses' maths, gradients, the trainer's steps."""

import math
from typing import List

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_zeroshot import NLIBackend
from spacy_zeroshot.maths import candidate_scores, exclusive_scores, multilabel_scores
from spacy_zeroshot.training import NLITrainer, StepSettings, TrainGroup, make_group
from spacy_zeroshot.training.losses import batch_loss, group_loss

LAYOUTS = [
    {0: "entailment", 1: "neutral", 2: "contradiction"},
    {0: "contradiction", 1: "entailment", 2: "neutral"},
    {0: "contradiction", 1: "neutral", 2: "entailment"},
    {0: "entailment", 1: "not_entailment"},
]


def test_group_rejects_bad_targets() -> None:
    with pytest.raises(ValueError, match="E301"):
        TrainGroup(("p",), (("a",), ("b",)), True, 2)
    with pytest.raises(ValueError, match="E301"):
        TrainGroup(("p",), (("a", "a2"), ("b",)), True, 0)
    with pytest.raises(ValueError, match="E301"):
        TrainGroup(("p",), (("a",),), False, (1.5,))
    with pytest.raises(ValueError, match="E301"):
        TrainGroup(("p",), (("a",), ("b",)), False, (1.0,))
    with pytest.raises(ValueError, match="E301"):
        TrainGroup((), (("a",),), False, (1.0,))


def test_make_group_follows_the_pipeline_rule() -> None:
    # One option is scored entailment vs contradiction, as the zero-shot pipeline does.
    single = make_group(["p"], [["h"]], exclusive=True, gold=0)
    assert single is not None and not single.exclusive and single.target == (1.0,)
    assert make_group(["p"], [["a"], ["b"]], exclusive=True, gold=None) is None
    assert make_group(["p"], [["a"], ["b"]], exclusive=False, targets=[None, None]) is None
    group = make_group(["w1", "w2"], [["a"], ["b"]], exclusive=True, gold=1)
    assert group is not None and group.pairs == [("w1", "a"), ("w1", "b"), ("w2", "a"), ("w2", "b")]
    assert group.decisions == 1
    multi = make_group(["p"], [["a"], ["b"], ["c"]], exclusive=False, targets=[1.0, None, 0.0])
    assert multi is not None and multi.decisions == 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(-8, 8), min_size=3, max_size=3), min_size=2, max_size=6),
    st.integers(0, 5),
    st.sampled_from(LAYOUTS[:3]),
)
def test_listwise_loss_is_minus_log_exclusive_score(rows: List[List[float]], gold: int, layout: dict) -> None:
    gold = gold % len(rows)
    ent = next(i for i, v in layout.items() if v == "entailment")
    contra = next(i for i, v in layout.items() if v == "contradiction")
    logits = np.array(rows, dtype=np.float32)
    group = TrainGroup(("p",), tuple((f"h{i}",) for i in range(len(rows))), True, gold)
    loss, n = group_loss(torch.tensor(logits), group, ent, contra)
    assert n == 1
    assert float(loss) == pytest.approx(-math.log(exclusive_scores(logits, ent)[gold]), rel=1e-5, abs=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(-8, 8), min_size=3, max_size=3), min_size=1, max_size=5),
    st.lists(st.sampled_from([None, 0.0, 1.0, 0.3]), min_size=5, max_size=5),
)
def test_two_way_loss_is_minus_log_multilabel_score(rows: List[List[float]], targets: list) -> None:
    targets = targets[: len(rows)]
    if all(t is None for t in targets):
        targets[0] = 1.0
    logits = np.array(rows, dtype=np.float32)
    p = multilabel_scores(logits, 2, 0)
    group = TrainGroup(("p",), tuple((f"h{i}",) for i in range(len(rows))), False, tuple(targets))
    loss, n = group_loss(torch.tensor(logits), group, 2, 0)
    expected = -sum(t * math.log(pi) + (1 - t) * math.log(1 - pi) for t, pi in zip(targets, p) if t is not None)
    assert n == sum(t is not None for t in targets)
    assert float(loss) == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_templates_and_windows_aggregate_as_inference() -> None:
    # Two windows x (option a: 2 templates, option b: 1): max over templates, then windows.
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    group = TrainGroup(("w1", "w2"), (("a1", "a2"), ("b",)), False, (1.0, 0.0), "max")
    p = 1 / (1 + np.exp(-(logits[:, 2] - logits[:, 0]).numpy().reshape(2, 3)))
    p_a = max(p[0, :2].max(), p[1, :2].max())
    p_b = max(p[0, 2], p[1, 2])
    loss, _ = group_loss(logits, group, 2, 0)
    assert float(loss) == pytest.approx(-math.log(p_a) - math.log(1 - p_b), rel=1e-5)
    mean = TrainGroup(("w1", "w2"), (("a",), ("b",), ("c",)), True, 2, "mean")
    logits = torch.randn(6, 3)
    scores = np.stack([candidate_scores(w, 2, 0, False) for w in logits.numpy().reshape(2, 3, 3)]).mean(axis=0)
    loss, _ = group_loss(logits, mean, 2, 0)
    assert float(loss) == pytest.approx(-math.log(scores[2]), rel=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradients_reach_only_entailment_and_contradiction(layout: dict) -> None:
    ent = next(i for i, v in layout.items() if v == "entailment")
    contra = next(i for i, v in layout.items() if v in ("contradiction", "not_entailment"))
    logits = torch.randn(5, len(layout), requires_grad=True)
    groups = [
        TrainGroup(("p",), (("a",), ("b",), ("c",)), True, 1),
        TrainGroup(("q",), (("a",), ("b",)), False, (1.0, 0.0)),
    ]
    loss, count = batch_loss(logits, groups, ent, contra)
    loss.backward()
    assert count == 3
    grad = logits.grad.abs().sum(dim=0)
    assert grad[ent] > 0 and grad[contra] > 0
    for other in set(range(len(layout))) - {ent, contra}:
        assert grad[other] == 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_trainer_learns_whatever_the_class_layout(make_model, layout: dict) -> None:
    backend = NLIBackend(make_model("deberta", layout), device="cpu")
    trainer = NLITrainer(backend)
    groups = [
        make_group(["one day I will see the world"], [["It is travel."], ["It is cooking."]], exclusive=True, gold=0),
        make_group(["The team won the match."], [["It is sports."]], exclusive=True, gold=0),
    ]
    seen = []
    classifier = backend.model.classifier

    def capture(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        output.register_hook(seen.append)

    handle = classifier.register_forward_hook(capture)
    first = trainer.accumulate(groups)
    handle.remove()
    grad = torch.cat(seen).abs().sum(dim=0)
    ent, contra = backend.entailment_index, backend.contradiction_index
    assert all(grad[k] == 0 for k in range(len(layout)) if k not in (ent, contra))
    assert trainer.step(StepSettings(learn_rate=1e-2))
    for _ in range(5):
        trainer.accumulate(groups)
        trainer.step(StepSettings(learn_rate=1e-2))
    with torch.no_grad():
        last, _ = trainer.loss(groups)
    assert float(last) < first


def test_step_without_gradients_does_nothing(deberta_path: str) -> None:
    trainer = NLITrainer(NLIBackend(deberta_path, device="cpu"))
    assert trainer.step(StepSettings(learn_rate=1e-3)) is False
    assert trainer.steps == 0


def test_frozen_embeddings_and_l2_sp(deberta_path: str) -> None:
    backend = NLIBackend(deberta_path, device="cpu")
    model = backend.model
    embeddings = model.get_input_embeddings().weight.detach().clone()
    group = make_group(["The team won the match."], [["It is sports."], ["It is cooking."]], exclusive=True, gold=0)
    free = NLITrainer(backend, freeze_embeddings=True)
    free.accumulate([group])
    free.step(StepSettings(learn_rate=1e-2))
    assert torch.equal(model.get_input_embeddings().weight, embeddings)

    def moved(l2_sp: float) -> float:
        fresh = NLIBackend(deberta_path, device="cpu")
        start = {n: p.detach().clone() for n, p in fresh.model.named_parameters()}
        trainer = NLITrainer(fresh, l2_sp=l2_sp)
        for _ in range(6):
            trainer.accumulate([group])
            trainer.step(StepSettings(learn_rate=1e-2, grad_clip=0.0))
        return sum(float((p.detach() - start[n]).norm()) for n, p in fresh.model.named_parameters())

    assert moved(50.0) < moved(0.0)
    with pytest.raises(ValueError, match="E302"):
        NLITrainer(backend, l2_sp=-1.0)


def test_frozen_loss_changes_nothing(deberta_path: str) -> None:
    backend = NLIBackend(deberta_path, device="cpu")
    trainer = NLITrainer(backend)
    group = make_group(["The team won the match."], [["It is sports."], ["It is cooking."]], exclusive=True, gold=0)
    loss = trainer.accumulate([group], learn=False)
    assert loss > 0 and not trainer.pending
    assert all(p.grad is None for p in backend.model.parameters())


def test_step_refreshes_cache_and_lossy_runner(deberta_path: str) -> None:
    backend = NLIBackend(deberta_path, device="cpu", dtype="bfloat16", cache_size=100, recheck_margin=0.1)
    pairs = [("The team won the match.", "It is sports."), ("one day I will see the world", "It is travel.")]
    before = backend.score(pairs)
    assert backend.cache_info()["entries"] == 2
    trainer = NLITrainer(backend)
    trainer.accumulate([make_group([p], [[h]], exclusive=False, targets=[1.0]) for p, h in pairs])
    trainer.step(StepSettings(learn_rate=5e-2))
    assert backend.cache_info()["entries"] == 0
    after = backend.score(pairs)
    exact = backend.score(pairs, exact=True)
    assert not np.allclose(before, after, atol=1e-3)
    # The bfloat16 runner was rebuilt from the new float32 weights: it agrees with them.
    assert np.allclose(after, exact, atol=0.05)
    assert not backend.model.training


def test_float16_weights_train_in_float32(deberta_path: str) -> None:
    backend = NLIBackend(deberta_path, device="cpu")
    backend.model.half()
    trainer = NLITrainer(backend)
    group = make_group(["The team won the match."], [["It is sports."], ["It is cooking."]], exclusive=True, gold=0)
    trainer.accumulate([group])
    trainer.step(StepSettings(learn_rate=1e-3))
    assert backend.model.dtype == torch.float32
    assert backend.score([("The team won the match.", "It is sports.")]).shape == (1, 3)


def test_chunked_accumulation_equals_one_graph(deberta_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from spacy_zeroshot.training import trainer as trainer_module

    texts = ["The team won the match.", "one day I will see the world", "She cooked pasta with tomatoes."] * 3
    groups = [
        make_group([t + f" {i}"], [["It is sports."], ["It is travel."], ["It is cooking."]], exclusive=True, gold=i % 3)
        for i, t in enumerate(texts)
    ]

    def grads(graph_batches: float) -> tuple:
        monkeypatch.setattr(trainer_module, "GRAPH_BATCHES", graph_batches)
        backend = NLIBackend(deberta_path, device="cpu", batch_tokens=64)
        trainer = NLITrainer(backend)
        value = trainer.accumulate(groups)
        return value, {n: p.grad.clone() for n, p in backend.model.named_parameters() if p.grad is not None}

    whole_value, whole = grads(1000)
    chunked_value, chunked = grads(0.5)  # every group a graph of its own
    assert chunked_value == pytest.approx(whole_value, rel=1e-5)
    assert set(whole) == set(chunked)
    assert all(torch.allclose(whole[n], chunked[n], atol=1e-6, rtol=1e-4) for n in whole)
