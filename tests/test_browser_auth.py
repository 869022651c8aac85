"""Team mode in a real browser with a real OpenID Connect provider.

``oidc-provider-mock`` (a dev dependency) runs as its own process on a loopback port;
``speclab serve`` runs from a folder whose ``.streamlit/secrets.toml`` points Streamlit's own
``st.login`` at it (``[auth]``) and names the members (``[members]``). Debian's Chromium,
driven by Playwright, signs in through the real redirect flow (app → provider's authorize
form → ``/oauth2callback`` → app) as an admin and as a viewer. Screenshots of every step go
to ``test-artifacts/auth/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import needed

from db.audit import AuditFilter
from engine.config import Settings
from engine.service import Service

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "test-artifacts" / "auth"
CHROMIUM = "/usr/bin/chromium"
ADMIN = "ada@example.org"
VIEWER = "vic@example.org"
STRANGER = "sam@elsewhere.example"
PAGE_URLS = ("", "home", "specs", "new", "studies", "study?study=1", "run?run=1", "runs", "audit")


@dataclass(frozen=True)
class Deployment:
    base: str
    svc: Service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium (scripts/setup.sh)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    needed("oidc_provider_mock", "pip install -e '.[dev]' brings it")
    needed("authlib", "st.login needs Authlib (a SpecLab dependency)")
    oidc_port, app_port = _free_port(), _free_port()
    provider = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port",
         str(oidc_port)],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    issuer = f"http://127.0.0.1:{oidc_port}"
    site = tmp_path / "site"
    (site / ".streamlit").mkdir(parents=True)
    (site / ".streamlit" / "secrets.toml").write_text(
        f"""[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "{"s3cret-" * 6}"
client_id = "speclab-test"
client_secret = "speclab-test-secret"
server_metadata_url = "{issuer}/.well-known/openid-configuration"

[members]
admin = ["{ADMIN}"]
viewer = ["{VIEWER}"]
""",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    env = dict(
        os.environ,
        SPECLAB_HOME=str(home),
        SPECLAB_USER="operator",
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    env.pop("SPECLAB_DATABASE_URL", None)
    cli = [sys.executable, "-m", "engine.cli"]
    init = subprocess.run([*cli, "init", "--skip-model"], env=env, capture_output=True, text=True)
    if init.returncode != 0:
        _stop(provider)
        pytest.fail(f"speclab init failed: {init.stderr[-2000:]}")
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(app_port), "--workers", "0"],
        cwd=site, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    svc = Service(Settings(home=home, database_url=f"sqlite:///{home / 'speclab.db'}"))
    try:
        _wait_http(f"{issuer}/.well-known/openid-configuration", provider)
        _wait_http(f"http://127.0.0.1:{app_port}/_stcore/health", server)
        yield Deployment(f"http://127.0.0.1:{app_port}", svc)
    finally:
        _stop(server)
        _stop(provider)
        svc.db.dispose()


def _settled(page: Any) -> None:
    # See FACTS.md: wait for the script run to finish, not just for the status widget.
    page.wait_for_function(
        "() => { const a = document.querySelector(\"[data-testid='stApp']\");"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=30_000,
    )
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=30_000)


def _main_text(page: Any) -> str:
    return str(page.locator("[data-testid='stMain']").inner_text())


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def _sign_in(browser: Any, base: str, email: str) -> Any:
    """A fresh browser context signed in as ``email`` through the provider's form."""
    page = browser.new_context().new_page()
    page.goto(base + "/")
    _settled(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("input[name='sub']", timeout=30_000)  # the provider's own page
    page.fill("input[name='sub']", email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**", timeout=30_000)
    _settled(page)
    return page


def test_sign_in_roles_and_audit_through_a_real_provider(deployment: Deployment) -> None:
    # Guards issue 13 end to end: strangers see a sign-in page at every URL, a viewer reads
    # but cannot launch, an admin launches and reads the audit log of all of it.
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    base, svc = deployment.base, deployment.svc
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            anon = browser.new_context().new_page()
            for url in (*PAGE_URLS, "report?report=abc", "report"):
                anon.goto(f"{base}/{url}")
                _settled(anon)
                text = _main_text(anon)
                assert "Sign in to continue" in text, url
                assert "example" not in text and "Jobs" not in text, url
                assert anon.locator("[data-testid='stSidebarNav']").count() == 0, url
            _shot(anon, "1-anonymous")

            stranger = _sign_in(browser, base, STRANGER)
            assert "has no role in this SpecLab" in _main_text(stranger)
            _shot(stranger, "2-stranger")

            viewer = _sign_in(browser, base, VIEWER)
            assert "SpecLab" in _main_text(viewer)
            assert "Database: SQLite" in _main_text(viewer)  # the kind, never the URL
            viewer.goto(f"{base}/new")
            _settled(viewer)
            launch = viewer.get_by_role("button", name="Launch")
            assert launch.is_disabled()
            assert "may read but not launch studies" in _main_text(viewer)
            viewer.goto(f"{base}/audit")  # not a viewer's page: the default page runs
            _settled(viewer)
            assert "Audit log" not in _main_text(viewer)
            _shot(viewer, "3-viewer")

            admin = _sign_in(browser, base, ADMIN)
            admin.goto(f"{base}/new")
            _settled(admin)
            admin.get_by_role("button", name="Launch").click()
            admin.wait_for_selector("text=Launched study", timeout=30_000)
            _shot(admin, "4-admin-launched")
            admin.goto(f"{base}/audit")
            _settled(admin)
            log = _main_text(admin)
            assert "Audit log" in log
            _shot(admin, "5-admin-audit")
        finally:
            browser.close()

    (study,) = svc.list_studies()
    assert study.created_by == ADMIN
    events, _ = svc.audit_events(AuditFilter(), limit=100)
    steps = [(e.actor, e.action, e.outcome, e.origin) for e in reversed(events)]
    assert ("operator", "database.init", "ok", "cli") in steps
    assert [s for s in steps if s[1] == "sign_in"] == [
        (STRANGER, "sign_in", "denied", "dashboard"),
        (VIEWER, "sign_in", "ok", "dashboard"),
        (ADMIN, "sign_in", "ok", "dashboard"),
    ]
    assert (ADMIN, "study.launch", "ok", "dashboard:/new") in steps
    assert not [s for s in steps if s[0] == VIEWER and s[1] != "sign_in"]
