"""The Ray engine on a real local Ray cluster (2 logical CPUs, loopback only); skipped without Ray.

One cluster serves the module; every test has a timeout, and the cluster is shut down at the
end. The CLI runs join it with --ray-address, as they would join a real cluster.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.review import review_record

# Loopback only, no usage statistics, no auth token written to the home folder, no progress
# bars. Ray reads the first when it is imported, so they are set before the import.
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
}
os.environ.update(RAY_ENV)
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from spacy_zeroshot.engines import annotate_dataset  # noqa: E402

LABELS = ["sports", "business", "science"]
CRASH_ONCE = """
import os
from spacy_zeroshot.backend import NLIBackend

_score = NLIBackend.score


def score(self, pairs, **kwargs):
    try:  # the first actor to score anything dies, once, half-way through the run
        os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return _score(self, pairs, **kwargs)
    os._exit(1)


NLIBackend.score = score
"""
SLOW = """
import time
from spacy_zeroshot.backend import NLIBackend

_score = NLIBackend.score


def score(self, pairs, **kwargs):
    time.sleep(0.3)
    return _score(self, pairs, **kwargs)


NLIBackend.score = score
"""


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    temp_dir = tempfile.mkdtemp(prefix="ray-zs-")
    ray.init(
        num_cpus=2,
        object_store_memory=200 * 1024**2,
        include_dashboard=False,
        logging_level="WARNING",
        _temp_dir=temp_dir,
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pipeline_dir(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.initialize()
    path = tmp_path_factory.mktemp("pipeline") / "nlp"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JSONL with malformed lines, a DocBin with meta and a text file: 30 docs, 2 malformed records."""
    folder = tmp_path_factory.mktemp("corpus")
    texts = [f"Report {i}: the team won, shares fell and scientists found a frog." for i in range(30)]
    lines = [json.dumps({"text": text, "meta": {"id": i}}) for i, text in enumerate(texts[:20])]
    lines.insert(5, "{broken")
    lines.insert(13, '{"text": 5}')
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")
    nlp = spacy.blank("en")
    if not Doc.has_extension("meta"):
        Doc.set_extension("meta", default=None)
    docs = [nlp(text) for text in texts[20:25]]
    for i, doc in enumerate(docs):
        doc._.meta = {"id": 20 + i}
    DocBin(docs=docs, store_user_data=True).to_disk(folder / "b.spacy")
    (folder / "c.txt").write_text("\n".join(texts[25:]) + "\n", encoding="utf8")
    return folder


# Both engines run one torch thread: scores are bit-identical across engines only with the
# same thread count (another count moves some in the last digits).
COMMON = ["--batch-size", "2", "--chunk-size", "4", "--on-error", "skip", "--quiet"]
COMMON += ["--components.zeroshot_nli.num_threads", "1"]


@pytest.fixture(scope="module")
def expected(pipeline_dir: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The local engine's output on the corpus: what every Ray run must reproduce byte for byte."""
    import torch

    threads = torch.get_num_threads()  # num_threads is process-wide: give the other tests theirs back
    out = tmp_path_factory.mktemp("expected")
    args = [str(pipeline_dir), str(corpus), str(out / "out.jsonl"), str(out / "out.spacy"), "--summary", str(out / "s.json")]
    try:
        assert main(["annotate", *args, *COMMON]) == 0
    finally:
        torch.set_num_threads(threads)
    yield out


def run_ray(pipeline_dir: Path, corpus: Path, out: Path, address: str, *extra: Any) -> int:
    args = [str(pipeline_dir), str(corpus), str(out / "out.jsonl"), str(out / "out.spacy"), *COMMON]
    args += ["--engine", "ray", "--ray-address", address, "--cpus-per-actor", "0.5", *map(str, extra)]
    return main(["annotate", *args])


def assert_same_output(out: Path, expected: Path) -> None:
    assert (out / "out.jsonl").read_bytes() == (expected / "out.jsonl").read_bytes()
    vocab = spacy.blank("en").vocab
    docs = [d.to_json() for d in DocBin().from_disk(out / "out.spacy").get_docs(vocab)]
    assert docs == [d.to_json() for d in DocBin().from_disk(expected / "out.spacy").get_docs(vocab)]
    assert (out / "out.spacy").read_bytes() == (expected / "out.spacy").read_bytes()
    assert not (out / "out.jsonl.parts").exists()


@pytest.mark.timeout(60)
def test_ray_test_cluster_stays_on_loopback(ray_address: str) -> None:
    host, gcs_port = ray_address.rsplit(":", 1)
    assert host == "127.0.0.1"
    (node,) = ray.nodes()
    assert node["NodeManagerAddress"] == "127.0.0.1"
    for port in (int(gcs_port), node["NodeManagerPort"], node["ObjectManagerPort"]):
        listening = _listening_hosts(port)
        assert listening and listening <= {"127.0.0.1"}, (port, listening)


@pytest.mark.timeout(150)
def test_ray_engine_output_equals_local_engine(
    ray_address: str, pipeline_dir: Path, corpus: Path, expected: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "s.json"
    assert run_ray(pipeline_dir, corpus, tmp_path, ray_address, "--num-actors", "2", "--summary", summary) == 0
    assert_same_output(tmp_path, expected)
    ours, theirs = json.loads(summary.read_text()), json.loads((expected / "s.json").read_text())
    for key in ("docs", "records", "skipped", "skipped_records", "pairs", "labels"):
        assert ours[key] == theirs[key], key
    assert ours["docs"] == 30 and ours["skipped"] == 2 and ours["engine"] == "ray"


@pytest.mark.timeout(150)
def test_ray_engine_actor_crash_loses_nothing(
    ray_address: str, pipeline_dir: Path, corpus: Path, expected: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "crashed"
    code = tmp_path / "crash.py"
    code.write_text(CRASH_ONCE.format(marker=str(marker)))
    assert run_ray(pipeline_dir, corpus, tmp_path, ray_address, "--num-actors", "2", "--code", code) == 0
    assert marker.exists()  # an actor did die while scoring
    assert_same_output(tmp_path, expected)


@pytest.mark.timeout(170)
def test_ray_engine_resume_after_driver_sigkill(
    ray_address: str, pipeline_dir: Path, corpus: Path, expected: Path, tmp_path: Path
) -> None:
    code = tmp_path / "slow.py"
    code.write_text(SLOW)
    command = [sys.executable, "-m", "spacy_zeroshot", "annotate", str(pipeline_dir), str(corpus)]
    command += [str(tmp_path / "out.jsonl"), str(tmp_path / "out.spacy"), *COMMON, "--engine", "ray"]
    command += ["--ray-address", ray_address, "--num-actors", "1", "--cpus-per-actor", "0.5", "--code", str(code)]
    parts = tmp_path / "out.jsonl.parts"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **RAY_ENV})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and not list(parts.glob("chunk-*.json")):
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    done = len(list(parts.glob("chunk-*.json")))
    assert 1 <= done < 8 and not (tmp_path / "out.jsonl").exists()
    summary = tmp_path / "s.json"
    assert run_ray(pipeline_dir, corpus, tmp_path, ray_address, "--num-actors", "1", "--resume", "--summary", summary) == 0
    assert_same_output(tmp_path, expected)
    report = json.loads(summary.read_text())
    assert report["resumed_chunks"] >= done and report["docs"] == 30


@pytest.mark.timeout(150)
def test_annotate_dataset_rows_match_pipe(ray_address: str, pipeline_dir: Path) -> None:
    from ray.data import DataContext

    texts = [f"Match {i}: the team won and the fans celebrated." for i in range(9)]
    items = [{"id": i, "text": text, "meta": {"n": i}} for i, text in enumerate(texts)]
    items.insert(4, {"id": 99, "text": None, "meta": {"n": 99}})
    context = DataContext.get_current()
    preserve = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    try:
        ds = annotate_dataset(
            ray.data.from_items(items), str(pipeline_dir), batch_size=2, num_actors=1, num_cpus=0.5, on_error="skip"
        )
        rows = ds.take_all()
    finally:
        context.execution_options.preserve_order = preserve
    assert [row["id"] for row in rows] == [item["id"] for item in items]
    nlp = spacy.load(pipeline_dir)
    expected = {i: review_record(doc, {"n": i}) for i, doc in enumerate(nlp.pipe(texts, batch_size=2))}
    for row in rows:
        if row["id"] == 99:
            assert row["review"] is None and row["doc"] is None and "null" in row["error"]
            continue
        review = json.loads(row["review"])
        assert review["text"] == texts[row["id"]] and review["meta"] == {"n": row["id"]}
        assert review["cats"] == pytest.approx(expected[row["id"]]["cats"], abs=1e-5)
        doc = Doc(nlp.vocab).from_bytes(row["doc"])
        assert doc.cats == review["cats"] and doc._.meta == {"n": row["id"]} and row["error"] is None


@pytest.mark.timeout(60)
def test_annotate_dataset_refuses_what_cannot_progress(ray_address: str, pipeline_dir: Path) -> None:
    from ray.data import DataContext

    ds = ray.data.from_items([{"id": 0, "text": "a"}])
    with pytest.raises(ValueError, match="E502"):  # two actors x 1 CPU take both CPUs
        annotate_dataset(ds, str(pipeline_dir), num_actors=2, num_cpus=1)
    with pytest.raises(ValueError, match="E501"):
        annotate_dataset(ds, str(pipeline_dir), num_actors=1, num_gpus=1)
    with pytest.raises(ValueError, match="E505"):
        annotate_dataset(ds, str(pipeline_dir), text_column="body", num_cpus=0.5)
    context = DataContext.get_current()
    errored = context.max_errored_blocks
    context.max_errored_blocks = 3
    try:
        with pytest.raises(ValueError, match="E504"):
            annotate_dataset(ds, str(pipeline_dir), num_cpus=0.5)
    finally:
        context.max_errored_blocks = errored


def _listening_hosts(port: int) -> set:
    """The local addresses with a listening TCP socket on `port` (from /proc/net/tcp{,6})."""
    hosts = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(name).exists():
            continue
        for line in Path(name).read_text().splitlines()[1:]:
            fields = line.split()
            address, state = fields[1], fields[3]
            host_hex, port_hex = address.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                hosts.add(_host(host_hex))
    return hosts


def _host(hex_address: str) -> str:
    if len(hex_address) == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_address)))
    if hex_address == "0" * 32:
        return "::"
    if hex_address.endswith("0100007F"):  # 127.0.0.1, also as an IPv4-mapped IPv6 address
        return "127.0.0.1"
    return "::1" if hex_address == "00000000000000000000000001000000" else hex_address


