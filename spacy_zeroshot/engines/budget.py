"""Will a pool of annotating actors fit a Ray cluster, and leave Ray Data room to work?

Pure arithmetic on the cluster's resources (`ray.nodes()`), so it is tested without Ray.
The hazard it guards against: when actors reserve every CPU, Ray Data cannot schedule its own
read and write tasks and waits forever, without an error.
"""

import math
from typing import Dict, List, Mapping, Sequence

from ..errors import Errors, Warnings

# CPUs left free for Ray Data's own tasks (reading, writing, splitting blocks).
RESERVED_CPUS = 1.0
_EPS = 1e-9


def actors_per_node(node: Mapping[str, float], num_cpus: float, num_gpus: float) -> int:
    """How many actors asking for `num_cpus` CPUs and `num_gpus` GPUs fit on one node."""
    fits = math.inf
    if num_cpus > 0:
        fits = min(fits, math.floor(node.get("CPU", 0.0) / num_cpus + _EPS))
    if num_gpus > 0:
        fits = min(fits, math.floor(node.get("GPU", 0.0) / num_gpus + _EPS))
    return int(min(fits, 1_000_000))


def default_num_actors(
    nodes: Sequence[Mapping[str, float]], num_cpus: float, num_gpus: float, reserve: float = RESERVED_CPUS
) -> int:
    """As many actors as fit: one per `num_gpus` GPUs, else one per `num_cpus` CPUs, keeping
    `reserve` CPUs free for Ray Data; at least 1.

    nodes (Sequence[Mapping[str, float]]): Each alive node's resources ({"CPU": n, "GPU": m}).
    num_cpus (float): CPUs per actor.
    num_gpus (float): GPUs per actor.
    reserve (float): CPUs to leave to Ray Data's tasks.
    RETURNS (int): The number of actors.
    """
    fits = sum(actors_per_node(node, num_cpus, num_gpus) for node in nodes)
    if num_cpus > 0:
        total = sum(node.get("CPU", 0.0) for node in nodes)
        fits = min(fits, math.floor((total - reserve) / num_cpus + _EPS))
    return max(1, fits)


def check_budget(
    nodes: Sequence[Mapping[str, float]],
    num_actors: int,
    num_cpus: float,
    num_gpus: float,
    reserve: float = RESERVED_CPUS,
) -> List[str]:
    """Refuse a pool of actors that cannot make progress on this cluster.

    nodes (Sequence[Mapping[str, float]]): Each alive node's resources ({"CPU": n, "GPU": m}).
    num_actors (int): Actors in the pool.
    num_cpus (float): CPUs per actor.
    num_gpus (float): GPUs per actor.
    reserve (float): CPUs that must stay free for Ray Data's own tasks.
    RETURNS (List[str]): Warnings (`[W500]`: GPUs present but unused).
    RAISES (ValueError): `[E501]` when the actors cannot all be placed (no node is big enough,
        or the nodes hold fewer such actors than asked); `[E502]` when they would leave less
        than `reserve` CPUs to Ray Data, which would then hang.
    """
    summary = ", ".join(_node_text(node) for node in nodes) or "no nodes"
    if not any(actors_per_node(node, num_cpus, num_gpus) for node in nodes):
        reason = f"no node has {num_cpus:g} CPU(s) and {num_gpus:g} GPU(s) free for one actor (nodes: {summary})"
        raise ValueError(Errors.E501.format(reason=reason))
    room = sum(actors_per_node(node, num_cpus, num_gpus) for node in nodes)
    if room < num_actors:
        reason = f"{num_actors} actors asked for, room for {room} (nodes: {summary})"
        raise ValueError(Errors.E501.format(reason=reason))
    total_cpus = sum(node.get("CPU", 0.0) for node in nodes)
    reserved = num_actors * num_cpus
    if total_cpus - reserved < reserve - _EPS:
        raise ValueError(
            Errors.E502.format(actors=num_actors, cpus=num_cpus, reserved=reserved, total=total_cpus, reserve=reserve)
        )
    warnings: List[str] = []
    total_gpus = sum(node.get("GPU", 0.0) for node in nodes)
    if num_gpus == 0 and total_gpus > 0:
        warnings.append(Warnings.W500.format(gpus=total_gpus))
    return warnings


def _node_text(node: Mapping[str, float]) -> str:
    return f"{node.get('CPU', 0.0):g} CPU/{node.get('GPU', 0.0):g} GPU"


def node_resources(nodes: Sequence[Dict[str, object]]) -> List[Dict[str, float]]:
    """The resources of the alive nodes in `ray.nodes()`' answer."""
    found: List[Dict[str, float]] = []
    for node in nodes:
        resources = node.get("Resources")
        if node.get("Alive") and isinstance(resources, dict):
            found.append({key: float(value) for key, value in resources.items() if key in ("CPU", "GPU")})
    return found
