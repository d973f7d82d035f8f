"""`recheck_margin`: close calls of a lossy dtype are scored again in float32."""

import entity_pipelines as ents
import numpy as np
import pytest
from test_relations_component import TEXTS as REL_TEXTS
from test_relations_component import build as build_relations

from spacy_zeroshot.backend import NLIBackend
from spacy_zeroshot.maths import is_close_call

TEXTS = [
    "one day I will see the world",
    "Shares fell sharply after the company reported weaker profits.",
    "The team won the match and the fans celebrated in the stadium all night.",
    "",
    "Paris is the capital of France.",
    "She cooked pasta with tomatoes, garlic and basil for her family.",
]
LABELS = ["travel", "business", "sports", "cooking", "politics"]
EVERYTHING = 1e9  # a margin every decision falls within


def test_is_close_call_ranked():
    scores = np.array([0.50, 0.30, 0.20])
    gap = np.log(0.50 / 0.30)  # the entailment-logit gap of the best two, for a softmax
    assert is_close_call(scores, gap + 1e-6, ranked=True)
    assert not is_close_call(scores, gap - 1e-6, ranked=True)
    assert not is_close_call(scores, 0.0, ranked=True)
    assert not is_close_call(np.array([0.9]), 10.0, ranked=True)  # one candidate: nothing to rank
    assert not is_close_call(np.zeros(0), 10.0, ranked=True)


def test_is_close_call_thresholds():
    scores = np.array([0.62, 0.1])
    distance = np.log(0.62 / 0.38)  # log-odds of 0.62 minus log-odds of 0.5
    assert is_close_call(scores, distance + 1e-6, ranked=False, thresholds=[0.5, 0.5])
    assert not is_close_call(scores, distance - 1e-6, ranked=False, thresholds=[0.5, 0.5])
    # Thresholds of 0 and 1 decide nothing that an error could change.
    assert not is_close_call(scores, 100.0, ranked=False, thresholds=[0.0, 1.0])
    assert is_close_call(np.array([1.0, 0.0]), 1.0, ranked=False, thresholds=[0.999999999999, 0.0])


def test_recheck_margin_is_validated(deberta_path):
    for bad in (-0.1, "0.1", True, float("nan")):
        with pytest.raises(ValueError, match="E253"):
            NLIBackend(deberta_path, recheck_margin=bad)
    backend = NLIBackend(deberta_path, device="cpu", dtype="bfloat16").load()
    with pytest.raises(ValueError, match=r"E254.*set `NLIBackend\(\.\.\., recheck_margin=\.\.\.\)` > 0"):
        backend.score([("a text", "This example is b.")], exact=True)


def _textcat(make_nlp, multi_label=False, **nli):
    nlp = make_nlp(
        "zeroshot_textcat", {"labels": LABELS, "multi_label": multi_label, "threshold": 0.5}, **nli
    )
    return nlp, [dict(doc.cats) for doc in nlp.pipe(TEXTS)]


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("dtype", ["bfloat16", "int8"])
def test_textcat_recheck_everything_gives_float32_scores(make_nlp, dtype, multi_label):
    _, exact = _textcat(make_nlp, multi_label, dtype="float32")
    _, lossy = _textcat(make_nlp, multi_label, dtype=dtype)
    nlp, rechecked = _textcat(make_nlp, multi_label, dtype=dtype, recheck_margin=EVERYTHING)
    assert max(abs(lossy[i][k] - exact[i][k]) for i in range(len(TEXTS)) for k in LABELS) > 1e-6
    for got, want in zip(rechecked, exact):
        assert got == pytest.approx(want, abs=1e-6)
    stats = nlp.get_pipe("zeroshot_nli").backend.stats
    assert stats["rechecked"] == stats["scored"] == (len(TEXTS) - 1) * len(LABELS)


def test_textcat_recheck_only_close_calls(make_nlp):
    """Docs whose lossy decision is clear keep their lossy scores; close ones get float32's."""
    _, exact = _textcat(make_nlp, dtype="float32")
    _, lossy = _textcat(make_nlp, dtype="bfloat16")
    gaps = []
    for cats in lossy[:3] + lossy[4:]:
        top2 = sorted(cats.values())[-2:]
        gaps.append(np.log(top2[1] / top2[0]))
    # About half the docs are close calls. The margin lies halfway between two docs' gaps: a
    # margin equal to a gap would leave that doc to float rounding (the backend measures gaps in
    # logits, this test in log score ratios).
    distinct = sorted(set(gaps))
    middle = len(distinct) // 2
    margin = float(distinct[middle - 1] + distinct[middle]) / 2
    nlp, rechecked = _textcat(make_nlp, dtype="bfloat16", recheck_margin=margin)
    n_close = 0
    for got, bf16, want in zip(rechecked, lossy, exact):
        if not any(want.values()):
            continue  # the empty doc: no model call
        top2 = sorted(bf16.values())[-2:]
        if np.log(top2[1] / top2[0]) < margin:
            n_close += 1
            assert got == pytest.approx(want, abs=1e-6)
        else:
            assert got == pytest.approx(bf16, abs=1e-6)
    assert 0 < n_close < len(TEXTS) - 1
    assert nlp.get_pipe("zeroshot_nli").backend.stats["rechecked"] == n_close * len(LABELS)


def test_recheck_has_no_effect_in_float32(make_nlp):
    nlp, cats = _textcat(make_nlp, dtype="float32", recheck_margin=EVERYTHING)
    _, exact = _textcat(make_nlp, dtype="float32")
    assert cats == exact
    assert nlp.get_pipe("zeroshot_nli").backend.stats["rechecked"] == 0


def test_recheck_keeps_lossy_and_exact_cache_entries_apart(make_nlp):
    _, exact = _textcat(make_nlp, dtype="float32")
    nlp, first = _textcat(make_nlp, dtype="bfloat16", recheck_margin=EVERYTHING, cache_size=1000)
    again = [dict(doc.cats) for doc in nlp.pipe(TEXTS)]
    for a, b, want in zip(first, again, exact):
        assert a == pytest.approx(want, abs=1e-6) and b == pytest.approx(want, abs=1e-6)
    assert nlp.get_pipe("zeroshot_nli").backend.cache_info()["hits"] > 0


def test_entities_recheck_everything_gives_float32_results(deberta_path):
    typer = {"labels": ents.TYPES, "threshold": 0.3}
    linker = {"candidates": ents.INLINE_SOURCE, "threshold": 0.3}
    texts = [t for t in ents.TEXTS if t.strip()]
    exact = [ents.spans_of(d) for d in ents.build(deberta_path, typer, linker).pipe(texts)]
    nlp = ents.build(deberta_path, typer, linker, nli={"dtype": "bfloat16", "recheck_margin": EVERYTHING})
    for doc, want in zip(nlp.pipe(texts), exact):
        ents.assert_same_spans(ents.spans_of(doc), want, abs_tol=1e-6)
    assert nlp.get_pipe("zeroshot_nli").backend.stats["rechecked"] > 0


def test_relations_recheck_everything_gives_float32_results(deberta_path):
    config = {"threshold": 0.5}
    exact = [doc._.relations for doc in build_relations(deberta_path, config, dtype="float32").pipe(REL_TEXTS)]
    nlp = build_relations(deberta_path, config, dtype="bfloat16", recheck_margin=EVERYTHING)
    got = [doc._.relations for doc in nlp.pipe(REL_TEXTS)]
    assert [[(r["head"], r["tail"], r["label"]) for r in d] for d in got] == [
        [(r["head"], r["tail"], r["label"]) for r in d] for d in exact
    ]
    for a, b in zip(got, exact):
        for x, y in zip(a, b):
            assert x["scores"] == pytest.approx(y["scores"], abs=1e-6)
    assert nlp.get_pipe("zeroshot_nli").backend.stats["rechecked"] > 0
