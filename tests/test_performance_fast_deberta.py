"""The fast DeBERTa-v2/v3 attention path: same logits as stock transformers, stock weights on disk."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from spacy_zeroshot.backend import NLIBackend, fast_deberta

PREMISES = [
    "one day I will see the world",
    "The team won the match and the fans celebrated in the stadium all night. " * 2,
    "Paris",
    "Shares fell sharply after the company reported weaker profits than expected.",
]


def _load(path):
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    return model, AutoTokenizer.from_pretrained(path)


def _inputs(tokenizer, premises=PREMISES):
    return tokenizer(premises, ["This example is travel."] * len(premises), padding=True, return_tensors="pt")


def test_fast_deberta_matches_stock_logits(deberta_path):
    model, tokenizer = _load(deberta_path)
    with torch.inference_mode():
        expected = model(**_inputs(tokenizer)).logits
        assert fast_deberta.enable(model) == 1
        assert fast_deberta.is_enabled(model)
        got = model(**_inputs(tokenizer)).logits
        # Another length reuses the cached projections with other rows.
        short = model(**_inputs(tokenizer, PREMISES[2:3])).logits
        fast_deberta.disable(model)
        short_expected = model(**_inputs(tokenizer, PREMISES[2:3])).logits
    assert (got - expected).abs().max().item() <= 1e-5
    assert (short - short_expected).abs().max().item() <= 1e-5


def test_fast_deberta_long_inputs_use_log_buckets(deberta_path):
    """The tiny model has 32 position buckets: sequences past 16 tokens hit the log buckets."""
    model, tokenizer = _load(deberta_path)
    inputs = _inputs(tokenizer, [PREMISES[1] * 2, PREMISES[0]])
    assert inputs["input_ids"].shape[1] > 64
    with torch.inference_mode():
        expected = model(**inputs).logits
        fast_deberta.enable(model)
        got = model(**inputs).logits
    assert (got - expected).abs().max().item() <= 1e-5


def test_fast_deberta_recomputes_after_weight_change(deberta_path):
    model, tokenizer = _load(deberta_path)
    fast_deberta.enable(model)
    with torch.inference_mode():
        before = model(**_inputs(tokenizer)).logits
    with torch.no_grad():  # noise, not a scale, which the layer norm of the embeddings would undo
        model.deberta.encoder.rel_embeddings.weight.add_(torch.randn_like(model.deberta.encoder.rel_embeddings.weight))
    with torch.inference_mode():
        after = model(**_inputs(tokenizer)).logits
        fast_deberta.disable(model)
        stock = model(**_inputs(tokenizer)).logits
    assert not torch.allclose(before, after)
    assert (after - stock).abs().max().item() <= 1e-5


def test_fast_deberta_falls_back_when_grad_enabled(deberta_path):
    model, tokenizer = _load(deberta_path)
    with torch.no_grad():
        expected = model(**_inputs(tokenizer)).logits
    fast_deberta.enable(model)
    logits = model(**_inputs(tokenizer)).logits  # autograd on: the stock path runs
    assert logits.requires_grad
    assert (logits.detach() - expected).abs().max().item() <= 1e-6


def test_fast_deberta_under_bfloat16_autocast(deberta_path):
    model, tokenizer = _load(deberta_path)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(**_inputs(tokenizer)).logits.float()
        fast_deberta.enable(model)
        got = model(**_inputs(tokenizer)).logits.float()
    with torch.inference_mode():
        exact = model(**_inputs(tokenizer)).logits  # float32 after bfloat16: no stale cache
    assert (got - expected).abs().max().item() <= 0.05
    assert exact.dtype == torch.float32


def test_fast_deberta_leaves_other_architectures_alone(bert_path):
    model, _ = _load(bert_path)
    assert not fast_deberta.supports(model)
    assert fast_deberta.enable(model) == 0


def test_fast_deberta_saves_stock_weights(deberta_path, tmp_path):
    model, tokenizer = _load(deberta_path)
    keys = set(model.state_dict())
    fast_deberta.enable(model)
    with torch.inference_mode():
        model(**_inputs(tokenizer))  # fill the caches
    assert set(model.state_dict()) == keys
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(reloaded.deberta.encoder).__name__ == "DebertaV2Encoder"
    with torch.inference_mode():
        assert torch.equal(reloaded(**_inputs(tokenizer)).logits, model(**_inputs(tokenizer)).logits)


@pytest.mark.parametrize("optimize", [True, False])
def test_backend_optimize_flag(deberta_path, optimize):
    backend = NLIBackend(deberta_path, device="cpu", optimize=optimize).load()
    assert fast_deberta.is_enabled(backend.model) is optimize
    pairs = [(p, "This example is travel.") for p in PREMISES]
    stock = NLIBackend(deberta_path, device="cpu", optimize=False).score(pairs)
    assert np.abs(backend.score(pairs) - stock).max() <= 1e-5


def test_backend_optimize_other_architecture_scores(bert_path):
    backend = NLIBackend(bert_path, device="cpu", optimize=True)
    assert backend.score([(PREMISES[0], "It is travel.")]).shape == (1, 3)
    assert not fast_deberta.is_enabled(backend.model)


def test_fast_deberta_under_no_grad_after_inference_mode(deberta_path):
    """Caches filled under inference_mode are usable under plain no_grad."""
    model, tokenizer = _load(deberta_path)
    with torch.inference_mode():
        expected = model(**_inputs(tokenizer)).logits
    fast_deberta.enable(model)
    with torch.inference_mode():
        model(**_inputs(tokenizer))
    with torch.no_grad():
        got = model(**_inputs(tokenizer)).logits
    assert (got - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("activation", ["gelu", "relu", "gelu_new"])
def test_fast_deberta_feed_forward_activations_match_stock(deberta_path, tmp_path, activation):
    """Exact GELU runs in place on the fast path; any other activation runs as configured."""
    model, tokenizer = _load(deberta_path)
    model.config.hidden_act = activation
    model.save_pretrained(tmp_path)
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.inference_mode():
        expected = model(**_inputs(tokenizer)).logits
        fast_deberta.enable(model)
        got = model(**_inputs(tokenizer)).logits
    assert (got - expected).abs().max().item() <= 1e-5


def _variant(deberta_path, tmp_path, **config):
    model, tokenizer = _load(deberta_path)
    for key, value in config.items():
        setattr(model.config, key, value)
    model.save_pretrained(tmp_path)
    torch.manual_seed(0)  # weights the variant adds (separate position projections) are random
    return AutoModelForSequenceClassification.from_pretrained(tmp_path).eval(), tokenizer


@pytest.mark.parametrize(
    "config",
    [{}, {"pos_att_type": ["c2p"]}, {"pos_att_type": ["p2c"]}, {"share_att_key": False}],
    ids=["c2p+p2c", "c2p", "p2c", "separate-position-projections"],
)
def test_first_token_only_matches_stock_logits(deberta_path, tmp_path, config):
    """The last layer for the first token alone: same logits, short and log-bucketed lengths."""
    model, tokenizer = _variant(deberta_path, tmp_path, **config)
    batches = [_inputs(tokenizer), _inputs(tokenizer, [PREMISES[1] * 2, PREMISES[0]])]
    assert batches[1]["input_ids"].shape[1] > 64  # past the 16 exact positions of the tiny model
    with torch.inference_mode():
        expected = [model(**inputs).logits for inputs in batches]
        fast_deberta.enable(model)
        with fast_deberta.first_token_only(model) as applies:
            outputs = [model(**inputs) for inputs in batches]
        after = model(**batches[0])
    assert applies
    for output, logits in zip(outputs, expected):
        assert (output.logits - logits).abs().max().item() <= 1e-5
        assert output.hidden_states is None
    assert outputs[0].logits.shape == expected[0].shape
    # Only inside the block: afterwards every token's state is computed again.
    assert after.logits.shape == expected[0].shape
    assert (after.logits - expected[0]).abs().max().item() <= 1e-5


def test_first_token_only_states_inside_and_after_the_block(deberta_path):
    model, tokenizer = _load(deberta_path)
    fast_deberta.enable(model)
    inputs = _inputs(tokenizer)
    with torch.inference_mode():
        full = model.deberta(**inputs).last_hidden_state
        with fast_deberta.first_token_only(model):
            first = model.deberta(**inputs).last_hidden_state
        again = model.deberta(**inputs).last_hidden_state
    assert first.shape == (full.shape[0], 1, full.shape[2])
    assert (first[:, 0] - full[:, 0]).abs().max().item() <= 1e-5
    assert torch.equal(again, full)


def test_first_token_only_applies_only_to_fast_first_token_classifiers(deberta_path, bert_path):
    deberta, _ = _load(deberta_path)
    with fast_deberta.first_token_only(deberta) as applies:  # stock classes: nothing to switch
        assert not applies
    fast_deberta.enable(deberta)
    with fast_deberta.first_token_only(deberta.deberta) as applies:  # the bare encoder model has no head
        assert not applies
    deberta.pooler = torch.nn.Identity()  # a head that reads every token
    with fast_deberta.first_token_only(deberta) as applies:
        assert not applies
    bert, _ = _load(bert_path)
    with fast_deberta.first_token_only(bert) as applies:
        assert not applies


def test_first_token_only_under_bfloat16_autocast(deberta_path):
    model, tokenizer = _load(deberta_path)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(**_inputs(tokenizer)).logits.float()
        fast_deberta.enable(model)
        with fast_deberta.first_token_only(model):
            got = model(**_inputs(tokenizer)).logits.float()
    assert (got - expected).abs().max().item() <= 0.05


def test_backend_scores_the_last_layer_for_the_first_token_only(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu").load()
    tokens = []
    last = backend.model.deberta.encoder.layer[-1]
    hook = last.intermediate.dense.register_forward_hook(lambda module, args, out: tokens.append(args[0].shape[1]))
    try:
        pairs = [(p, "This example is travel.") for p in PREMISES]
        scores = backend.score(pairs)
    finally:
        hook.remove()
    assert tokens and set(tokens) == {1}
    stock = NLIBackend(deberta_path, device="cpu", optimize=False).score(pairs)
    assert np.abs(scores - stock).max() <= 1e-5


def test_fast_deberta_casts_states_once_under_autocast(deberta_path, monkeypatch):
    """Under CPU autocast the query, key and value projections read one bfloat16 copy of the
    states instead of three: the same values autocast makes, so the logits are identical."""
    from spacy_zeroshot.backend.runtime import cast_linears

    model, tokenizer = _load(deberta_path)
    fast_deberta.enable(model)
    runner = cast_linears(model, torch.bfloat16)
    inputs = _inputs(tokenizer)

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            with fast_deberta.first_token_only(runner):
                return runner(**inputs).logits.float()

    casts = []
    cast_once = fast_deberta._autocast_input
    monkeypatch.setattr(fast_deberta, "_autocast_input", lambda states: casts.append(states.dtype) or cast_once(states))
    once = run()
    assert casts and set(casts) == {torch.float32}  # it saw float32 states and cast them
    monkeypatch.setattr(fast_deberta, "_autocast_input", lambda states: states)  # autocast casts per projection
    assert torch.equal(once, run())


def test_fast_deberta_autocast_input_leaves_states_alone_without_autocast():
    states = torch.randn(2, 3, 4)
    assert fast_deberta._autocast_input(states) is states
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fast_deberta._autocast_input(states).dtype == torch.bfloat16
        half = states.to(torch.bfloat16)
        assert fast_deberta._autocast_input(half) is half
