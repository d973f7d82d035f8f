"""Numbered errors and warnings, in one place (the way spaCy's `errors.py` does it).

Codes are grouped by area so that independent work does not collide:
E001-E049 backend and models, E050-E099 shared components and text classification,
E100-E149 entity typing and linking, E150-E199 relations, E200-E249 corpus annotation,
E250-E299 performance and runtime modes, E300-E349 few-shot fine-tuning, E400-E429 reranking,
E430-E469 calibration and the audit trail, E500-E549 engines (Ray Data), E600-E619 serving
(`spacy_zeroshot.serving`, `spacy-zeroshot serve`), E620-E629 the review loop (export formats,
import, review order), E650-E679 converting plain labelled data (`spacy-zeroshot convert`).
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

    # Engines (Ray Data)
    W500 = (
        "The Ray cluster has {gpus:g} GPU(s) but the annotating actors ask for none "
        "(num_gpus=0), so the model runs on the CPU. Pass --gpus-per-actor 1 (num_gpus=1) to "
        "put one actor with its model on each GPU."
    )
    W501 = (
        "{actors} actors were asked for but the run has only {chunks} chunk(s) to annotate, so "
        "{idle} actor(s) would start (and load the model) for nothing; starting {chunks}."
    )
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
        "capping batches at {half} pairs from now on. Set {max_batch_pairs} or {batch_tokens} "
        "to start lower."
    )
    W251 = (
        "dtype \"bfloat16\" on a CPU without bfloat16 matrix instructions (AVX512-BF16 or AMX): "
        "oneDNN emulates them, which is usually several times slower than float32. Use "
        "\"float32\" (exact) or \"int8\" on this machine."
    )

    # Few-shot fine-tuning
    W300 = (
        "'{name}' found no gold annotation to learn from in {n} training example(s): it "
        "reads {what}.{found} It will not learn; its scores still count in evaluation."
    )
    W301 = (
        "The optimizer keeps parameter averages (`use_averages = true`), which cover thinc "
        "models only: '{name}' steps its torch weights with AdamW and evaluates and saves "
        "them as they are. Set `use_averages = false` in [training.optimizer]."
    )
    W302 = (
        "'{name}': none of the gold labels in {n} training example(s) is one of its labels, so it "
        "learns only that its labels do not hold.{found}"
    )

    # Reranking (W400-W409)
    W400 = (
        "{n} of {total} {what} are longer than the model's max_length ({max_length} tokens with "
        "the hypothesis) and were truncated, so text past the limit was not read. Pass "
        "long_text=\"windows\" ({where}) to score every window and keep the best."
    )
    # Review loop: export formats, import, ordering (W620-W629)
    W620 = (
        "{where}: span [{start}, {end}) {text!r} ({label}) does not align with the tokens; {action}. "
        "Choose --alignment contract or expand to snap such spans to the tokens inside or around them."
    )
    W621 = "{where}: overlapping spans cannot all be entities ({spans}); kept {kept}, dropped the rest."
    W622 = (
        "{n} {what} label(s) the pipeline does not know were imported as they are: {labels}. "
        "Known: {known}. Add them to the pipeline's labels, or fix them in the review tool."
    )
    W623 = "{where}: relation {head} -> {tail} ({label}) skipped: {reason}."
    W624 = "{where}: span [{start}, {end}) lies outside the text ({length} characters); skipped."

    # Converting plain labelled data (W650-W679)
    W650 = (
        "the {kind} label {label!r} starts or ends with whitespace ({rows} row(s)); it is kept as it "
        "is, a label of its own. An unquoted comma in a CSV text, or a stray space?"
    )


class Errors(metaclass=_CodedMeta):
    # Backend and models
    E001 = (
        "Could not find the entailment label in the model's config: its labels are {labels}. "
        "Set {setting} to the index of the entailment class."
    )
    E002 = (
        "Could not find the contradiction label in the model's config: its labels are "
        "{labels}. Set {setting} to the index of the contradiction class."
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

    # The plain classifier
    E016 = (
        "`candidate_labels` gives {n_sets} label set(s) for {n_texts} text(s). Give one list of "
        "labels for every text, or a list of label lists with exactly one list per text."
    )
    E017 = (
        "`candidate_labels` mixes labels and lists of labels ({value!r}). Give one list of labels "
        "for every text (e.g. [\"a\", \"b\"]), or one list per text (e.g. [[\"a\", \"b\"], [\"c\"]])."
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
        "Invalid hypothesis template {template!r}: {problem}. It must contain exactly one empty "
        "placeholder '{{}}', where the label goes (no index such as '{{0}}', no name such as "
        "'{{label}}'), e.g. \"This example is {{}}.\"; literal braces are written '{{{{' and '}}}}'."
    )
    E056 = "Invalid description for label {label!r}: descriptions must be non-empty strings."
    E057 = "Unknown `{key}` {value!r} for '{name}'. Use one of: {options}."
    E058 = "`threshold` must be between 0 and 1, got {value!r}."
    E059 = (
        "`long_text` is \"sentences\", but a doc has no sentence boundaries. Add a "
        "'sentencizer' or a parser before '{name}', or use long_text=\"windows\"."
    )
    E060 = (
        "`candidate_labels` must be a non-empty string or list of strings (for every text), or a "
        "list of such lists (one per text), got {value!r}."
    )
    E061 = "`sequences` must be a string or a list of strings, got {value!r}."
    E062 = (
        "Component '{name}' reads each span's sentence as its premise, but the doc has no "
        "sentence boundaries. Add a 'sentencizer' or a parser before it, or set its "
        "`context` to \"window\" or \"doc\"."
    )
    E063 = (
        "A \"spacy-zeroshot.literal.v1\" block holds {text!r}, which is not JSON ({err}). "
        "Copy the block from `nlp.config.to_str()` of a pipeline built in Python, or write "
        "the value as JSON text in which '$' is written '\\u0024'."
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

    # Reading the user's files (annotate inputs, pipeline configs, candidate tables)
    E210 = (
        "The {what} {path} is encoded as {encoding} (it starts with a {encoding} byte-order "
        "mark); only UTF-8 is read. Save it as UTF-8 (with or without a byte-order mark)."
    )
    E211 = "The {what} {path} is not valid UTF-8 at line {line}, byte {column} ({reason}). Save it as UTF-8."

    # Engines (Ray Data)
    E500 = (
        "The Ray engine needs Ray Data, which is not installed: pip install "
        "\"spacy-zeroshot[ray]\" (a current ray[data])."
    )
    E501 = (
        "The Ray cluster cannot place the annotating actors: {reason}. Ask for fewer actors "
        "or fewer resources per actor, or add nodes."
    )
    E502 = (
        "{actors} actor(s) x {cpus:g} CPU(s) reserve {reserved:g} of the cluster's {total:g} "
        "CPU(s), leaving less than {reserve:g} for Ray Data's own read and write tasks, which "
        "would then wait forever without an error. Ask for fewer actors, fewer CPUs per actor "
        "(e.g. 0.5: an actor runs one torch thread per whole CPU, at least one), or declare "
        "more logical CPUs (`ray start --num-cpus N`)."
    )
    E503 = (
        "Chunk {number} of the input should hold {expected} doc(s) but {found} were read: the "
        "input changed after it was scanned. Rerun on an input that does not change during the run."
    )
    E504 = (
        "Ray Data's `DataContext.max_errored_blocks` is {value}, which would drop the docs of "
        "failing blocks silently. Set it to 0: a failing batch fails the job, and "
        "`on_error=\"skip\"` deals with bad rows one by one."
    )
    E505 = "The dataset has no column {column!r} ({what} column; columns: {columns})."
    E506 = (
        "Row {row_id!r}: the text column {column!r} holds {kind}, not a string. Pass "
        "on_error=\"skip\" to leave such rows unannotated (their `error` column says why)."
    )
    E507 = (
        "The Ray run ended with {n} chunk(s) not written ({numbers}), so the output would "
        "lose docs; nothing was joined. Rerun with --resume to annotate the missing chunks."
    )
    E508 = "`{name}` of the Ray engine must be {what}, got {value!r}."
    E509 = (
        "{option} applies to --engine ray only; with --engine local use --n-process and "
        "--gpu-id (or pass --engine ray)."
    )
    E510 = (
        "{option} applies to --engine local only; with --engine ray the actors' devices come "
        "from --gpus-per-actor and their number from --num-actors."
    )

    # Performance and runtime modes
    E250 = "`cache_size` must be a non-negative integer (0 turns the pair cache off), got {value!r}."
    E251 = (
        "Ran out of memory on {device} scoring a single pair of {length} tokens. Lower "
        "{max_length}, use a smaller {dtype}, or run on the CPU."
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
        "`recheck_margin`: set {setting} > 0 so that it keeps a float32 model."
    )

    # Few-shot fine-tuning (training, spacy train, spacy-zeroshot finetune)
    E301 = "Invalid training group: {problem}."
    E302 = "`l2_sp` must be a non-negative number (0 turns it off), got {value!r}."
    E303 = (
        "'{name}' builds its training examples from sentences (`context` = \"sentence\", or, "
        "for relations, candidate pairs within a sentence: `max_distance` = null), but the "
        "training docs have no sentence boundaries. Store them in the corpus, add a "
        "sentencizer or parser to [training] annotating_components, or use `context` "
        "\"window\" or \"doc\" (and, for relations, a `max_distance`)."
    )
    E304 = "Cannot fine-tune {what}: {problem}"
    E320 = (
        "`negatives_per_positive` of component '{name}' must be an integer >= 0 (negative relations "
        "sampled per gold relation at each training step) or -1 (train on every negative), got {value!r}."
    )
    E321 = (
        "`no_relation_sample` of component '{name}' must be a number in [0, 1] (the share of candidate "
        "pairs without a gold relation that teach negatives at each training step), got {value!r}."
    )
    E322 = "`hard_negatives` of component '{name}' must be true or false, got {value!r}."

    # Converting plain labelled data (E650-E679)
    E650 = "{n} bad row(s) in the input; nothing was written:"
    E651 = "Cannot convert {path}: the file type is not one of {suffixes}."
    E652 = "{problem}"
    E653 = "the {kind} label {label!r} is not one the pipeline knows; it knows {known}. Names must match exactly (case included)."
    E654 = "Nothing to convert: {paths} hold no rows."
    E655 = (
        "the file is not UTF-8: the byte(s) {data} at byte {column} of this line are not UTF-8 text; "
        "save the file as UTF-8 (a byte order mark is fine)."
    )
    E656 = "Cannot convert {path}: the input file does not exist."
    E657 = "Config overrides ({names}) apply to the pipeline: give --pipeline, or leave them out."

    # Reranking (E400-E429)
    E400 = "A query must be a non-empty string{where}, got {value!r}."
    E401 = (
        "`documents` must be a list of strings (one query), or for a list of queries either one "
        "list of strings shared by every query or one list of strings per query; got {value!r}."
    )
    E402 = "Got {n_queries} queries but {n_lists} lists of documents: give one list per query."
    E403 = "`top_k` must be a positive integer or None, got {value!r}."
    E404 = (
        "Component '{name}' has no query for a doc: set `query` in its config, or give the doc "
        "its own query in `doc._.zeroshot_query`."
    )
    E405 = (
        "Component '{name}' ranks the doc's sentences, but the doc has no sentence boundaries. "
        "Add a 'sentencizer' or a parser before it, or set `spans_key` to rank a span group."
    )
    # E406 (a query containing '${' could not be saved) is retired: such queries now save exactly.
    E407 = "`{key}` of '{name}' must be a non-empty string, got {value!r}."

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
    # Review loop: export formats, import, ordering (E620-E629)
    E620 = "Unknown review order '{value}'. Choose one of: {options}."
    E621 = "Unknown review format '{value}'. Choose one of: {options}."
    E622 = "Cannot read {path} as a {fmt} export: {reason}."
    E623 = "Unknown alignment mode '{value}'. Choose one of: strict, contract, expand."
    E624 = "{option} must be a positive whole number, not {value!r}."
    E625 = (
        "--format {fmt} writes {suffixes} files: '{path}' does not end so. Give one such output "
        "(and at most one .spacy beside it)."
    )
    E626 = "The import output must be a .spacy file, not '{path}'."
    E627 = "--skip-reviewed must name a .spacy file that exists: '{path}'."

    # Serving (spacy_zeroshot.serving, spacy-zeroshot serve): E600-E619
    E600 = (
        "The request pool is closed: it takes no new docs after `close()` (a server closes "
        "it when it shuts down). Send the request again to a running server."
    )
    E601 = "`{name}` must be {expected}, got {value!r}."
    E602 = "The request pool takes texts (str) or spaCy Docs, got {kind}."
    E603 = (
        "The request body is {size} bytes, over the server's limit of {limit} bytes "
        "(--max-body-bytes). Send fewer or shorter docs per request."
    )
    E604 = (
        "`spacy-zeroshot serve` needs FastAPI and uvicorn, which are not installed: "
        "pip install \"spacy-zeroshot[serve]\"."
    )
    E605 = (
        "The {what} is not valid Unicode: it holds a lone surrogate code point ({point}) at "
        "character {index}, which no UTF-8 response can carry. Send it as UTF-8."
    )
