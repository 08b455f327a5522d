"""Deployment: a real `prefect server`, `prefect deploy --all`, a process worker, a real email.

The whole production path in one test: a transition committed by the `qmas` CLI emits
`qmas.case.transitioned`; the deployment's event trigger creates a `dispatch_events` run; a
`prefect worker --run-once` on the `process` pool runs it; the applicant's email arrives at a
real SMTP server (aiosmtpd on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import overseas_application, persons
from tests.notifications.smtp_server import SmtpRecorder, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _env(tmp: Path, api: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "QMAS_"))}
    env.update(
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp}/prefect.db",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_until(ready: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll an outside process (a server, an automation) until ``ready``, or fail naming it."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds:.0f} s")
        time.sleep(0.5)


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _env(tmp_path, api)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def healthy() -> bool:
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 120, "prefect server did not answer")
        yield api, tmp_path
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def _scheduled_dispatch_runs(api: str) -> list[dict[str, object]]:
    body = {"flows": {"name": {"any_": ["dispatch_events"]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING"]}}}}  # fmt: skip
    return list(httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json())


def test_deploy_all__event_triggers_dispatch_and_worker_delivers_email(
    prefect_server: tuple[str, Path],
) -> None:
    api, tmp = prefect_server
    with SmtpRecorder() as smtp:
        env = _env(tmp, api, QMAS_DATABASE_URL=f"sqlite:///{tmp}/qmas.db", QMAS_SMTP_URL=smtp.url)
        prefect = str(BIN / "prefect")
        _run([prefect, "work-pool", "create", "qmas", "--type", "process"], env)
        out = _run([prefect, "--no-prompt", "deploy", "--all"], env)
        for name in ("dispatch-events", "send-reminders", "escalate-stale-cases"):
            assert name in out

        qmas = [sys.executable, "-m", "console.cli"]
        _run([*qmas, "init"], env)
        # A caseworker records the applicant's submission (the CLI acts as an account).
        _run([*qmas, "user", "add", "officer.wong", "--role", "caseworker"], env)
        app_file = tmp / "application.json"
        application = overseas_application(email="deploy.test@example.org")
        app_file.write_text(json.dumps(application))
        case_id = _run([*qmas, "case", "new", str(app_file)], env).strip()
        # Today's date: the HK$600 application fee (from 26 Feb 2025) for every person.
        paid = {"application_fee": {"amount": 600 * persons(application), "method": "fps"}}
        _run([*qmas, "case", "advance", case_id, "submit", "--actor", "officer.wong",
              "--role", "applicant", "--data", json.dumps(paid)], env)  # fmt: skip

        # The commit's event reaches the server and the trigger creates a flow run.
        wait_until(
            lambda: bool(_scheduled_dispatch_runs(api)), 60,
            "no dispatch_events run was triggered by the event",
        )  # fmt: skip

        _run([prefect, "worker", "start", "--pool", "qmas", "--run-once"], env, timeout=240)

        received = [m.message for m in smtp.messages]
        assert [m["To"] for m in received] == ["deploy.test@example.org"]
        assert received[0]["X-QMAS-Kind"] == "submitted"
        shown = json.loads(_run([*qmas, "case", "show", case_id, "--json"], env))
        assert [(m["kind"], m["status"]) for m in shown["messages"]] == [("submitted", "sent")]
