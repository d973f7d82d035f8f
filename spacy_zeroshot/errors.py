"""Numbered errors and warnings, in one place (the way spaCy's `errors.py` does it).

Codes are grouped by area so that independent work does not collide:
E001-E049 backend and models, E050-E099 shared components and text classification,
E100-E149 entity typing and linking, E150-E199 relations, E200-E249 corpus annotation,
E250-E299 performance and runtime modes, E430-E469 calibration and the audit trail.
Warnings use the same ranges with a W prefix.
"""

from typing import Any


class _CodedMeta(type):
    """Prefix every string attribute with its code, e.g. `Errors.E001` -> "[E001] ..."."""

    def __getattribute__(cls, code: str) -> Any:
        msg = super().__getattribute__(code)
        if code.startswith("__") or not isinstance(msg, str):
            return msg
        return f"[{code}] {msg}"


class Warnings(metaclass=_CodedMeta):
    W001 = (
        "{n} of {total} doc(s) in this batch are longer than the model's max_length "
        "({max_length} tokens) and were truncated, so text past the limit was not read. "
        "They are flagged with `doc._.zeroshot_truncated`. Set `long_text` to \"windows\" "
        "or \"sentences\" on component '{name}' to read the whole text."
    )
    W002 = (
        "The model has no label named like 'contradiction' ({labels}); using index {index} "
        "('{label}') as the non-entailment class for multi-label scores."
    )

    # Corpus annotation (spacy-zeroshot annotate)
    W200 = "Skipping malformed input record at {where}: {reason}."

    # Calibration and the audit trail (W430-W449)
    W430 = (
        "Calibrating '{name}': {n} label(s) have fewer than min_examples={min_examples} gold "
        "examples, too few to choose a threshold of their own, and use the global threshold "
        "{threshold:.3f} instead: {labels}."
    )
    W431 = (
        "The calibration saved with '{name}' names label(s) the component does not have "
        "({labels}); their thresholds and wording were ignored. Calibrate again after "
        "changing the labels."
    )
    W432 = (
        "Calibrating '{name}': the examples hold only {n} gold positive(s), fewer than "
        "min_examples={min_examples}, so the thresholds were left unchanged."
    )

    # Performance and runtime modes
    W250 = (
        "Ran out of memory on {device} with a batch of {size} pairs; retrying in halves and "
        "capping batches at {half} pairs from now on. Set `max_batch_pairs` or `batch_tokens` "
        "on the 'zeroshot_nli' component to start lower."
    )


class Errors(metaclass=_CodedMeta):
    # Backend and models
    E001 = (
        "Could not find the entailment label in the model's config: its labels are {labels}. "
        "Set `entailment_index` on the 'zeroshot_nli' component to the index of the "
        "entailment class."
    )
    E002 = (
        "Could not find the contradiction label in the model's config: its labels are "
        "{labels}. Set `contradiction_index` on the 'zeroshot_nli' component."
    )
    E003 = "`{name}` is {index}, but the model has only {num_labels} output label(s) ({labels})."
    E004 = (
        "`entailment_index` and `contradiction_index` are both {index}: they must name "
        "two different classes."
    )
    E005 = (
        "Unknown device {device!r}. Use \"auto\", \"cpu\", \"cuda\", \"cuda:N\", \"mps\", "
        "or an integer GPU id (-1 for the CPU)."
    )
    E006 = "Device {device!r} was requested, but {what} is not available in this torch build."
    E007 = (
        "Unknown dtype {dtype!r}. Use one of: {options}."
    )
    E008 = (
        "dtype {dtype!r} is not supported on device {device!r}: {why}"
    )
    E009 = (
        "Could not load the NLI model or tokenizer from {source!r}: {err}. Pass a Hugging "
        "Face hub id (fetched on first use, or read from the local cache when offline) or "
        "the path of a folder written by `save_pretrained`."
    )
    E010 = (
        "The model at {source!r} has {num_labels} output label(s); an NLI model needs at "
        "least 2 (entailment and a non-entailment class)."
    )
    E011 = (
        "`max_length` must be a positive integer, got {value!r}."
    )
    E012 = (
        "A hypothesis is {length} tokens long, which leaves no room for the premise within "
        "`max_length`={max_length}. Shorten the label, description or template: {hypothesis!r}"
    )
    E013 = "`{name}` must be a positive integer, got {value!r}."
    E014 = "The tokenizer of {source!r} has no padding token and no end-of-sequence token to pad with."
    E015 = (
        "The saved 'zeroshot_nli' component at {path} holds no model folder; it may have "
        "been written by an incompatible version."
    )

    # Shared task components and text classification
    E050 = (
        "Component '{name}' needs a 'zeroshot_nli' component before it in the pipeline "
        "to provide the model. Add it first: nlp.add_pipe(\"zeroshot_nli\", config="
        "{{\"model\": \"knowledgator/comprehend_it-base\"}}, before=\"{name}\"). Pipeline: {pipeline}."
    )
    E051 = (
        "Component '{name}' is configured to use the NLI component '{nli}', but that "
        "component {problem}. Pipeline: {pipeline}."
    )
    E052 = "No labels given to '{name}'. Pass a non-empty list, or a mapping label -> description."
    E053 = "Duplicate label(s) {labels} given to '{name}': each label must appear once."
    E054 = (
        "Invalid label {label!r} given to '{name}': labels must be non-empty strings."
    )
    E055 = (
        "Invalid hypothesis template {template!r}: it must contain exactly one '{{}}' "
        "placeholder (found {count}), e.g. \"This example is {{}}.\". Literal braces are "
        "written '{{{{' and '}}}}'."
    )
    E056 = "Invalid description for label {label!r}: descriptions must be non-empty strings."
    E057 = "Unknown `{key}` {value!r} for '{name}'. Use one of: {options}."
    E058 = "`threshold` must be between 0 and 1, got {value!r}."
    E059 = (
        "`long_text` is \"sentences\", but a doc has no sentence boundaries. Add a "
        "'sentencizer' or a parser before '{name}', or use long_text=\"windows\"."
    )
    E060 = "`candidate_labels` must be a non-empty string or list of strings, got {value!r}."
    E061 = "`sequences` must be a string or a list of strings, got {value!r}."
    E062 = (
        "Component '{name}' reads each span's sentence as its premise, but the doc has no "
        "sentence boundaries. Add a 'sentencizer' or a parser before it, or set its "
        "`context` to \"window\" or \"doc\"."
    )

    # Entity typing and linking (E100-E149)
    E100 = (
        "Invalid `labels` for '{name}': {problem}. Give a list of types (for every span), a "
        "mapping type -> description, or a mapping span label -> list of types (or -> "
        "mapping type -> description), e.g. {{\"ORG\": [\"company\", \"university\"]}}."
    )
    E101 = (
        "Invalid hypothesis template {template!r} for '{name}': {problem}. Its fields can be "
        "{allowed}, e.g. \"{{mention}} is a {{label}}.\"; literal braces are written '{{{{' and '}}}}'."
    )
    E103 = "`mention_markers` of '{name}' must be null or a list of two strings, got {value!r}."
    E104 = "`window` of '{name}' must be a non-negative integer (tokens either side), got {value!r}."
    E105 = (
        "Component '{name}' proposes spans from {proposals!r}, which needs a dependency "
        "parse. Add a parser before it, or set `proposals` to null."
    )
    E106 = "The candidate file {path} {problem}."
    E107 = (
        "Invalid candidate entry {entry!r} in {where}: each candidate needs a non-empty "
        "string \"id\" (and optional string \"name\" and \"description\"), and each alias a "
        "list of candidates."
    )
    E108 = "{source} takes only one of `{a}` and `{b}` (the KB source needs one of `kb` and `kb_path`)."
    E109 = (
        "`candidates` of '{name}' must be a candidate source, e.g. "
        "{{\"@misc\": \"spacy-zeroshot.alias_candidates.v1\", \"path\": \"aliases.jsonl\"}}, "
        "got {value}."
    )
    E110 = "The saved candidate source at {path} has unknown kind {kind!r} (known: {options})."
    E111 = "`nil` of '{name}' must be a non-empty string, got {value!r}."

    # Relations (E150-E199)
    E150 = (
        "Invalid template {template!r} for relation {label!r} in '{name}': a relation "
        "template must contain both '{{subj}}' and '{{obj}}' (and may contain '{{label}}'); "
        "found the fields {fields}. Example: \"{{subj}} was founded by {{obj}}.\""
    )
    E151 = (
        "Invalid settings for relation {label!r} in '{name}': {problem}. Give a template "
        "string, a list of templates, or a dict with \"templates\" and optional "
        "\"allowed_head\", \"allowed_tail\" (lists of entity labels) and \"allowed_pairs\" "
        "(a list of \"HEADTYPE:TAILTYPE\" strings)."
    )
    E152 = (
        "`thresholds` of '{name}' name unknown relation label(s) {labels}. Known labels: {known}."
    )
    E153 = "`{key}` of '{name}' must be a non-negative integer or null, got {value!r}."
    E154 = (
        "Component '{name}' pairs entities within a sentence, but the doc has no sentence "
        "boundaries. Add a 'sentencizer' or a parser before it, or set `max_distance` to pair "
        "entities within a number of tokens instead."
    )
    E155 = (
        "`extension` of '{name}' must be a valid Python identifier (the name of the "
        "`doc._` attribute to write relations to), got {value!r}."
    )

    # Corpus annotation (spacy-zeroshot annotate)
    E200 = "The {what} does not exist: {path}"
    E201 = "Found no input files with a supported suffix ({suffixes}) in the folder {path}."
    E202 = (
        "Unsupported input file {path}: use {suffixes} (one text per line, JSON lines with a "
        "text key, or a DocBin), or a folder of such files."
    )
    E203 = "Unsupported output file {path}: use {suffixes} (a DocBin, or JSON lines for review)."
    E204 = "Give at most one output file per format, got {outputs}."
    E205 = (
        "Found the parts of an unfinished run in {path}. Pass --resume to continue it, or "
        "delete that folder to start over."
    )
    E206 = (
        "The unfinished run in {path} was started with other settings or inputs ({keys} "
        "changed), so resuming it would not give the output of one uninterrupted run. Resume "
        "with the original settings, or delete that folder to start over."
    )
    E207 = (
        "Cannot load the pipeline {source!r}: it is neither a pipeline folder, a .cfg config "
        "file, nor the name of an installed pipeline package."
    )
    E208 = (
        "Malformed input record at {where}: {reason} ({n} malformed record(s) in all). Fix "
        "the input, or pass --on-error skip to skip and count such records."
    )
    E209 = (
        "--n-process {n_process} runs several CPU processes and cannot be combined with "
        "--gpu-id {gpu_id}: run one process on the GPU instead."
    )

    # Performance and runtime modes
    E250 = "`cache_size` must be a non-negative integer (0 turns the pair cache off), got {value!r}."
    E251 = (
        "Ran out of memory on {device} scoring a single pair of {length} tokens. Lower "
        "`max_length` on the 'zeroshot_nli' component, use a smaller `dtype`, or run on the CPU."
    )
    E252 = (
        "dtype \"int8\" needs torch's dynamic quantisation (torch.ao.quantization."
        "quantize_dynamic), which this torch build ({version}) does not provide. Use "
        "\"bfloat16\" instead."
    )
    E253 = (
        "`recheck_margin` must be a non-negative number of logits (0 turns re-checking off), "
        "got {value!r}. Typical values: 0.05-0.2."
    )
    E254 = (
        "Exact (float32) scoring was requested from a backend running a lossy dtype without "
        "`recheck_margin`: set `recheck_margin` > 0 on the 'zeroshot_nli' component so that "
        "it keeps a float32 model."
    )

    # Calibration and the audit trail (E430-E469)
    E430 = (
        "Component '{name}' cannot be calibrated: it has no thresholds or wording to choose "
        "on gold examples."
    )
    E431 = (
        "Calibrating '{name}' needs spaCy `Example` objects (predicted doc + gold reference), "
        "got {value}."
    )
    E432 = (
        "None of the {n} example(s) given to calibrate '{name}' holds gold annotation for it "
        "({what} on the reference docs), so there is nothing to calibrate on."
    )
    E433 = (
        "Invalid candidate wording {value!r} for label {label!r} of '{name}': expected {expected}."
    )
    E434 = "'{name}' has no {what} to choose among; leave that argument out for this component."
    E435 = "`min_examples` must be a positive integer, got {value!r}."
    E436 = (
        "`descriptions` for calibrating '{name}' must map known labels to lists of candidates; "
        "{problem}. Known labels: {known}."
    )
    E437 = "`templates` for calibrating '{name}' must be a non-empty list of templates, got {value!r}."
    E438 = (
        "The calibration saved at {path} cannot be read ({problem}). It may have been written "
        "by another version: calibrate again, or delete that file."
    )
