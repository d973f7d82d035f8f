"""Training defaults for few-shot fine-tuning of a pretrained NLI cross-encoder.

`spacy-zeroshot finetune` puts these sections beside a saved pipeline's components; they
are the same as `configs/fewshot_textcat.cfg` (a test keeps the two equal; only the config's
per-component `[initialize.components]` settings, which name its components, are its own). Sane for a
pretrained cross-encoder: learn rate 5e-5 with a 4-step warm-up and a linear decay to 0 at
step 64, 8 docs per batch, at most 32 epochs or 64 steps (64 steps even for a handful of
docs), dev scored every 8 steps (the first score, at learn rate 0, is the zero-shot model's),
no parameter averaging (thinc's averages do not cover the torch weights).
"""

FEWSHOT_TRAINING_CONFIG = """
[paths]
train = null
dev = null
vectors = null
init_tok2vec = null

[system]
seed = 0
gpu_allocator = null

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}
gold_preproc = false
max_length = 0
limit = 0
augmenter = null

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}
gold_preproc = false
max_length = 0
limit = 0
augmenter = null

[training]
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
dropout = 0.1
accumulate_gradient = 1
patience = 200
max_epochs = 32
max_steps = 64
eval_frequency = 8
frozen_components = []
annotating_components = []
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
before_to_disk = null
before_update = null

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 8
get_length = null

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = false
eps = 1e-08

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = 4
total_steps = 64
initial_rate = 5e-5

[training.score_weights]
cats_score = 1.0
cats_score_desc = null
cats_micro_p = null
cats_micro_r = null
cats_micro_f = null
cats_macro_p = null
cats_macro_r = null
cats_macro_f = null
cats_macro_auc = null
cats_f_per_type = null

[pretraining]

[initialize]
vectors = ${paths.vectors}
init_tok2vec = ${paths.init_tok2vec}
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.tokenizer]
"""
