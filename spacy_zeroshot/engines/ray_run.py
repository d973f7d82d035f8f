"""The Ray engine of runs (`spacy-zeroshot annotate --engine ray`): the local engine's run, on a Ray cluster.

The driver (this process) has already validated the settings, scanned the input and cut it
into chunks (`plan.plan_chunks`, the cuts the local engine makes). Ray Data then reads each
pending chunk with the same readers in a task pinned to the driver's node (so the input
need not be on shared storage), hands it to a pool of actors that each load the pipeline from
its path (`engines.worker.ChunkWorker`), and streams the annotated chunks back; the driver
writes each one to `OUTPUT.parts/` as it arrives (in any order, atomically) and, once every
chunk is there, joins them in order into exactly the files the local engine writes.
"""

import json
import pickle
import time
from pathlib import Path
from typing import IO, Any, Dict, List

from ..errors import Errors, Warnings
from .budget import RESERVED_CPUS, node_resources
from .chunks import ChunkStore
from .loading import nli_component_names
from .plan import ChunkPlan, pending_chunks, read_chunk
from .progress import PairCounter, Progress, say, summarize
from .ray_data import annotating_step, connect, plan_actors, quiet_data_context, require_ray
from .settings import AnnotateSettings
from .worker import ChunkWorker

# The label Ray gives every node: its id (`ray.util.placement_group.NODE_ID_LABEL_KEY`).
NODE_ID_LABEL = "ray.io/node-id"


def annotate_with_ray(
    settings: AnnotateSettings, store: ChunkStore, files: List[Path], plan: List[ChunkPlan], log: IO[str]
) -> Dict[str, Any]:
    """Annotate the chunks of `plan` not yet complete in `store`, then join all of them.

    RETURNS (Dict[str, Any]): The run's summary, as the local engine's.
    RAISES (ValueError): `[E501]`/`[E502]` for a pool the cluster cannot run, `[E507]` if a
        chunk is missing at the end; Ray's own error if an actor raises (the chunks written
        so far stay, for --resume).
    """
    ray = require_ray(local_cluster=not settings.ray_address)
    from ray.data import TaskPoolStrategy

    started = time.perf_counter()
    if settings.code and not Path(settings.code).is_file():
        raise ValueError(Errors.E200.format(what="--code file", path=settings.code))
    nli_component_names(settings.pipeline, settings.overrides)  # a bad path or config fails before Ray starts
    done = store.start_any(settings.resume)
    previous = store.completed_records(done)
    pending = pending_chunks(plan, set(done))
    if done:
        say(log, f"Resuming: {len(done)} chunk(s), {sum(c['docs'] for c in previous):,} docs already annotated.")
    cpus, gpus = settings.cpus_per_actor, settings.gpus_per_actor
    wanted = settings.num_actors or 1
    owns = connect(settings.ray_address, num_cpus=wanted * cpus + RESERVED_CPUS, quiet=settings.quiet) if pending else False
    written: Dict[int, Dict[str, Any]] = {}
    counter = PairCounter()
    load_seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    try:
        if pending:
            nodes = node_resources(ray.nodes())
            actors, found = plan_actors(nodes, settings.num_actors, cpus, gpus)
            if actors > len(pending):  # an actor without a chunk would load the model for nothing
                if settings.num_actors is not None:
                    found.append(Warnings.W501.format(actors=actors, chunks=len(pending), idle=actors - len(pending)))
                actors = len(pending)
            for message in found:
                say(log, message)
            docs = sum(chunk.docs for chunk in pending)
            if not settings.quiet:
                say(log, f"Ray: {actors} actor(s) x {cpus:g} CPU / {gpus:g} GPU; {docs:,} docs in {len(pending)} chunk(s).")
            quiet_data_context(settings.quiet)
            node = ray.get_runtime_context().get_node_id()
            rows = [{"chunk": chunk.number, "plan": pickle.dumps(chunk)} for chunk in pending]
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
            # Reading runs on this node, where the input files are, one chunk at a time in one
            # worker process, and reserves no CPU, so that actors can never starve it.
            dataset = dataset.map(
                _read_row,
                fn_kwargs={"files": [str(p) for p in files], "text_key": settings.text_key, "on_error": settings.on_error},
                compute=TaskPoolStrategy(size=1),
                num_cpus=0,
                label_selector={NODE_ID_LABEL: node},
            )
            dataset = annotating_step(
                dataset,
                ChunkWorker,
                settings.pipeline,
                actors=actors,
                rows_per_call=1,
                num_cpus=cpus,
                num_gpus=gpus,
                overrides=settings.overrides,
                code=str(Path(settings.code).resolve()) if settings.code else None,
                batch_size=settings.batch_size,
                suffixes=[output.suffix for output in store.outputs],
                relations_attr=settings.relations_attr,
            )
            progress = Progress(docs, counter, start=t0, quiet=settings.quiet, stream=log)
            try:
                for row in dataset.iter_rows():
                    number, info = int(row["chunk"]), json.loads(row["info"])
                    store.write_files(number, pickle.loads(row["files"]), info)
                    written[number] = info
                    counter.add(info["pairs"])
                    progress.update(info["docs"])
            finally:
                progress.close()
    finally:
        if owns:
            ray.shutdown()
    missing = [chunk.number for chunk in plan if not store.is_complete(chunk.number)]
    if missing:
        raise ValueError(Errors.E507.format(n=len(missing), numbers=", ".join(map(str, missing[:20]))))
    store.assemble(len(plan))
    records = dict(zip(done, previous))
    records.update(written)
    return summarize(
        [records[chunk.number] for chunk in plan],
        seconds=time.perf_counter() - t0,
        load_seconds=load_seconds,
        session_docs=sum(info["docs"] for info in written.values()),
        session_pairs=counter.total,
        resumed_chunks=len(done),
        outputs=[str(p) for p in store.outputs],
    )


def _read_row(row: Dict[str, Any], *, files: List[str], text_key: str, on_error: str) -> Dict[str, Any]:
    """A Ray Data map step: a planned chunk in, its records (pickled) out."""
    chunk = pickle.loads(row["plan"])
    payload = read_chunk([Path(p) for p in files], text_key, chunk, on_error)
    return {"chunk": chunk.number, "payload": pickle.dumps(payload)}

