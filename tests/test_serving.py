"""Cross-request pooling (`RequestPool`) and the HTTP server (`spacy-zeroshot serve`)."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import spacy
from entity_pipelines import TYPES, build
from spacy.language import Language
from spacy.tokens import Doc

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.review import review_record
from spacy_zeroshot.serving import PoolClosedError, RequestPool, ServeSettings

LABELS = ["sports", "business", "science"]
TEXTS = [
    "The team won the match and the fans celebrated.",
    "Shares fell sharply after the company reported weaker profits.",
    "",
    "Scientists discovered a new species of frog in Brazil.",
    "Apple was founded by Steve Jobs in California. Paris is the capital of France.",
    "Barack Obama was born in Hawaii and met Apple in Paris",
    "\ufeffA BOM,\r\nCRLF, $dollar ${x}, emoji 😀🎉 and combining e\u0301 survive.",
    "   ",
]
FAIL_ON = "BOOM"
FAILING = {"everything": False}


@Language.component("test_serving_failing")
def failing_component(doc: Doc) -> Doc:
    """Raises for docs containing FAIL_ON, and for every doc while FAILING['everything']."""
    if FAILING["everything"] or FAIL_ON in doc.text:
        raise ValueError(f"cannot annotate {doc.text!r}")
    return doc


class CountingPipeline:
    """Wraps a pipeline and records the size of every `nlp.pipe` call (a test double)."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.calls: List[int] = []

    def pipe(self, docs: Any, **kwargs: Any) -> Iterator[Doc]:
        docs = list(docs)
        self.calls.append(len(docs))
        return self.nlp.pipe(docs, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.nlp, name)


@pytest.fixture
def nlp(make_nlp: Any) -> Language:
    return make_nlp("zeroshot_textcat", {"labels": LABELS})


@pytest.fixture(scope="module")
def server_nlp(deberta_path: str) -> Language:
    """Entities typed, docs classified: records with spans, scores and cats."""
    nlp = build(deberta_path, typer={"labels": TYPES, "threshold": 0.0})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    return nlp


def assert_cats_equal(a: Dict[str, float], b: Dict[str, float], abs_tol: float = 1e-5) -> None:
    assert set(a) == set(b)
    assert all(abs(a[k] - b[k]) <= abs_tol for k in a), (a, b)


def assert_records_equal(got: Dict[str, Any], expected: Dict[str, Any]) -> None:
    """Equal review records, scores within float32 batching noise."""
    assert set(got) == set(expected)
    assert got["text"] == expected["text"]
    assert got["meta"] == expected["meta"]
    assert got["relations"] == expected["relations"]
    assert_cats_equal(got["cats"], expected["cats"])
    assert len(got["spans"]) == len(expected["spans"])
    for span, other in zip(got["spans"], expected["spans"]):
        for key in ("start", "end", "token_start", "token_end", "text", "label", "source", "kb_id"):
            assert span[key] == other[key]
        assert span["score"] == pytest.approx(other["score"], abs=1e-5)
        assert_cats_equal(span.get("type_scores", {}), other.get("type_scores", {}))


# RequestPool ------------------------------------------------------------------------------


def test_pool_pools_concurrent_callers(nlp: Language) -> None:
    counting = CountingPipeline(nlp)
    texts = [f"Doc number {i}: the team won the match." for i in range(8)]
    start = threading.Barrier(len(texts))

    def call(text: str) -> Doc:
        start.wait()
        return pool.process(text, timeout=120)

    with RequestPool(counting, max_wait_ms=500, max_batch_docs=8) as pool:  # type: ignore[arg-type]
        with ThreadPoolExecutor(len(texts)) as executor:
            docs = list(executor.map(call, texts))
    assert [doc.text for doc in docs] == texts
    assert sum(counting.calls) == len(texts)
    assert len(counting.calls) < len(texts), counting.calls
    assert max(counting.calls) > 1
    assert pool.stats["docs"] == len(texts) and pool.stats["batches"] == len(counting.calls)


def test_pool_outputs_equal_nlp_pipe(nlp: Language) -> None:
    expected = [doc.cats for doc in nlp.pipe(TEXTS)]
    with RequestPool(nlp, max_wait_ms=20, max_batch_docs=3) as pool:
        with ThreadPoolExecutor(4) as executor:
            docs = list(executor.map(lambda text: pool.process(text, timeout=120), TEXTS))
    assert [doc.text for doc in docs] == TEXTS
    for doc, cats in zip(docs, expected):
        assert_cats_equal(doc.cats, cats)


def test_pool_aprocess_pools_coroutines(nlp: Language) -> None:
    counting = CountingPipeline(nlp)
    texts = [f"async doc {i}" for i in range(6)]

    async def callers(pool: RequestPool) -> List[Doc]:
        return list(await asyncio.gather(*(pool.aprocess(text) for text in texts)))

    with RequestPool(counting, max_wait_ms=300, max_batch_docs=6) as pool:  # type: ignore[arg-type]
        docs = asyncio.run(callers(pool))
        assert [doc.text for doc in asyncio.run(pool.aprocess_many(texts[:2]))] == texts[:2]
    assert [doc.text for doc in docs] == texts
    assert counting.calls == [6, 2]


def test_pool_caps_batches_at_max_batch_docs(nlp: Language) -> None:
    counting = CountingPipeline(nlp)
    with RequestPool(counting, max_wait_ms=200, max_batch_docs=4) as pool:  # type: ignore[arg-type]
        futures = pool.submit_many([f"text {i}" for i in range(10)])
        assert [f.result(120).text for f in futures] == [f"text {i}" for i in range(10)]
    assert counting.calls == [4, 4, 2]


def test_pool_max_batch_docs_one_runs_docs_one_at_a_time(nlp: Language) -> None:
    counting = CountingPipeline(nlp)
    with RequestPool(counting, max_wait_ms=0, max_batch_docs=1) as pool:  # type: ignore[arg-type]
        futures = pool.submit_many(TEXTS)
        assert [f.result(120).text for f in futures] == TEXTS
    assert counting.calls == [1] * len(TEXTS)


def test_pool_waits_at_most_max_wait_ms_for_company(nlp: Language) -> None:
    with RequestPool(nlp, max_wait_ms=300, max_batch_docs=32) as pool:
        pool.process("warm up the model", timeout=120)
        started = time.monotonic()
        pool.process("a lonely doc", timeout=120)
        assert time.monotonic() - started >= 0.29


def test_pool_to_output_runs_on_the_worker(nlp: Language) -> None:
    threads: List[str] = []

    def to_output(doc: Doc) -> Dict[str, Any]:
        threads.append(threading.current_thread().name)
        return review_record(doc)

    with RequestPool(nlp, to_output=to_output, name="pool-worker") as pool:
        record = pool.process(TEXTS[0], timeout=120)
    assert record["text"] == TEXTS[0] and set(record["cats"]) == set(LABELS)
    assert threads == ["pool-worker"]


def test_pool_error_reaches_only_its_caller(nlp: Language) -> None:
    nlp.add_pipe("test_serving_failing")
    counting = CountingPipeline(nlp)
    texts = ["fine one", f"this one goes {FAIL_ON}", "fine two"]
    with RequestPool(counting, max_wait_ms=200, max_batch_docs=8) as pool:  # type: ignore[arg-type]
        futures = pool.submit_many(texts)
        assert futures[0].result(120).text == "fine one"
        assert futures[2].result(120).text == "fine two"
        with pytest.raises(ValueError, match=FAIL_ON):
            futures[1].result(120)
        assert counting.calls == [3, 1, 1, 1]  # the pooled batch failed: each doc again on its own
        assert pool.stats["failed_batches"] == 1
        assert pool.process("still serving", timeout=120).text == "still serving"


def test_pool_pipeline_failure_reaches_every_caller_and_worker_survives(nlp: Language) -> None:
    nlp.add_pipe("test_serving_failing")
    with RequestPool(nlp, max_wait_ms=100, max_batch_docs=8) as pool:
        FAILING["everything"] = True
        try:
            futures = pool.submit_many(["a", "b", "c"])
            for future in futures:
                with pytest.raises(ValueError, match="cannot annotate"):
                    future.result(120)
        finally:
            FAILING["everything"] = False
        assert pool.process("recovered", timeout=120).text == "recovered"


def test_pool_close_finishes_queued_docs_then_refuses(nlp: Language) -> None:
    pool = RequestPool(nlp, max_wait_ms=0, max_batch_docs=2)
    futures = pool.submit_many(TEXTS)
    assert pool.close(timeout=120) is True
    assert all(f.done() for f in futures)
    assert [f.result().text for f in futures] == TEXTS
    with pytest.raises(PoolClosedError, match=r"\[E600\]"):
        pool.submit("too late")
    assert pool.close() is True  # idempotent
    assert pool.closed


def test_pool_skips_cancelled_docs(nlp: Language) -> None:
    counting = CountingPipeline(nlp)
    with RequestPool(counting, max_wait_ms=300, max_batch_docs=8) as pool:  # type: ignore[arg-type]
        futures = pool.submit_many(["kept", "cancelled", "kept too"])
        cancelled = futures[1].cancel()
        assert futures[0].result(120).text == "kept" and futures[2].result(120).text == "kept too"
    if cancelled:  # the worker had not started the batch yet (it waits 300 ms)
        assert sum(counting.calls) == 2


def test_pool_bad_settings_and_input_raise(nlp: Language) -> None:
    for kwargs in ({"max_wait_ms": -1}, {"max_batch_docs": 0}, {"max_batch_docs": 2.5}, {"max_wait_ms": True}):
        with pytest.raises(ValueError, match=r"\[E601\]"):
            RequestPool(nlp, **kwargs)
    with RequestPool(nlp) as pool:
        with pytest.raises(TypeError, match=r"\[E602\]"):
            pool.submit(b"bytes")  # type: ignore[arg-type]


def test_pool_docs_of_the_pipeline_vocab_work(nlp: Language) -> None:
    with RequestPool(nlp) as pool:
        doc = pool.process(nlp.make_doc(TEXTS[0]), timeout=120)
    assert set(doc.cats) == set(LABELS)


# The HTTP server ---------------------------------------------------------------------------


@contextlib.contextmanager
def running_server(nlp: Language, **settings: Any) -> Iterator[str]:
    """Serve `nlp` with uvicorn on 127.0.0.1 (a free port) in a background thread; yields its URL
    (the app is `running_server.app`)."""
    pytest.importorskip("fastapi")
    uvicorn = pytest.importorskip("uvicorn")
    from spacy_zeroshot.serving import create_app

    app = create_app(nlp, ServeSettings(**settings), review_record)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    running_server.app = app  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)
        assert not thread.is_alive()


def test_server_load_test_outputs_equal_nlp_pipe(server_nlp: Language) -> None:
    httpx = pytest.importorskip("httpx")
    clients, rounds = 8, 3
    texts = [f"{TEXTS[(c + r) % len(TEXTS)]} (client {c}, round {r})" for c in range(clients) for r in range(rounds)]
    expected = {text: review_record(doc, {"n": i}) for i, (text, doc) in enumerate(zip(texts, server_nlp.pipe(texts)))}

    with running_server(server_nlp, max_wait_ms=20, max_batch_docs=16) as url:
        start = threading.Barrier(clients)

        def client(c: int) -> List[Any]:
            got = []
            with httpx.Client(base_url=url, timeout=120) as http:
                start.wait()
                for r in range(rounds):
                    i = c * rounds + r
                    response = http.post("/annotate", json={"text": texts[i], "meta": {"n": i}})
                    got.append((response.status_code, response.json()))
            return got

        with ThreadPoolExecutor(clients) as executor:
            results = [item for batch in executor.map(client, range(clients)) for item in batch]
        health = httpx.get(f"{url}/health").json()
    assert [status for status, _ in results] == [200] * len(texts)
    for (_, record), text in zip(results, texts):
        assert_records_equal(record, expected[text])
    assert health["stats"]["docs"] == len(texts) + 1  # and the warm-up doc
    assert health["stats"]["batches"] < health["stats"]["docs"], health


def test_server_batch_endpoint_keeps_order_and_meta(server_nlp: Language) -> None:
    httpx = pytest.importorskip("httpx")
    docs = [{"text": text, "meta": {"i": i, "tag": "x"}} for i, text in enumerate(TEXTS)]
    with running_server(server_nlp) as url:
        response = httpx.post(f"{url}/annotate/batch", json={"docs": docs}, timeout=120)
    assert response.status_code == 200
    records = response.json()["docs"]
    for record, doc, expected in zip(records, docs, server_nlp.pipe(TEXTS)):
        assert_records_equal(record, review_record(expected, doc["meta"]))
    assert records[6]["text"].encode("utf-8") == TEXTS[6].encode("utf-8")  # byte-identical


def test_server_refuses_large_and_bad_payloads(nlp: Language) -> None:
    httpx = pytest.importorskip("httpx")
    with running_server(nlp, max_body_bytes=2_000) as url:
        with httpx.Client(base_url=url, timeout=120) as http:
            big = http.post("/annotate", json={"text": "x" * 5_000})
            chunked = http.post(
                "/annotate", content=(b"y" * 1_000 for _ in range(3)), headers={"Content-Type": "application/json"}
            )
            just_fits = http.post("/annotate", json={"text": "short", "meta": "m" * 1_900})
            bad_json = http.post("/annotate", content=b'{"text": ', headers={"Content-Type": "application/json"})
            no_text = http.post("/annotate", json={"meta": 1})
            not_str = http.post("/annotate", json={"text": 5})
            empty_batch = http.post("/annotate/batch", json={"docs": []})
            surrogate = http.post(
                "/annotate", content=b'{"text": "a\\ud800b"}', headers={"Content-Type": "application/json"}
            )
            bad_meta = http.post(
                "/annotate", content=b'{"text": "ok", "meta": {"k": ["\\udfff"]}}', headers={"Content-Type": "application/json"}
            )
            health = http.get("/health")
    for response in (big, chunked):
        assert response.status_code == 413
        assert response.json()["detail"].startswith("[E603]") and "2,000 bytes" in response.json()["detail"]
    assert just_fits.status_code == 200 and just_fits.json()["meta"] == "m" * 1_900
    for response in (bad_json, no_text, not_str, empty_batch, surrogate, bad_meta):
        assert response.status_code == 422, response.text
    assert "[E605] The text" in surrogate.text and "[E605] The meta" in bad_meta.text
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["pipeline"] == nlp.pipe_names


def test_server_pipeline_error_is_a_500_with_the_message(nlp: Language) -> None:
    httpx = pytest.importorskip("httpx")
    nlp.add_pipe("test_serving_failing")
    with running_server(nlp) as url:
        failed = httpx.post(f"{url}/annotate", json={"text": f"a {FAIL_ON}"}, timeout=120)
        fine = httpx.post(f"{url}/annotate", json={"text": "fine"}, timeout=120)
    assert failed.status_code == 500 and FAIL_ON in failed.json()["detail"]
    assert fine.status_code == 200


def test_server_answers_503_once_its_pool_is_closed(nlp: Language) -> None:
    httpx = pytest.importorskip("httpx")
    with running_server(nlp) as url:
        running_server.app.state.pool.close()  # type: ignore[attr-defined]
        response = httpx.post(f"{url}/annotate", json={"text": "late"}, timeout=120)
        health = httpx.get(f"{url}/health", timeout=120)
    assert response.status_code == 503 and response.json()["detail"].startswith("[E600]")
    assert health.json()["status"] == "closing"


def test_serve_cli_bad_setting_fails_before_loading(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    assert main(["serve", str(tmp_path / "missing"), "--max-batch-docs", "0"]) == 1
    assert "[E601]" in capsys.readouterr().err


def test_serve_cli_serves_a_saved_pipeline(nlp: Language, tmp_path: Path) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    nlp.initialize()
    nlp.to_disk(tmp_path / "nlp")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "spacy_zeroshot", "serve", str(tmp_path / "nlp"), "--port", "0", "--max-wait-ms", "2"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        url = None
        for line in process.stderr:  # uvicorn says where it listens once start-up (and warm-up) is done
            if "running on" in line:
                url = line.split("running on ")[1].split()[0]
                break
        assert url is not None, "the server did not start"
        response = httpx.post(f"{url}/annotate", json={"text": TEXTS[0], "meta": "m"}, timeout=120)
        assert response.status_code == 200
        assert_records_equal(response.json(), review_record(spacy.load(tmp_path / "nlp")(TEXTS[0]), "m"))
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_cli_help_lists_the_options(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--max-wait-ms", "--max-batch-docs", "--no-pooling", "--max-body-bytes"):
        assert option in out
