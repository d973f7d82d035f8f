"""The settings of an annotation run (`AnnotateSettings`), shared by the run and both engines."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .review import DEFAULT_RELATIONS_ATTR

ON_ERROR = ("fail", "skip")
ENGINES = ("local", "ray")


@dataclass
class AnnotateSettings:
    """Everything `annotate` needs; the command line fills it from its arguments."""

    pipeline: str
    input: str
    outputs: List[Path]
    overrides: Dict[str, Any] = field(default_factory=dict)
    text_key: str = "text"
    batch_size: int = 64
    chunk_size: int = 1024
    n_process: int = 1
    gpu_id: Optional[int] = None
    on_error: str = "fail"
    resume: bool = False
    quiet: bool = False
    relations_attr: str = DEFAULT_RELATIONS_ATTR
    explain: bool = False
    summary: Optional[Path] = None
    code: Optional[str] = None
    engine: str = "local"
    ray_address: Optional[str] = None
    num_actors: Optional[int] = None
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 1.0
    format: str = "review"  # the review options: see engines/review_export.py
    order: str = "input"
    limit: Optional[int] = None
    skip_reviewed: Optional[Path] = None
    seed: int = 0
