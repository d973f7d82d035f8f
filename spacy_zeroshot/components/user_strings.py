r"""User strings in spaCy's config, kept exact: labels, descriptions, templates, tables, paths.

spaCy stores every component's settings in the pipeline config and writes them to
`config.cfg` (`nlp.to_disk`, `nlp.to_bytes`, `nlp.config.to_str()`) through confection, whose
reader is Python's configparser with `${...}` interpolation. With the confection of spaCy 3.8
(1.x), `to_str` writes `$` as `$$` and leaves `${...}` as it is; `Config.from_str` reads `$$`
back as `$`, but `spacy.load`, `spacy assemble` and `spacy train` parse the file without
interpolation and interpolate later, after writing the values out once more, so every `$`
comes back doubled; a `${...}` in a value is read as a variable (an error, or silently another
setting's value); a mapping key such as `"key = value"`, `"[x]"` or `" padded "` breaks or
changes the section layout.

So when spaCy stores the config of a component that uses `keep_exact` (in `nlp.add_pipe`, and
so in `spacy.load` and `load_model_from_config`), each of its settings that confection would
not give back unchanged on both read paths is stored as a literal block instead:

    [components.zeroshot_textcat.labels]
    @misc = "spacy-zeroshot.literal.v1"
    json = "[\"US\\u0024\", \"EUR\"]"

The block holds the value as JSON text in which `$` is written `\u0024` and every non-ASCII
character `\uXXXX`, so no read path can change it; resolving the block gives the value back.
Settings that survive as they are stay plain and readable. A value that came from a config
variable (`${paths.aliases}`) is left as the variable.
"""

import json
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from confection import Config
from spacy.language import Language

from ..errors import Errors

LITERAL = "spacy-zeroshot.literal.v1"
SettingPath = Union[str, Tuple[str, ...]]


def literal(value: Any) -> Dict[str, str]:
    """The config block that stores `value` exactly (see the module docstring).

    value (Any): Any JSON value: a string, a list, a mapping, ...
    RETURNS (Dict[str, str]): {"@misc": "spacy-zeroshot.literal.v1", "json": <JSON text>}.
    """
    return {"@misc": LITERAL, "json": json.dumps(value, ensure_ascii=True).replace("$", "\\u0024")}


def read_literal(text: str) -> Any:
    """The value a literal block holds (what `spacy-zeroshot.literal.v1` returns).

    text (str): JSON text, as `literal` writes it.
    RETURNS (Any): The value.
    RAISES ValueError: [E063] when `text` is not JSON.
    """
    try:
        return json.loads(text)
    except (TypeError, ValueError) as err:
        raise ValueError(Errors.E063.format(text=text, err=err)) from err


def survives_config(value: Any) -> bool:
    """Whether confection gives `value` back unchanged when it is written as a setting and read
    back the way `Config.from_str` reads it and the way `spacy.load` reads it (without
    interpolation first, interpolated afterwards)."""
    try:
        text = Config({"s": {"v": value}}).to_str()
        read = Config().from_str(text)["s"]["v"]
        loaded = Config().from_str(text, interpolate=False).interpolate()["s"]["v"]
    except Exception:  # noqa: BLE001 - any failure to read it back means it does not survive
        return False
    return _as_json(read) == _as_json(value) == _as_json(loaded)


def keep_exact(nlp: Language, name: str, settings: Mapping[SettingPath, Any]) -> None:
    """Make the config that spaCy stores for the component `name` give back `settings` exactly.

    Call it from a component's `__init__` with the values of its user settings as the factory
    received them. Keys are config keys, or tuples for a setting inside a registered block,
    e.g. ("candidates", "table"). When spaCy then stores the component's config, each such
    setting that holds the same value and would not survive confection (`survives_config`)
    is replaced by a literal block; anything else (a literal block already, a variable) is
    left as the user wrote it.

    nlp (Language): The pipeline the component is being added to.
    name (str): The component name.
    settings (Mapping): Setting path -> value received.
    """
    configs = getattr(nlp, "_pipe_configs", None)
    if not isinstance(configs, dict):  # pragma: no cover - a spaCy without per-component configs
        return
    if not isinstance(configs, ExactConfigs):
        configs = ExactConfigs(configs)
        nlp._pipe_configs = configs
    configs.expect(name, settings)


class ExactConfigs(dict):
    """Stands in for `nlp._pipe_configs` (spaCy's store of each component's config, which
    `nlp.config` is built from) once a component has called `keep_exact`.

    spaCy stores a component's config right after the factory has built it; the component's
    `keep_exact` call registers its settings first, and this store applies them to the
    config as it comes in. Everything else behaves as the plain dict it replaces.
    """

    def __init__(self, configs: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(configs or {})
        self._expected: Dict[str, Mapping[SettingPath, Any]] = {}

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (dict(self),))

    def expect(self, name: str, settings: Mapping[SettingPath, Any]) -> None:
        self._expected[name] = dict(settings)

    def __setitem__(self, name: str, config: Any) -> None:
        settings = self._expected.pop(name, None)
        if settings and isinstance(config, dict):
            protect(config, settings)
        super().__setitem__(name, config)


def protect(config: Dict[str, Any], settings: Mapping[SettingPath, Any]) -> None:
    """Replace, in a component's config, each setting that holds its received value but would not
    survive confection with a literal block (in place)."""
    for path, value in settings.items():
        keys = (path,) if isinstance(path, str) else tuple(path)
        node: Any = config
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or keys[-1] not in node:
            continue
        stored = node[keys[-1]]
        if is_literal(stored) or _as_json(stored) != _as_json(value):
            continue  # already a literal block, or a variable that the config holds on purpose
        if not survives_config(stored):
            node[keys[-1]] = literal(stored)


def is_literal(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("@misc") == LITERAL


def _as_json(value: Any) -> Optional[str]:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return None
