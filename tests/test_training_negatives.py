"""Negative sampling for independent decisions (relations): positives are not drowned."""

import random
from collections import Counter

import pytest
from spacy.training import Example

from spacy_zeroshot.training import make_group
from spacy_zeroshot.training.groups import TrainGroup
from spacy_zeroshot.training.negatives import sample_negatives


def relation_group(targets, premise="P"):
    options = [[f"{premise} h{i}a", f"{premise} h{i}b"] for i in range(len(targets))]
    return make_group([premise], options, exclusive=False, targets=targets)


def option_targets(group: TrainGroup):
    return {hyps[0].split()[-1][:-1]: t for hyps, t in zip(group.options, group.target)}


def test_sample_negatives_keeps_every_positive_and_k_negatives_each() -> None:
    group = relation_group([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    for seed in range(20):
        (sampled,) = sample_negatives([group], negatives_per_positive=2, no_relation_sample=0.0, rng=random.Random(seed))
        kept = option_targets(sampled)
        assert kept["h1"] == 1.0 and sum(t == 0.0 for t in kept.values()) == 2
        # options keep their order, hypotheses and premise
        assert list(sampled.options) == sorted(sampled.options, key=group.options.index)
        assert sampled.premises == group.premises and not sampled.exclusive
    two = relation_group([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    (sampled,) = sample_negatives([two], negatives_per_positive=1, no_relation_sample=0.0, rng=random.Random(0))
    assert sorted(sampled.target) == [0.0, 0.0, 1.0, 1.0]


def test_sample_negatives_fewer_negatives_than_asked_keeps_them_all() -> None:
    group = relation_group([1.0, 0.0])
    assert sample_negatives([group], negatives_per_positive=5, no_relation_sample=1.0, rng=random.Random(0)) == [group]
    only = relation_group([1.0])
    assert sample_negatives([only], negatives_per_positive=0, no_relation_sample=0.0) == [only]


def test_sample_negatives_samples_unrelated_pairs() -> None:
    unrelated = [relation_group([0.0] * 6, premise=f"P{i}") for i in range(400)]
    rng = random.Random(1)
    kept = sample_negatives(unrelated, negatives_per_positive=3, no_relation_sample=0.25, rng=rng)
    assert 60 < len(kept) < 140
    assert all(len(g.options) == 3 and set(g.target) == {0.0} for g in kept)
    assert sample_negatives(unrelated, negatives_per_positive=3, no_relation_sample=0.0) == []
    assert len(sample_negatives(unrelated, negatives_per_positive=3, no_relation_sample=1.0)) == 400
    # every negative relation gets drawn over many steps
    drawn = Counter(hyps for g in kept for hyps in g.options)
    assert len({h[0].split()[-1] for h in drawn}) == 6


def test_sample_negatives_all_and_exclusive_untouched() -> None:
    groups = [relation_group([0.0, 1.0, 0.0, 0.0]), relation_group([0.0, 0.0]), make_group(["P"], [["a"], ["b"]], exclusive=True, gold=1)]
    assert sample_negatives(groups, negatives_per_positive=-1, no_relation_sample=0.0) == groups
    sampled = sample_negatives(groups, negatives_per_positive=1, no_relation_sample=0.0, rng=random.Random(0))
    assert sampled[-1] is groups[-1] and len(sampled) == 2


def test_sample_negatives_none_targets_are_not_negatives() -> None:
    group = relation_group([None, 1.0, None, 0.0])
    (sampled,) = sample_negatives([group], negatives_per_positive=4, no_relation_sample=0.0, rng=random.Random(0))
    assert list(sampled.target) == [1.0, 0.0]


def test_sample_negatives_follows_the_seeded_global_random() -> None:
    groups = [relation_group([0.0] * 8 + [1.0], premise=f"P{i}") for i in range(10)]
    random.seed(7)
    first = sample_negatives(groups, negatives_per_positive=2, no_relation_sample=0.5)
    second = sample_negatives(groups, negatives_per_positive=2, no_relation_sample=0.5)
    random.seed(7)
    assert sample_negatives(groups, negatives_per_positive=2, no_relation_sample=0.5) == first
    assert first != second  # a new draw at each step


@pytest.mark.parametrize(
    "config,code",
    [({"negatives_per_positive": -2}, "E320"), ({"negatives_per_positive": 1.5}, "negatives_per_positive"),
     ({"no_relation_sample": 1.5}, "E321"), ({"no_relation_sample": -0.1}, "E321"), ({"hard_negatives": 1}, "hard_negatives")],
)
def test_relation_negative_settings_bad_config_raises(deberta_path: str, config, code) -> None:
    from test_relations_component import build

    with pytest.raises(ValueError, match=code):
        build(deberta_path, config)


def test_relation_training_groups_sample_negatives(deberta_path: str) -> None:
    from test_relations_component import build

    text = "Apple was founded by Steve Jobs in California."
    counts = {}
    for k, share in ((-1, 1.0), (1, 0.0), (0, 1.0)):
        nlp = build(deberta_path, {"negatives_per_positive": k, "no_relation_sample": share, "hard_negatives": True})
        rel = nlp.get_pipe("zeroshot_relation_extractor")
        assert (rel.cfg["negatives_per_positive"], rel.cfg["no_relation_sample"]) == (k, share)
        reference = nlp.get_pipe("entity_ruler")(nlp.get_pipe("sentencizer")(nlp.make_doc(text)))
        apple, jobs, _ = [[e.start, e.end] for e in reference.ents]
        reference._.relations = [{"head": apple, "tail": jobs, "label": "founded_by"}]
        groups = rel.training_groups([Example(nlp.make_doc(text), reference)])
        counts[k] = (len(groups), sum(g.decisions for g in groups), sum(t == 1.0 for g in groups for t in g.target))
    assert counts[-1][2] == counts[1][2] == 1
    # the related pair with one of its negatives, and (Apple, California), whose founded_by is
    # a hard negative (it holds between other mentions of the sentence)
    assert counts[1][:2] == (2, 3) and counts[-1][0] > 2
    assert counts[0] == (2, 2, 1)  # no sampled negatives: the positive and the hard negative


def test_sample_negatives_keeps_hard_negatives_of_the_same_premise() -> None:
    names = [f"r{i}" for i in range(8)]
    forward = make_group(["A and B"], [[f"A {n} B."] for n in names], exclusive=False,
                         targets=[1.0 if n == "r3" else 0.0 for n in names], keys=names)
    reverse = make_group(["A and B"], [[f"B {n} A."] for n in names], exclusive=False, targets=[0.0] * 8, keys=names)
    other = make_group(["C and D"], [[f"C {n} D."] for n in names], exclusive=False, targets=[0.0] * 8, keys=names)
    for seed in range(10):
        sampled = sample_negatives([forward, reverse, other], negatives_per_positive=1, no_relation_sample=0.0,
                                   hard_negatives=True, rng=random.Random(seed))
        assert len(sampled) == 2  # the reverse pair is always kept, the unrelated other pair never
        assert sampled[0].keys[sampled[0].target.index(1.0)] == "r3" and len(sampled[0].keys) == 2
        assert sampled[1].keys == ("r3",) and sampled[1].target == (0.0,)  # "B r3 A" is the negative
    assert len(sample_negatives([forward, reverse, other], negatives_per_positive=1, no_relation_sample=0.0)) == 1
    with pytest.raises(ValueError, match="E301"):
        make_group(["P"], [["a"], ["b"]], exclusive=False, targets=[1.0, 0.0], keys=["a"])
