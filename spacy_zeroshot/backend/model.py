"""The NLI backend: loads a Hugging Face sequence-classification NLI model and scores pairs.

`NLIBackend` is the loading half (settings, device, dtype, the model and its tokenizer,
fine-tuning hooks); scoring is `scoring.PairScoring`, tokenization `encoding.PairEncoding`.
This layer knows torch and transformers, not spaCy. Both are imported lazily so that
`import spacy_zeroshot` and building a pipeline stay cheap and never touch the network.
"""

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from ..errors import Errors
from .cache import PairCache
from .devices import DTYPES, Precision, default_attention_cells, default_batching, resolve_device, resolve_precision
from .labels import resolve_nli_indices
from .runtime import prepare_runners, tune_cpu_allocator
from .scoring import PairScoring
from .stats import ScoreStats

if TYPE_CHECKING:  # pragma: no cover
    import torch

# Tokenizers without a real limit report a huge model_max_length; anything above this is "none".
_NO_LIMIT = 1_000_000
_FALLBACK_MAX_LENGTH = 512

# transformers' `from_pretrained` patches process-wide state while it builds a model (weight
# initialisation is switched off, parameters are first made on the "meta" device): two loads
# at once in one process, even of different models, corrupt each other and leave that state
# behind. Every load in the process goes through this lock.
_FROM_PRETRAINED_LOCK = threading.Lock()


class NLIBackend(PairScoring):
    """One NLI cross-encoder, its tokenizer and the settings to run it.

    source (str): Hugging Face hub id or local folder of a `*ForSequenceClassification` model.
    revision (Optional[str]): Hub revision (branch, tag or commit) to load.
    device (Union[str, int]): "auto", "cpu", "cuda", "cuda:N", "mps" or an int GPU id (-1 = CPU).
    dtype (str): "auto", "float32", "float16", "bfloat16" or "int8" (see
        `devices.resolve_precision`): "auto" is exact float32 on the CPU and float16 on CUDA;
        "bfloat16" is autocast on the CPU and a cast on GPUs; "int8" is dynamic quantisation
        of the Linear layers, CPU only.
    max_length (Optional[int]): Max tokens per pair; only the premise is truncated. Default:
        the tokenizer's `model_max_length`, else the model's position limit.
    batch_tokens (Optional[int]): Budget of padded tokens per forward pass. None: per device
        (2048 on the CPU; sized from the free memory on CUDA).
    max_batch_pairs (Optional[int]): Cap on pairs per forward pass. None: per device (16 on
        the CPU, 256 on CUDA).
    entailment_index (Optional[int]): Override for the entailment class index.
    contradiction_index (Optional[int]): Override for the contradiction class index.
    optimize (bool): Use the faster, numerically equivalent DeBERTa-v2/v3 inference path
        (`fast_deberta`: cached relative-position projections, and a last layer computed for
        the first token, the only one the classifier reads). Other architectures are
        unaffected; saved weights stay stock.
    cache_size (int): Keep the logits of up to this many recent pairs and reuse them (0: off).
    num_threads (Optional[int]): Set torch's intra-op CPU threads at load (process-wide).
        None leaves torch's default (one per core).
    recheck_margin (float): With a lossy `dtype` (bfloat16, float16, int8): tasks score
        again in float32 every decision that a logit error of half this margin could change
        (`maths.is_close_call`), so close calls come out as in float32 while clear ones keep
        the fast path. In logits; 0 (default) turns it off. No effect in float32.
    tune_allocator (bool): On the CPU under glibc (Linux), raise malloc's mmap and trim
        thresholds at load (process-wide) so that each batch reuses the memory the previous
        one freed instead of page-faulting fresh pages (`runtime.tune_cpu_allocator`). Off by
        default: a library changes process-wide settings only when asked.
    settings_hint (Optional[str]): How error messages name a setting, with "{key}" for its
        name, e.g. "`{key}` on the 'zeroshot_nli' component". Default: the constructor's
        keyword, "`NLIBackend(..., {key}=...)`".

    Thread safety: one backend may be called from many threads. The lazy load happens once,
    under `lock` (the other callers wait for it; a failed load raises in each caller and the
    next call tries again); tokenization, scoring (pair cache, lossy runners, `fast_deberta`'s
    caches, statistics) and fine-tuning steps hold `lock`, so they run one at a time and a
    forward pass never sees weights half-way through an optimizer step. Throughput under
    concurrent callers comes from pooling their docs into one batch
    (`spacy_zeroshot.serving`), not from overlapping forward passes.
    """

    def __init__(
        self,
        source: str,
        *,
        revision: Optional[str] = None,
        device: Union[str, int] = "auto",
        dtype: str = "auto",
        max_length: Optional[int] = None,
        batch_tokens: Optional[int] = None,
        max_batch_pairs: Optional[int] = None,
        entailment_index: Optional[int] = None,
        contradiction_index: Optional[int] = None,
        optimize: bool = True,
        cache_size: int = 0,
        num_threads: Optional[int] = None,
        recheck_margin: float = 0.0,
        tune_allocator: bool = False,
        settings_hint: Optional[str] = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(Errors.E007.format(dtype=dtype, options=", ".join(DTYPES)))
        if max_length is not None and (isinstance(max_length, bool) or max_length < 1):
            raise ValueError(Errors.E011.format(value=max_length))
        for name, value in (
            ("batch_tokens", batch_tokens),
            ("max_batch_pairs", max_batch_pairs),
            ("num_threads", num_threads),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(Errors.E013.format(name=name, value=value))
        if isinstance(recheck_margin, bool) or not isinstance(recheck_margin, (int, float)) or not recheck_margin >= 0:
            raise ValueError(Errors.E253.format(value=recheck_margin))
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(Errors.E250.format(value=cache_size))
        self.source = source
        self.revision = revision
        # Re-entrant: scoring tokenizes, and a lazy property may load, under the same lock.
        self.lock = threading.RLock()
        # How error messages name a setting: as the caller passes it (the 'zeroshot_nli'
        # component, `ZeroShotClassifier`, or this constructor).
        self.settings_hint = settings_hint or "`NLIBackend(..., {key}=...)`"
        self.device_setting = device
        self.dtype_setting = dtype
        self.max_length_setting = max_length
        self.batch_tokens_setting = batch_tokens
        self.max_batch_pairs_setting = max_batch_pairs
        self._model_key: Tuple[Any, ...] = ()
        self.entailment_setting = entailment_index
        self.contradiction_setting = contradiction_index
        self.optimize = bool(optimize)
        self.num_threads = num_threads
        self.tune_allocator = bool(tune_allocator)
        self.recheck_margin = float(recheck_margin)
        self.stats = ScoreStats()
        self.cache = PairCache(cache_size)
        self._model: Any = None
        # What `_forward` runs: the model itself, or a copy with int8-quantised or bfloat16
        # Linear layers (the model stays stock so that `save` writes ordinary weights).
        self._runner: Any = None
        # The float32 model that re-checks close calls (`recheck_margin`): the model itself on
        # the CPU, a float32 copy where the weights were cast (GPU); None when not needed.
        self._exact_runner: Any = None
        self._exact_key: Tuple[Any, ...] = ()
        # Set when the weights changed in place (fine-tuning): the runners are rebuilt from
        # the float32 model before the next forward pass.
        self._stale_runners = False
        self._precision: Optional[Precision] = None
        self._batching: Optional[Tuple[int, int]] = None
        self._batch_cells: Optional[int] = None
        self._oom_warned = False
        self._tokenizer: Any = None
        self._indices: Optional[Tuple[int, int]] = None
        self._max_length = 0
        self._special_tokens = 0

    def __getstate__(self) -> Dict[str, Any]:
        # A lock cannot be pickled (`nlp.pipe(n_process=N)` may pickle the pipeline): a copy gets its own.
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # Loading -------------------------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def load(self, source: Optional[Union[str, Path]] = None) -> "NLIBackend":
        """Load the model and tokenizer (from `source`, default `self.source`) onto the device.

        Thread-safe: holds `lock` (and the process-wide `from_pretrained` lock while reading).
        The loaded state is published only when everything succeeded, so a failed load leaves
        the backend as it was, ready to try again.

        RAISES OSError: [E009] when the model or tokenizer cannot be read.
        RAISES ValueError: [E001] [E010] [E014] for a model that is no usable NLI model.
        """
        with self.lock:
            return self._load(source)

    def ensure_loaded(self) -> None:
        """Load on first use, once: concurrent first callers wait for one load."""
        if self._model is None:
            with self.lock:
                if self._model is None:
                    self._load(None)

    def _load(self, source: Optional[Union[str, Path]]) -> "NLIBackend":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        device = resolve_device(self.device_setting)
        precision = resolve_precision(self.dtype_setting, device)
        if self.num_threads is not None:
            import torch

            torch.set_num_threads(self.num_threads)
        self._tune_allocator(device)
        location = str(source if source is not None else self.source)
        revision = None if source is not None else self.revision
        try:
            with _FROM_PRETRAINED_LOCK:
                tokenizer = AutoTokenizer.from_pretrained(location, revision=revision)
                model = AutoModelForSequenceClassification.from_pretrained(location, revision=revision)
        except (OSError, ValueError) as err:
            raise OSError(Errors.E009.format(source=location, err=err)) from err
        num_labels = int(model.config.num_labels)
        if num_labels < 2:
            raise ValueError(Errors.E010.format(source=location, num_labels=num_labels))
        indices = resolve_nli_indices(
            model.config.id2label, self.entailment_setting, self.contradiction_setting, setting=self.setting
        )
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError(Errors.E014.format(source=location))
            # What transformers' zero-shot pipeline does for such tokenizers.
            tokenizer.pad_token = tokenizer.eos_token
        self._tokenizer, self._indices = tokenizer, indices
        self._max_length = self._resolve_max_length(tokenizer, model.config)
        self._special_tokens = tokenizer.num_special_tokens_to_add(pair=True)
        self._place(model, device, precision)
        self._stale_runners = False
        self._model_key = (location, revision, self.dtype_setting)
        self._exact_key = (location, revision, "float32")
        # Last: `ensure_loaded` reads `_model` without the lock, so it must be set only once
        # everything else is.
        self._model = model
        return self

    def _place(self, model: Any, device: "torch.device", precision: Precision) -> None:
        """Put `model` on `device` in `precision`: its runners, batching defaults and a clear cache."""
        runner, exact_runner = prepare_runners(model, device, precision, self.optimize, bool(self.recheck_margin))
        itemsize = 2 if precision.autocast is not None else model.dtype.itemsize
        tokens, pairs = default_batching(device, model.config, itemsize, self._max_length)
        self._runner, self._exact_runner, self._precision = runner, exact_runner, precision
        self._batching = (self.batch_tokens_setting or tokens, self.max_batch_pairs_setting or pairs)
        # A token budget the user set is taken as it is; the default also bounds attention.
        self._batch_cells = None if self.batch_tokens_setting else default_attention_cells(device, itemsize)
        self.cache.clear()

    def _tune_allocator(self, device: "torch.device") -> None:
        if self.tune_allocator and device.type == "cpu":
            tune_cpu_allocator()

    def move_to(self, device: Union[str, int]) -> None:
        """Run on `device` from now on: "auto", "cpu", "cuda", "cuda:N", "mps", or a GPU id
        (-1: the CPU). A loaded model moves at once, with its precision, runners and batching
        resolved again for the new device (the `dtype` setting stays); an unloaded one will
        load there.

        RAISES (ValueError): [E005] [E006] for a device that does not exist here, [E007]
            for a dtype the new device cannot run.
        """
        with self.lock:
            target = resolve_device(device)
            precision = resolve_precision(self.dtype_setting, target)
            self.device_setting = device
            if self._model is None:
                return
            import torch

            from . import fast_deberta

            model = self._model
            fast_deberta.disable(model)  # cached projections belong to the old device
            model.to(dtype=torch.float32)  # the stock weights; `_place` casts for the new device
            self._tune_allocator(target)
            self._place(model, target, precision)
            self._stale_runners = False

    def _resolve_max_length(self, tokenizer: Any, config: Any) -> int:
        if self.max_length_setting is not None:
            return int(self.max_length_setting)
        limit = getattr(tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < _NO_LIMIT:
            return limit
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            return positions
        return _FALLBACK_MAX_LENGTH

    def setting(self, key: str) -> str:
        """How the user sets `key` of this backend, for error messages, e.g. "`entailment_index`
        on the 'zeroshot_nli' component" or "`ZeroShotClassifier(..., entailment_index=...)`"."""
        return self.settings_hint.replace("{key}", key)

    @property
    def model(self) -> Any:
        self.ensure_loaded()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self.ensure_loaded()
        return self._tokenizer

    @property
    def entailment_index(self) -> int:
        self.ensure_loaded()
        assert self._indices is not None
        return self._indices[0]

    @property
    def contradiction_index(self) -> int:
        self.ensure_loaded()
        assert self._indices is not None
        return self._indices[1]

    @property
    def class_names(self) -> List[str]:
        """The model's output classes by index (`config.id2label`), e.g. for the audit trail."""
        id2label = self.model.config.id2label
        return [str(id2label.get(i, id2label.get(str(i), i))) for i in range(int(self.model.config.num_labels))]

    @property
    def max_length(self) -> int:
        """Max tokens of a (premise, hypothesis) pair, special tokens included."""
        self.ensure_loaded()
        return self._max_length

    @property
    def pair_special_tokens(self) -> int:
        """Special tokens the tokenizer adds to a pair ([CLS] a [SEP] b [SEP] -> 3)."""
        self.ensure_loaded()
        return self._special_tokens

    @property
    def device(self) -> "torch.device":
        return next(self.model.parameters()).device

    @property
    def precision(self) -> Precision:
        """How the model runs: weight dtype, CPU autocast, int8 quantisation."""
        self.ensure_loaded()
        assert self._precision is not None
        return self._precision

    @property
    def batch_tokens(self) -> int:
        """Budget of padded tokens per forward pass (the setting, else the device default)."""
        self.ensure_loaded()
        assert self._batching is not None
        return self._batching[0]

    @property
    def max_batch_pairs(self) -> int:
        """Cap on pairs per forward pass (the setting, else the device default; halved after
        an out-of-memory error)."""
        self.ensure_loaded()
        assert self._batching is not None
        return self._batching[1]

    @property
    def batch_cells(self) -> Optional[int]:
        """Budget of attention cells (pairs x padded length^2) per forward pass, or None:
        the device default with `batch_tokens` unset (see `devices.default_attention_cells`)."""
        self.ensure_loaded()
        return self._batch_cells

    def cache_info(self) -> Dict[str, float]:
        """Pair-cache statistics: hits, misses, hit_rate, entries, size."""
        return self.cache.info()

    # Fine-tuning ---------------------------------------------------------------------

    def trainable_model(self) -> Any:
        """The model whose weights training updates, in float32 (a model loaded or cast to
        float16/bfloat16 for inference is cast back; scoring then runs a cast copy)."""
        import torch

        with self.lock:
            model = self.model
            if model.dtype != torch.float32:
                model.float()
                self._stale_runners = True
            return model

    def weights_changed(self) -> None:
        """Call after the model's weights changed in place (an optimizer step): cached pair
        logits are dropped, and what scores (lossy copies, the float32 re-check model,
        `fast_deberta`'s cached projections) is rebuilt from the new weights before the next
        forward pass. The model returns to eval mode."""
        with self.lock:
            self.cache.clear()
            self._stale_runners = True
            if self._model is not None:
                self._model.eval()

    # Serialization -------------------------------------------------------------------

    def save(self, path: Union[str, Path]) -> None:
        """Write the model weights and tokenizer to a folder (`save_pretrained`)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
