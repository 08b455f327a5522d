"""`qmas serve` for real: a child process on 127.0.0.1 serving a fresh SQLite file, answered
over HTTP, stopped with SIGINT; its log has the access lines and no personal data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from states.accounts import Accounts
from states.store import Store
from tests.api.apikit import PASSWORD, password_hash

RUN_CLI = "import sys; from console.cli import main; main(sys.argv[1:])"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_qmas_serve_answers_over_http_and_stops_on_sigint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/served.db"
    store = Store(url)
    store.init()
    Accounts(store).add(
        "officer.lam",
        ["caseworker"],
        password_hash=password_hash(),
        by="tests",
        at="2023-06-01T02:00:00.000000Z",
    )
    store.dispose()

    script = Path(sys.executable).with_name("qmas")  # the installed entry point
    qmas = [str(script)] if script.exists() else [sys.executable, "-c", RUN_CLI]
    port = free_port()
    env = {
        **os.environ,
        "QMAS_DATABASE_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [*qmas, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            deadline = time.monotonic() + 60
            while True:
                assert child.poll() is None, log_path.read_text()
                try:
                    schema = httpx.get(f"{base}/openapi.json", timeout=5)
                    if schema.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "qmas serve did not answer within 60 s"
                time.sleep(0.1)
            assert schema.json()["info"]["title"] == "QMAS case engine"
            assert "/api/v1/cases/{ref}/transitions" in schema.json()["paths"]

            login = {"username": "officer.lam", "password": PASSWORD}
            issued = httpx.post(f"{base}/auth/token", json=login, timeout=30)
            assert issued.status_code == 200, issued.text
            bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
            listed = httpx.get(f"{base}/cases", params={"q": "Z55512345"}, headers=bearer)
            assert listed.json() == {"items": [], "next_cursor": None}
            assert httpx.get(f"{base}/cases/1", headers=bearer).status_code == 404
            assert httpx.get(f"{base}/cases").status_code == 401
        finally:
            child.send_signal(signal.SIGINT)
            try:
                code = child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                raise
    assert code == 0, log_path.read_text()
    logged = log_path.read_text()
    assert "Traceback" not in logged
    assert "qmas.api POST /api/v1/auth/token 200" in logged
    assert "qmas.api GET /api/v1/cases 200" in logged and "officer.lam" in logged
    assert "Z55512345" not in logged  # the search is not logged
