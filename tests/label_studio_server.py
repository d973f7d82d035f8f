"""A real Label Studio server for the round-trip test: its own virtual environment (its pins
clash with ours), a temporary data folder with sqlite, loopback only, spoken to over HTTP."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

VENV_ENV = "SPACY_ZEROSHOT_LABEL_STUDIO_VENV"
DEFAULT_VENV = Path.home() / ".cache" / "spacy-zeroshot" / "label-studio-venv"
INSTALL_SECONDS = 1200
START_SECONDS = 900


def label_studio_venv() -> Path:
    """The venv holding `label-studio` ($SPACY_ZEROSHOT_LABEL_STUDIO_VENV, else a cached one),
    built with `python -m venv` and `pip install label-studio` when missing.

    RAISES RuntimeError: when it cannot be built (no network, no wheel for this platform...).
    """
    venv = Path(os.environ.get(VENV_ENV) or DEFAULT_VENV)
    binary = venv / "bin" / "label-studio"
    if binary.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "--quiet", "label-studio"]]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f"{' '.join(step)}: {err}") from None
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed: {done.stderr.strip()[-500:]}")
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing after pip install label-studio")
    return venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabelStudio:
    """`label-studio start` on 127.0.0.1 with a temporary data folder; a legacy API token."""

    def __init__(self, venv: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(20)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "server.log"
        env = {
            **os.environ,
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "DJANGO_DB": "sqlite",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        }
        command = [
            str(venv / "bin" / "label-studio"),
            "start",
            "--no-browser",
            "--data-dir",
            str(data_dir),
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--username",
            "reviewer@example.com",
            "--password",
            secrets.token_hex(8),
            "--user-token",
            self.token,
            "--enable-legacy-api-token",
        ]
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, seconds: float = START_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"label-studio exited ({self.process.returncode}): {self.tail()}")
            try:
                if requests.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        raise RuntimeError(f"label-studio did not answer in {seconds:.0f}s: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf8", errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # our own session: the server and its children
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.url}/api/{path}", headers={"Authorization": f"Token {self.token}"}, timeout=120, **kwargs
        )
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:1000]}")
        return response.json()

    def create_project(self, title: str, label_config: str) -> int:
        return int(self.api("POST", "projects", json={"title": title, "label_config": label_config})["id"])

    def import_tasks(self, project: int, tasks: List[Dict[str, Any]]) -> Dict[str, Any]:
        return self.api("POST", f"projects/{project}/import", json=tasks)

    def task_ids(self, project: int) -> List[int]:
        found = self.api("GET", "tasks", params={"project": project, "page_size": 1000})
        tasks = found["tasks"] if isinstance(found, dict) else found
        return sorted(int(task["id"]) for task in tasks)

    def task(self, task_id: int) -> Dict[str, Any]:
        return self.api("GET", f"tasks/{task_id}")

    def predictions(self, task_id: int) -> List[Dict[str, Any]]:
        return self.api("GET", "predictions", params={"task": task_id})

    def annotate(self, task_id: int, result: List[Dict[str, Any]], *, cancelled: bool = False) -> Dict[str, Any]:
        return self.api("POST", f"tasks/{task_id}/annotations", json={"result": result, "was_cancelled": cancelled})

    def export(self, project: int) -> List[Dict[str, Any]]:
        return self.api("GET", f"projects/{project}/export", params={"exportType": "JSON", "download_all_tasks": "true"})


def start_label_studio(data_dir: Path) -> Optional[LabelStudio]:
    """A started server, or None with the reason printed when it cannot be installed."""
    venv = label_studio_venv()
    server = LabelStudio(venv, data_dir)
    try:
        server.wait()
    except RuntimeError:
        server.stop()
        raise
    return server
