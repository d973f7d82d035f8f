"""Load test of `spacy-zeroshot serve`: pooled against one-request-at-a-time serving.

Starts two servers on 127.0.0.1 over the same pipeline (subprocesses running the real CLI):
  pooled    - `--max-wait-ms W --max-batch-docs B` (the defaults: 5 ms, 32 docs),
  unpooled  - `--no-pooling` (one doc per nlp.pipe call, in arrival order),
then, for 1 / 8 / 32 concurrent clients, has each client send one AG News test doc (title and
description) per `POST /annotate` request, back to back, for `--seconds` seconds, against
each server in turn (the order alternates from one run to the next, so that a busy moment
does not favour one mode). Reports requests/s, p50/p99 latency, errors, the mean pooled
batch (from /health), and whether every response equals `nlp.pipe` on the same texts in
this process (cats within 1e-5; the largest difference is shown). Prints `uptime` before
and after.

    python benchmarks/serve_load.py --seconds 30
    python benchmarks/serve_load.py --pipeline path/to/pipeline --clients 1,8,32 --repeats 2

Default pipeline: ../shared/models/minilm-nli with zeroshot_textcat over world / sports /
business / science and technology (built into a temporary folder). The AG News data and the
model are read by path (research licences: never copied into the project); the script exits
cleanly when they are absent. Needs spacy-zeroshot[serve] and httpx.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.agnews import LABELS, build_pipeline, read_texts  # noqa: E402
from zeroshot_bench.shared import SHARED  # noqa: E402

TOLERANCE = 1e-5


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uptime: not available"


class Server:
    """`spacy-zeroshot serve` in a subprocess on 127.0.0.1, a free port."""

    def __init__(self, pipeline: str, options: List[str]) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH")] if p)}
        command = [sys.executable, "-m", "spacy_zeroshot", "serve", pipeline, "--port", "0", *options]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        self.log: List[str] = []
        self.url: Optional[str] = None
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "running on" in line:
                self.url = line.split("running on ")[1].split()[0]
                break
        if self.url is None:
            raise RuntimeError("the server did not start:\n" + "".join(self.log))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def stats(self) -> Dict[str, int]:
        import httpx

        return httpx.get(f"{self.url}/health", timeout=60).json()["stats"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def load(url: str, texts: List[str], clients: int, seconds: float, reference: List[Dict[str, float]]) -> Dict[str, Any]:
    """`clients` concurrent clients, one doc per request, back to back for `seconds`."""
    import httpx

    latencies: List[float] = []
    errors: List[str] = []
    worst = [0.0]
    mismatched = [0]
    cursor = [0]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:

        async def client(deadline: float, measure: bool) -> None:
            while time.perf_counter() < deadline:
                i = cursor[0] % len(texts)
                cursor[0] += 1
                start = time.perf_counter()
                try:
                    response = await http.post("/annotate", json={"text": texts[i], "meta": i})
                except httpx.HTTPError as err:
                    errors.append(repr(err))
                    continue
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
                record = response.json()
                diff = max(abs(record["cats"][k] - reference[i][k]) for k in reference[i])
                if record["text"] != texts[i] or record["meta"] != i or set(record["cats"]) != set(reference[i]):
                    diff = float("inf")
                worst[0] = max(worst[0], diff)
                mismatched[0] += diff > TOLERANCE
                if measure:
                    latencies.append(elapsed)

        warm = time.perf_counter() + min(2.0, seconds / 5)
        await asyncio.gather(*(client(warm, False) for _ in range(clients)))
        errors.clear()
        started = time.perf_counter()
        await asyncio.gather(*(client(started + seconds, True) for _ in range(clients)))
        wall = time.perf_counter() - started
    latencies.sort()

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / wall,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "max_abs_diff": worst[0],
        "mismatched": mismatched[0],
    }


def run_phase(server: Server, mode: str, texts: List[str], clients: int, seconds: float, reference: List[Dict[str, float]]) -> Dict[str, Any]:
    assert server.url is not None
    before = server.stats()
    result = asyncio.run(load(server.url, texts, clients, seconds, reference))
    after = server.stats()
    batches = after["batches"] - before["batches"]
    result.update(mode=mode, clients=clients, mean_batch=(after["docs"] - before["docs"]) / batches if batches else 0.0)
    return result


def print_table(results: List[Dict[str, Any]]) -> None:
    header = f"| {'clients':>7} | {'serving':<8} | {'requests/s':>10} | {'p50 ms':>8} | {'p99 ms':>8} | {'errors':>6} | {'mean batch':>10} | {'equal nlp.pipe (max diff)':<26} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for r in results:
        equal = f"{'yes' if r['mismatched'] == 0 else 'NO'} ({r['max_abs_diff']:.1e})"
        print(
            f"| {r['clients']:>7} | {r['mode']:<8} | {r['requests_per_s']:>10.1f} | {r['p50_ms']:>8.1f} | {r['p99_ms']:>8.1f} "
            f"| {r['errors']:>6} | {r['mean_batch']:>10.1f} | {equal:<26} |"
        )
    by_key = {(r["clients"], r["mode"]): [] for r in results}
    for r in results:
        by_key[(r["clients"], r["mode"])].append(r["requests_per_s"])
    for clients in sorted({r["clients"] for r in results}):
        pooled, unpooled = by_key.get((clients, "pooled")), by_key.get((clients, "unpooled"))
        if pooled and unpooled:
            ratio = (sum(pooled) / len(pooled)) / (sum(unpooled) / len(unpooled))
            print(f"{clients} client(s): pooled / unpooled requests/s = {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=None, help="A saved pipeline to serve (default: minilm-nli + textcat).")
    parser.add_argument("--model", default=str(SHARED / "models" / "minilm-nli"), help="NLI model for the default pipeline.")
    parser.add_argument("--device", default="cpu", help="Device of the default pipeline's model (default: cpu).")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "ag_news" / "test.csv")
    parser.add_argument("--docs", type=int, default=2000, help="AG News test docs to cycle through (default 2000).")
    parser.add_argument("--seconds", type=float, default=30.0, help="Measured seconds per run (default 30).")
    parser.add_argument("--clients", default="1,8,32", help="Concurrent clients, comma-separated (default 1,8,32).")
    parser.add_argument("--repeats", type=int, default=1, help="Runs per concurrency and mode, alternating (default 1).")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="Pooled server's --max-wait-ms (default 5).")
    parser.add_argument("--max-batch-docs", type=int, default=32, help="Pooled server's --max-batch-docs (default 32).")
    parser.add_argument("--output", type=Path, default=None, help="Write the results as JSON here.")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"AG News test data not found at {args.data}; nothing to measure.")
        return
    if args.pipeline is None and not (Path(args.model) / "config.json").exists():
        print(f"Model folder {args.model} not found; nothing to measure.")
        return
    try:
        import fastapi  # noqa: F401
        import httpx  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print('Needs FastAPI, uvicorn and httpx: pip install "spacy-zeroshot[serve]" httpx; nothing measured.')
        return
    texts = read_texts(args.data, args.docs)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    print(f"load before: {uptime()}")
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = args.pipeline
        if pipeline is None:
            pipeline = str(Path(tmp) / "pipeline")
            build_pipeline(args.model, args.device, Path(pipeline))
        reference, pipe_docs_per_s = reference_cats(pipeline, texts)
        modes: List[Tuple[str, List[str]]] = [
            ("pooled", ["--max-wait-ms", str(args.max_wait_ms), "--max-batch-docs", str(args.max_batch_docs)]),
            ("unpooled", ["--no-pooling"]),
        ]
        servers = {mode: Server(pipeline, options) for mode, options in modes}
        results: List[Dict[str, Any]] = []
        try:
            turn = 0
            for clients in levels:
                for _ in range(args.repeats):
                    order = ["pooled", "unpooled"] if turn % 2 == 0 else ["unpooled", "pooled"]
                    turn += 1
                    for mode in order:
                        result = run_phase(servers[mode], mode, texts, clients, args.seconds, reference)
                        results.append(result)
                        print(
                            f"  {clients} client(s), {mode}: {result['requests_per_s']:.1f} requests/s, "
                            f"{result['errors']} errors" + (f" (first: {result['first_error']})" if result["errors"] else ""),
                            flush=True,
                        )
        finally:
            for server in servers.values():
                server.stop()
    print(f"load after: {uptime()}")
    print(
        f"\n{len(texts)} AG News docs cycled, one per request, {args.seconds:g} s per run, {len(LABELS)} labels; "
        f"pooled: --max-wait-ms {args.max_wait_ms:g} --max-batch-docs {args.max_batch_docs}; "
        f"in-process nlp.pipe: {pipe_docs_per_s:.1f} docs/s"
    )
    print_table(results)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))


def reference_cats(pipeline: str, texts: List[str]) -> Tuple[List[Dict[str, float]], float]:
    """`nlp.pipe` on the texts in this process: the cats every response must match, and docs/s."""
    import spacy

    nlp = spacy.load(pipeline)
    nlp("warm up")
    start = time.perf_counter()
    cats = [dict(doc.cats) for doc in nlp.pipe(texts, batch_size=64)]
    seconds = time.perf_counter() - start
    del nlp
    return cats, len(texts) / seconds


if __name__ == "__main__":
    main()
