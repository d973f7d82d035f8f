"""Annotating past one machine on Ray Data: `annotate_dataset`, and what the Ray engine of runs shares with it.

Ray Data schedules one model-holding actor per GPU (or per CPU slot) across a cluster
(`map_batches(..., compute=ActorPoolStrategy(size=n))`); each actor loads the pipeline
itself from a path (see `worker.py`). Ray is imported only when these functions run: it is
the optional extra `spacy-zeroshot[ray]`.
"""

import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Type

from ..errors import Errors
from .budget import RESERVED_CPUS, check_budget, default_num_actors, node_resources
from .loading import nli_component_names
from .review import DEFAULT_RELATIONS_ATTR
from .settings import ON_ERROR
from .worker import DatasetWorker, PipelineWorker

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

# Set for a Ray cluster that this process starts itself: it listens on the loopback interface
# only, and sends no usage statistics.
LOCAL_CLUSTER_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def require_ray(*, local_cluster: bool = False) -> Any:
    """Import Ray (with Ray Data), or raise `[E500]` saying which extra to install.

    local_cluster (bool): This process will start a private local cluster: make it listen on
        the loopback interface only and send no usage statistics. Ray reads these settings
        when it is first imported, so they hold when this is the first import.
    """
    if local_cluster and "ray" not in sys.modules:
        for key, value in LOCAL_CLUSTER_ENV.items():
            os.environ.setdefault(key, value)
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise ImportError(Errors.E500) from err
    return ray


def annotate_dataset(
    ds: "ray.data.Dataset",
    pipeline_path: str,
    *,
    overrides: Optional[Dict[str, Any]] = None,
    batch_size: int = 64,
    num_actors: Optional[int] = None,
    num_gpus: float = 0,
    num_cpus: float = 1,
    text_column: str = "text",
    id_column: str = "id",
    on_error: str = "fail",
    code: Optional[str] = None,
    relations_attr: str = DEFAULT_RELATIONS_ATTR,
) -> "ray.data.Dataset":
    """Annotate a Ray Dataset of texts with a pipeline, on a pool of actors (lazily).

    Every actor loads the pipeline from `pipeline_path` itself (so the path must be readable
    on every node: shared storage, or the same folder or package everywhere), runs
    `num_cpus` torch threads (at least one) and puts the NLI models on "cuda:0", the GPU Ray
    gives it, when `num_gpus` > 0, else on the CPU. Rows are cut into blocks of `batch_size`
    rows so that every actor gets work.

    ds (ray.data.Dataset): Rows with a text column and an id column.
    pipeline_path (str): A pipeline folder, installed pipeline package or .cfg file.
    overrides (Optional[Dict[str, Any]]): Config overrides, e.g. {"components.zeroshot_nli.dtype": "bfloat16"}.
    batch_size (int): Docs per minibatch of `nlp.pipe` (and rows per actor call).
    num_actors (Optional[int]): Actors in the pool. None: one per `num_gpus` GPUs of the
        cluster, else one per `num_cpus` CPUs, leaving one CPU to Ray Data.
    num_gpus (float): GPUs per actor (e.g. 1; 0.5 puts two actors on each GPU).
    num_cpus (float): CPUs per actor.
    text_column (str): The column holding the texts.
    id_column (str): The column holding each row's id (passed through unchanged).
    on_error (str): A row whose text is not a string: "fail" fails the job (`[E506]`);
        "skip" keeps the row unannotated, with the reason in its "error" column.
    code (Optional[str]): A Python file every actor imports first (custom components).
    relations_attr (str): The `doc._` extension holding relations, for the review record.
    RETURNS (ray.data.Dataset): The input's columns less the text column, plus "review" (the
        review record as a JSON string, as `spacy-zeroshot annotate` writes a JSONL line),
        "doc" (`Doc.to_bytes()` of the annotated doc, user data included; read it back with
        `Doc(nlp.vocab).from_bytes(...)`) and "error" (None, or why the row was skipped). A
        "meta" column becomes the review's "meta" and `doc._.meta`. Rows come in input
        order when `DataContext.execution_options.preserve_order` is set.
    RAISES (ValueError): `[E504]` if `DataContext.max_errored_blocks` is not 0 (failed blocks
        would be dropped silently), `[E505]` for a missing column, `[E501]`/`[E502]` for a
        pool the cluster cannot run (see `budget.check_budget`), `[E508]` for bad numbers.
    """
    ray = require_ray()
    from ray.data import DataContext

    check_numbers(batch_size=batch_size, num_actors=num_actors, num_gpus=num_gpus, num_cpus=num_cpus)
    if on_error not in ON_ERROR:
        raise ValueError(Errors.E057.format(key="on_error", value=on_error, name="annotate_dataset", options=ON_ERROR))
    nli_component_names(pipeline_path, dict(overrides or {}))  # a bad path or config fails here, not in every actor
    errored = DataContext.get_current().max_errored_blocks
    if errored != 0:
        raise ValueError(Errors.E504.format(value=errored))
    columns = ds.columns(fetch_if_missing=False)
    if columns is not None:
        for column, what in ((text_column, "text"), (id_column, "id")):
            if column not in columns:
                raise ValueError(Errors.E505.format(column=column, what=what, columns=columns))
    if not ray.is_initialized():
        ray.init()
    actors, found = plan_actors(node_resources(ray.nodes()), num_actors, num_cpus, num_gpus)
    for message in found:
        warnings.warn(message, stacklevel=2)
    return annotating_step(
        ds.repartition(target_num_rows_per_block=batch_size),
        DatasetWorker,
        pipeline_path,
        actors=actors,
        rows_per_call=batch_size,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        overrides=overrides,
        code=code,
        batch_size=batch_size,
        text_column=text_column,
        id_column=id_column,
        on_error=on_error,
        relations_attr=relations_attr,
    )


def annotating_step(
    dataset: "ray.data.Dataset",
    worker: Type[PipelineWorker],
    pipeline: str,
    *,
    actors: int,
    rows_per_call: int,
    num_cpus: float,
    num_gpus: float,
    overrides: Optional[Dict[str, Any]] = None,
    code: Optional[str] = None,
    **worker_kwargs: Any,
) -> "ray.data.Dataset":
    """The one Ray Data step that annotates, for `annotate_dataset` and the Ray engine of runs:
    a pool of `actors` actors, each a `worker` that loads `pipeline` itself (see `worker.py`).

    dataset (ray.data.Dataset): The rows `worker` takes.
    worker (Type[PipelineWorker]): `DatasetWorker` (rows of texts) or `ChunkWorker` (planned chunks).
    pipeline (str): A pipeline folder, installed package or .cfg file, readable on every node.
    actors (int): The pool size, already checked against the cluster (`plan_actors`).
    rows_per_call (int): Rows in each call of an actor.
    num_cpus (float): CPUs per actor (its torch threads).
    num_gpus (float): GPUs per actor; 0 keeps the actors and their models on the CPU.
    overrides (Optional[Dict[str, Any]]): Config overrides for loading the pipeline.
    code (Optional[str]): A Python file every actor imports first (custom components).
    worker_kwargs: The rest of `worker`'s settings.
    RETURNS (ray.data.Dataset): The lazily annotated dataset.
    """
    from ray.data import ActorPoolStrategy

    settings = {"overrides": dict(overrides or {}), "num_gpus": num_gpus, "num_cpus": num_cpus, "code": code}
    return dataset.map_batches(
        worker,
        fn_constructor_args=(pipeline,),
        fn_constructor_kwargs={**settings, **worker_kwargs},
        batch_size=rows_per_call,
        batch_format=worker.BATCH_FORMAT,
        compute=ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
        num_gpus=num_gpus or None,
    )


def plan_actors(
    nodes: List[Dict[str, float]], num_actors: Optional[int], num_cpus: float, num_gpus: float
) -> Tuple[int, List[str]]:
    """The pool size (the default when `num_actors` is None), checked against the cluster.

    RETURNS (Tuple[int, List[str]]): The number of actors and warnings.
    RAISES (ValueError): As `budget.check_budget`.
    """
    actors = num_actors if num_actors is not None else default_num_actors(nodes, num_cpus, num_gpus)
    return actors, check_budget(nodes, actors, num_cpus, num_gpus)


def check_numbers(*, batch_size: int, num_actors: Optional[int], num_gpus: float, num_cpus: float) -> None:
    """Raise `[E508]` for a batch size, pool size or per-actor resource that makes no sense."""
    for name, value in (("batch_size", batch_size), ("num_actors", num_actors)):
        if value is None and name == "num_actors":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(Errors.E508.format(name=name, what="a positive integer", value=value))
    if isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) or not num_gpus >= 0:
        raise ValueError(Errors.E508.format(name="num_gpus", what="a number >= 0", value=num_gpus))
    if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or not num_cpus > 0:
        raise ValueError(Errors.E508.format(name="num_cpus", what="a number > 0", value=num_cpus))


def connect(address: Optional[str], *, num_cpus: float, quiet: bool) -> bool:
    """Connect to the Ray cluster at `address`, or start a private local one.

    A local cluster (call `require_ray(local_cluster=True)` first, so that it listens on the
    loopback interface only) declares at least `num_cpus`
    logical CPUs (more than the machine's cores if the actors and Ray Data's reserve need
    them), so that the pool asked for can run. An existing connection is reused.
    RETURNS (bool): Whether this call connected (and the caller should `ray.shutdown()`).
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    level = logging.WARNING if quiet else logging.INFO
    if address:
        ray.init(address=address, logging_level=level, log_to_driver=True)
        return True
    cpus = max(float(os.cpu_count() or 1), num_cpus)
    ray.init(num_cpus=int(-(-cpus // 1)), include_dashboard=False, logging_level=level, log_to_driver=True)
    return True


def quiet_data_context(quiet: bool) -> Any:
    """Ray Data's settings for annotation runs: no block ever dropped on error, no progress
    bars (runs have their own), and, when `quiet`, no execution logs."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.max_errored_blocks = 0
    if quiet:
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    return context


__all__ = ["annotate_dataset", "RESERVED_CPUS"]
