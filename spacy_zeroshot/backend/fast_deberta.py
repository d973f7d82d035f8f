"""A leaner, numerically equivalent inference path for DeBERTa-v2/v3 disentangled attention.

transformers' DeBERTa-v2 recomputes, in every layer of every forward pass, the query and
key projections of the (layer-normed) relative-position embeddings: two (2 * buckets x hidden)
by (hidden x hidden) products per layer (~14 GFLOP per forward for DeBERTa-v3-base), then
repeats them over the batch and multiplies every query by all 2 * buckets positions although
a sequence of length L can only index the ~2L rows around the centre. At inference these
projections are constants. This module

- caches the per-layer projections (recomputed when a weight changes: keyed by the
  parameters' storage and version counters),
- keeps only the rows that the current length can index, and
- broadcasts them over the batch instead of repeating them.

Inside `first_token_only(model)` (what the NLI backend scores under), a sequence classifier
whose head reads only the first token's final state (`ContextPooler`) runs its last layer for
that token alone: keys and values for every token, but the query, attention row, output
projection and feed-forward block for one token (~7% of a base model's forward pass).

The arithmetic per attention score is the same as transformers' (same products, same
scaling and order of additions), so logits agree to float rounding (~1e-6). The patch swaps
the classes of the encoder and attention modules for subclasses: parameters, state dict and
`save_pretrained` output are untouched, training or autograd falls back to the stock code,
and `disable` restores the stock classes.
"""

import contextlib
import functools
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn
from transformers.activations import GELUActivation
from transformers.models.deberta_v2 import modeling_deberta_v2 as stock

_PATCHED = "_spacy_zeroshot_stock_class"
_FIRST_TOKEN = "_fast_first_token"


def supports(model: nn.Module) -> bool:
    """Whether `model` has DeBERTa-v2/v3 relative attention that `enable` can speed up."""
    return any(_is_patchable_encoder(module) for module in model.modules())


def enable(model: nn.Module) -> int:
    """Switch every DeBERTa-v2 encoder in `model` to the fast inference path.

    model (nn.Module): Any model; modules that are not DeBERTa-v2 encoders are left alone.
    RETURNS (int): Number of encoders switched (0 when the model is another architecture).
    """
    count = 0
    for module in model.modules():
        if _is_patchable_encoder(module) and not hasattr(module, _PATCHED):
            setattr(module, _PATCHED, module.__class__)
            module.__class__ = FastDebertaV2Encoder
            module.__dict__["_fast_cache"] = {}
            count += 1
    return count


def disable(model: nn.Module) -> int:
    """Restore the stock transformers classes. RETURNS (int): Number of encoders restored."""
    count = 0
    for module in model.modules():
        original = module.__dict__.pop(_PATCHED, None)
        if original is not None:
            module.__class__ = original
            module.__dict__.pop("_fast_cache", None)
            count += 1
    return count


def is_enabled(model: nn.Module) -> bool:
    return any(isinstance(module, FastDebertaV2Encoder) for module in model.modules())


@contextlib.contextmanager
def first_token_only(model: nn.Module) -> Iterator[bool]:
    """Within the block, a fast DeBERTa-v2 sequence classifier computes its last layer for the
    first token only: the one state its `ContextPooler` head reads, so logits are unchanged
    (to float rounding) while `last_hidden_state` holds that token alone. Anything else
    (another head, another architecture, the stock path) runs as usual.

    YIELDS (bool): Whether the shortcut applies to `model`.
    """
    encoder = _first_token_encoder(model)
    if encoder is None:
        yield False
        return
    encoder.__dict__[_FIRST_TOKEN] = True
    try:
        yield True
    finally:
        encoder.__dict__.pop(_FIRST_TOKEN, None)


def _first_token_encoder(model: nn.Module) -> Optional["FastDebertaV2Encoder"]:
    """The fast encoder of `model` if its head reads only the first token's final state."""
    if not isinstance(model, stock.DebertaV2ForSequenceClassification):
        return None
    pooler = getattr(model, "pooler", None)
    backbone: Any = getattr(model, "deberta", None)
    if type(pooler) is not stock.ContextPooler or backbone is None or getattr(backbone, "z_steps", 0) > 1:
        return None
    encoder = getattr(backbone, "encoder", None)
    return encoder if isinstance(encoder, FastDebertaV2Encoder) else None


def _is_patchable_encoder(module: nn.Module) -> bool:
    if type(module) is not stock.DebertaV2Encoder or not getattr(module, "relative_attention", False):
        return False
    # Only the plain self-attention stack (what every released v2/v3 checkpoint uses).
    layers: Any = getattr(module, "layer", [])
    return all(type(layer.attention.self) is stock.DisentangledSelfAttention for layer in layers)


class _Projections:
    """Per-layer cached relative-position projections, (heads, rows, head_size) each."""

    def __init__(self, pos_key: Optional[torch.Tensor], pos_query: Optional[torch.Tensor]) -> None:
        self.pos_key = pos_key
        self.pos_query = pos_query


class FastDebertaV2Encoder(stock.DebertaV2Encoder):
    """DebertaV2Encoder whose forward pass uses cached relative-position projections."""

    _fast_cache: Dict[Any, Any]

    def forward(  # type: ignore[override]
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_hidden_states: bool = True,
        output_attentions: bool = False,
        query_states: Optional[torch.Tensor] = None,
        relative_pos: Optional[torch.Tensor] = None,
        return_dict: bool = True,
    ) -> Any:
        usable = (
            not self.training
            and not torch.is_grad_enabled()
            and not output_attentions
            and query_states is None
            and relative_pos is None
            and self.conv is None
            and attention_mask.dim() <= 2
        )
        if not usable:
            return super().forward(
                hidden_states,
                attention_mask,
                output_hidden_states=output_hidden_states,
                output_attentions=output_attentions,
                query_states=query_states,
                relative_pos=relative_pos,
                return_dict=return_dict,
            )
        length = hidden_states.size(-2)
        projections = self._layer_projections(hidden_states.dtype, hidden_states.device)
        c2p_index, p2c_index, first, last = self._position_index(length, hidden_states.device)
        padding = ~self.get_attention_mask(attention_mask).bool()  # once, not per layer
        all_hidden: List[torch.Tensor] = [hidden_states] if output_hidden_states else []
        states = hidden_states
        layers: Any = self.layer
        token_layer = len(layers) - 1 if self.__dict__.get(_FIRST_TOKEN) else -1
        for index, (layer, proj) in enumerate(zip(layers, projections)):
            rows = _Projections(
                None if proj.pos_key is None else proj.pos_key[:, first:last],
                None if proj.pos_query is None else proj.pos_query[:, first:last],
            )
            if index == token_layer:  # only the first token's output is read
                queries = states[:, :1]
                context = _first_token_attention(layer.attention.self, states, padding, rows, c2p_index, p2c_index)
            else:
                queries = states
                context = _attention(layer.attention.self, states, padding, rows, c2p_index, p2c_index)
            attention_output = layer.attention.output(context, queries)
            states = layer.output(_intermediate(layer.intermediate, attention_output), attention_output)
            if output_hidden_states:
                all_hidden.append(states)
        hidden_tuple = tuple(all_hidden) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (states, hidden_tuple) if v is not None)
        output: Any = stock.BaseModelOutput  # its hints say FloatTensor, which Tensor is at run time
        return output(last_hidden_state=states, hidden_states=hidden_tuple, attentions=None)

    def _layer_projections(self, dtype: torch.dtype, device: torch.device) -> List[_Projections]:
        """The projections of the relative embeddings for every layer, recomputed on weight change."""
        encoder: Any = self
        tensors = [encoder.rel_embeddings.weight]
        if "layer_norm" in self.norm_rel_ebd:
            tensors += [encoder.LayerNorm.weight, encoder.LayerNorm.bias]
        for layer in encoder.layer:
            tensors += [p for p in layer.attention.self.parameters()]
        autocast = torch.is_autocast_enabled(device.type) and torch.get_autocast_dtype(device.type)
        versions = tuple((t.data_ptr(), t._version, t.dtype) for t in tensors)
        key = ("proj", dtype, device, autocast, versions)
        cached = self._fast_cache.get("proj")
        if cached is not None and cached[0] == key:
            return cached[1]
        # Exactly the stock computation, once: layer-normed embeddings, then each projection.
        rel_embeddings = self.get_rel_embedding()
        projections = []
        for layer in encoder.layer:
            attention: Any = layer.attention.self
            embeddings = rel_embeddings[0 : attention.pos_ebd_size * 2, :].unsqueeze(0)
            if attention.share_att_key:
                key_proj, query_proj = attention.key_proj, attention.query_proj
            else:
                key_proj = getattr(attention, "pos_key_proj", None)
                query_proj = getattr(attention, "pos_query_proj", None)
            heads = attention.num_attention_heads
            pos_key = pos_query = None
            if "c2p" in attention.pos_att_type and key_proj is not None:
                pos_key = attention.transpose_for_scores(key_proj(embeddings), heads)
            if "p2c" in attention.pos_att_type and query_proj is not None:
                pos_query = attention.transpose_for_scores(query_proj(embeddings), heads)
            projections.append(_Projections(pos_key, pos_query))
        self._fast_cache = {"proj": (key, projections)}
        return projections

    def _position_index(self, length: int, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, int, int]:
        """Gather indices for c2p and p2c, relative to the slice [first, last) of projection rows."""
        key = ("index", length, device)
        cached = self._fast_cache.get(key)
        if cached is not None:
            return cached
        encoder: Any = self
        attention: Any = encoder.layer[0].attention.self
        span = attention.pos_ebd_size
        ids = torch.arange(length, dtype=torch.long, device=device)
        relative = ids[:, None] - ids[None, :]
        if attention.position_buckets > 0 and attention.max_relative_positions > 0:
            relative = stock.make_log_bucket_position(
                relative, attention.position_buckets, attention.max_relative_positions
            )
        relative = relative.to(torch.long)
        c2p = torch.clamp(relative + span, 0, span * 2 - 1)
        p2c = torch.clamp(-relative + span, 0, span * 2 - 1)
        first = int(min(c2p.min(), p2c.min()))
        last = int(max(c2p.max(), p2c.max())) + 1
        result = (c2p - first, p2c - first, first, last)
        self._fast_cache[key] = result
        return result


@functools.lru_cache(maxsize=None)
def _scale(head_size: int, factor: int, dtype: torch.dtype) -> torch.Tensor:
    """transformers' `scaled_size_sqrt(...).to(dtype)`, computed once instead of per layer."""
    return torch.sqrt(torch.tensor(head_size, dtype=torch.float) * factor).to(dtype=dtype)


def _attention(
    module: Any,
    hidden_states: torch.Tensor,
    padding: torch.Tensor,
    rows: _Projections,
    c2p_index: torch.Tensor,
    p2c_index: torch.Tensor,
) -> torch.Tensor:
    """DisentangledSelfAttention.forward with broadcast, row-sliced relative projections."""
    heads = module.num_attention_heads
    batch, length = hidden_states.size(0), hidden_states.size(1)
    query, key, value, scale = _projected(module, hidden_states, hidden_states)
    scores = torch.bmm(query, key.transpose(-1, -2) / scale)
    rel: Optional[torch.Tensor] = None
    if rows.pos_key is not None:
        # (heads, batch * length, d) @ (heads, d, rows): the projections are shared, not repeated.
        by_head = query.view(batch, heads, length, -1).transpose(0, 1).reshape(heads, batch * length, -1)
        c2p = torch.bmm(by_head, rows.pos_key.transpose(-1, -2)).view(heads, batch, length, -1)
        c2p = torch.gather(c2p, dim=-1, index=c2p_index.expand(heads, batch, length, length))
        rel = c2p.div_(scale)
    if rows.pos_query is not None:
        by_head = key.view(batch, heads, length, -1).transpose(0, 1).reshape(heads, batch * length, -1)
        p2c = torch.bmm(by_head, rows.pos_query.transpose(-1, -2)).view(heads, batch, length, -1)
        p2c = torch.gather(p2c, dim=-1, index=p2c_index.expand(heads, batch, length, length))
        p2c = p2c.div_(scale).transpose(-1, -2)
        rel = p2c if rel is None else rel.add_(p2c)
    scores = scores.view(batch, heads, length, length)
    if rel is not None:
        scores.add_(rel.transpose(0, 1))
    scores.masked_fill_(padding, torch.finfo(scores.dtype).min)
    probs = nn.functional.softmax(scores, dim=-1)
    context = torch.bmm(probs.view(-1, length, length), value)
    context = context.view(batch, heads, length, -1).permute(0, 2, 1, 3).contiguous()
    return context.view(batch, length, -1)


def _projected(
    module: Any, query_states: torch.Tensor, hidden_states: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Query (of `query_states`), key and value (of `hidden_states`), each (batch * heads,
    tokens, d), and transformers' score scale for this attention's relative terms."""
    heads = module.num_attention_heads
    same = query_states is hidden_states
    hidden_states = _autocast_input(hidden_states)
    query_states = hidden_states if same else _autocast_input(query_states)
    query = module.transpose_for_scores(module.query_proj(query_states), heads)
    key = module.transpose_for_scores(module.key_proj(hidden_states), heads)
    value = module.transpose_for_scores(module.value_proj(hidden_states), heads)
    scale_factor = 1 + ("c2p" in module.pos_att_type) + ("p2c" in module.pos_att_type)
    return query, key, value, _scale(query.size(-1), scale_factor, query.dtype)


def _autocast_input(states: torch.Tensor) -> torch.Tensor:
    """`states` in autocast's lower precision when autocast is on for their device, else as
    they are. Autocast casts a Linear's input on every call; the query, key and value
    projections read the same states, so casting them once saves two of three copies (the
    values are the ones autocast would make)."""
    device = states.device.type
    if states.dtype != torch.float32 or not torch.is_autocast_enabled(device):
        return states
    return states.to(torch.get_autocast_dtype(device))


def _first_token_attention(
    module: Any,
    hidden_states: torch.Tensor,
    padding: torch.Tensor,
    rows: _Projections,
    c2p_index: torch.Tensor,
    p2c_index: torch.Tensor,
) -> torch.Tensor:
    """`_attention` for the first token's query only: its context, (batch, 1, hidden).

    The first token attends to every key as in `_attention`; its relative-position terms
    read just the projection rows that row 0 of the score matrix indexes:
    c2p[0, j] = q_0 . pos_key[c2p_index[0, j]] and p2c[0, j] = k_j . pos_query[p2c_index[j, 0]].
    """
    heads = module.num_attention_heads
    batch, length = hidden_states.size(0), hidden_states.size(1)
    query, key, value, scale = _projected(module, hidden_states[:, :1], hidden_states)
    size = query.size(-1)
    scores = torch.bmm(query, key.transpose(-1, -2) / scale).view(batch, heads, 1, length)
    rel: Optional[torch.Tensor] = None
    if rows.pos_key is not None:
        pos_key = rows.pos_key[:, c2p_index[0]]  # (heads, length, d)
        c2p = torch.matmul(query.view(batch, heads, 1, size), pos_key.transpose(-1, -2))
        rel = c2p.div_(scale)
    if rows.pos_query is not None:
        pos_query = rows.pos_query[:, p2c_index[:, 0]]  # (heads, length, d)
        p2c = (key.view(batch, heads, length, size) * pos_query).sum(-1).unsqueeze(-2)
        p2c = p2c.div_(scale)
        rel = p2c if rel is None else rel.add_(p2c)
    if rel is not None:
        scores.add_(rel)
    scores.masked_fill_(padding[:, :, :1], torch.finfo(scores.dtype).min)
    probs = nn.functional.softmax(scores, dim=-1)
    return torch.bmm(probs.view(-1, 1, length), value).view(batch, 1, -1)


def _intermediate(module: Any, hidden_states: torch.Tensor) -> torch.Tensor:
    """DebertaV2Intermediate.forward; the exact GELU runs in place on the product's output
    (saves a pass over and an allocation of the widest activation of the layer)."""
    act = module.intermediate_act_fn
    if type(act) is GELUActivation and act.act is nn.functional.gelu:
        return torch.ops.aten.gelu_(module.dense(hidden_states))
    return act(module.dense(hidden_states))
