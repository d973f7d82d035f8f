"""The spacy-zeroshot benchmark, as a small package (`benchmarks/bench_zeroshot.py` runs it).

- `models`: the random DeBERTa-v3-base-shaped speed model, built offline.
- `workloads`: the texts and labels timed: short AG News docs, long premises, a label sweep.
- `peaks`: matrix-product peaks sampled around each run, useful FLOPs, peak RSS.
- `runners`: transformers' pipeline, our `zeroshot_textcat`, and the round robin that times
  several of them chunk by chunk so that their ratios are measured side by side.
- `onnx_runners`: optional ONNX Runtime peers through optimum (skipped when absent).
- `report`: agreement with a reference and the Markdown tables.
- `sections`: each table of the report, built from the pieces above.
- `cli`: the command line, `main(argv)`.
"""
