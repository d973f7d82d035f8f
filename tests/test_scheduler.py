"""Property tests of the pair scheduler: every pair scored once, results independent of batching."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_zeroshot.scheduler import deduplicate, plan_batches, row_ranges

lengths_strategy = st.lists(st.integers(min_value=1, max_value=300), max_size=200)


@given(lengths_strategy, st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=70))
def test_plan_batches_covers_every_item_once(lengths, max_tokens, max_pairs):
    batches = plan_batches(lengths, max_tokens, max_pairs)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(batch for batch in batches)


@given(lengths_strategy, st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=70))
def test_plan_batches_respects_budget(lengths, max_tokens, max_pairs):
    for batch in plan_batches(lengths, max_tokens, max_pairs):
        assert len(batch) <= max_pairs
        width = max(lengths[i] for i in batch)
        # A single over-long item may exceed the budget; a batch of several never does.
        assert len(batch) == 1 or width * len(batch) <= max_tokens


@given(
    lengths_strategy,
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=1, max_value=70),
    st.integers(min_value=1, max_value=2_000_000),
)
def test_plan_batches_respects_attention_budget(lengths, max_tokens, max_pairs, max_cells):
    batches = plan_batches(lengths, max_tokens, max_pairs, max_cells)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= max_pairs
        assert len(batch) == 1 or (width * len(batch) <= max_tokens and width * width * len(batch) <= max_cells)


def test_plan_batches_attention_budget_only_cuts_long_items():
    short, long = [66] * 64, [462] * 16
    assert [len(b) for b in plan_batches(short, 8192, 64, 64 * 128 * 128)] == [64]
    assert [len(b) for b in plan_batches(long, 8192, 64)] == [16]  # 17 x 462 > 8192
    assert [len(b) for b in plan_batches(long, 8192, 64, 64 * 128 * 128)] == [4, 4, 4, 4]


@given(lengths_strategy)
def test_plan_batches_sorts_by_length(lengths):
    batches = plan_batches(lengths, 10_000, 16)
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat, reverse=True)


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("xyz")), max_size=100))
def test_deduplicate_inverse_restores_items(items):
    unique, inverse = deduplicate(items)
    assert len(set(unique)) == len(unique) == len(set(items))
    assert [unique[i] for i in inverse] == items


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=1, max_value=20),
)
def test_scheduled_scores_independent_of_batch_size(pairs, max_tokens, max_pairs):
    """Scoring through dedupe + batches + scatter equals scoring each pair directly."""

    def score_one(pair):
        return float(pair[0] * 10 + pair[1])

    unique, inverse = deduplicate(pairs)
    lengths = [p + h + 1 for p, h in unique]
    scored = np.full(len(unique), np.nan)
    calls = 0
    for batch in plan_batches(lengths, max_tokens, max_pairs):
        for i in batch:
            assert np.isnan(scored[i]), "a pair was scored twice"
            scored[i] = score_one(unique[i])
            calls += 1
    assert calls == len(unique)
    assert list(scored[inverse]) == [score_one(p) for p in pairs]


@given(st.lists(st.integers(0, 20), max_size=30))
def test_row_ranges_lay_groups_end_to_end(sizes):
    ranges = row_ranges(sizes)
    assert [end - start for start, end in ranges] == sizes
    assert [start for start, _ in ranges] == [sum(sizes[:i]) for i in range(len(sizes))]
