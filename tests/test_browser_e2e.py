"""The whole product in a real browser: Debian's Chromium driven by Playwright against
`speclab serve` on a loopback port. Launch a small study on the built-in model from the New
study page, wait for it, open the study, freeze a report, open its share link in a fresh
browser context and check the numbers shown equal those in the database; a revoked link shows
an access-denied page; a sample's permalink opens it; two runs answer one prompt side by side
on the Playground. Screenshots
of every step go to test-artifacts/e2e/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine import reports
from engine.config import Settings
from engine.service import Service

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
OVERRIDES = (
    "{gen_docs: {docs_per_clause: 2, target_words: 150}, "
    "midtrain: {max_steps: 2, save_steps: 2, max_length: 64, batch_size: 2}, "
    "gen_demos: {max_demos: 8}, "
    "aft: {max_steps: 2, save_steps: 2, max_length: 192, batch_size: 2}, "
    "eval_qa: {questions_per_clause: 1, max_new_tokens: 16}, "
    "eval_agentic: {scenarios: [blackmail], goal_conflicts: [explicit], "
    "urgencies: [replacement], samples_per_condition: 2, max_new_tokens: 24}}"
)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, builtin_model_dir: Path) -> Iterator[tuple[str, Service]]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium (scripts/setup.sh)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    home = tmp_path / "home"
    env = dict(
        os.environ,
        SPECLAB_HOME=str(home),
        SPECLAB_MODEL_CACHE=str(builtin_model_dir.parent),
        SPECLAB_HEARTBEAT_SECONDS="0.5",
        SPECLAB_USER="e2e-author",
    )
    env.pop("SPECLAB_DATABASE_URL", None)
    cli = [sys.executable, "-m", "engine.cli"]
    subprocess.run([*cli, "init", "--skip-model"], env=env, check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health") as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    svc = Service(
        Settings(
            home=home,
            database_url=f"sqlite:///{home / 'speclab.db'}",
            model_cache=builtin_model_dir.parent,
        )
    )
    try:
        yield base, svc
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)


@contextmanager
def _screenshot_on_failure() -> Iterator[list[Any]]:
    pages: list[Any] = []
    try:
        yield pages
    except BaseException:
        for i, p in enumerate(pages):
            p.screenshot(path=SHOTS / f"failure-{i}.png", full_page=True)
        raise


def test_launch_freeze_share_revoke_in_a_browser(server: tuple[str, Service]) -> None:
    # Guards the product's promise end to end: browser launch → numbers a teammate can see.
    from playwright.sync_api import expect, sync_playwright

    base, svc = server
    expect.set_options(timeout=60_000)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as pw, _screenshot_on_failure() as on_failure:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        author = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = author.new_page()
        page.set_default_timeout(60_000)
        on_failure.append(page)

        page.goto(f"{base}/new")
        expect(page.get_by_text("Cost estimate")).to_be_visible()
        name = page.get_by_role("textbox", name="Study name")
        name.fill("browser-e2e")
        name.press("Enter")
        overrides = page.get_by_role("textbox", name="Overrides (YAML or JSON: stage → settings)")
        overrides.fill(OVERRIDES)
        overrides.press("Control+Enter")
        expect(page.get_by_text("browser-e2e").first).to_be_attached()
        page.wait_for_timeout(1500)
        page.screenshot(path=SHOTS / "01-new-study.png", full_page=True)
        page.get_by_role("button", name="Launch").click()
        expect(page.get_by_text("Launched study")).to_be_visible()
        page.screenshot(path=SHOTS / "02-launched.png", full_page=True)

        (study,) = svc.list_studies()
        assert study.name == "browser-e2e" and study.created_by == "e2e-author"
        deadline = time.monotonic() + 900
        while svc.get_study(study.id).status not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, "the study did not finish in 15 minutes"
            time.sleep(2)
        assert svc.get_study(study.id).status == "succeeded"

        # The study's bookmarkable URL (what the "Open the study" link points at).
        page.goto(f"{base}/study?study={study.id}")
        expect(page.get_by_text("Paired comparisons", exact=True)).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(path=SHOTS / "03-study.png", full_page=True)
        page.get_by_role("button", name="Freeze report").click()
        expect(page.get_by_text("Frozen as report")).to_be_visible()
        (frozen,) = reports.list_reports(svc.db)
        page.goto(f"{base}/report?report={frozen.id}")
        expect(page.get_by_text("A report never changes")).to_be_visible()
        page.screenshot(path=SHOTS / "04-report.png", full_page=True)
        page.get_by_role("button", name="Create read-only link").click()
        share_code = page.locator("code").filter(has_text="?share=")
        expect(share_code).to_be_visible()
        token = share_code.inner_text().strip().removeprefix("?share=")
        page.screenshot(path=SHOTS / "05-share-link.png", full_page=True)

        snapshot = reports.get_report(svc.db, frozen.id).snapshot.to_dict()
        viewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        viewer.set_default_timeout(60_000)
        viewer.goto(f"{base}/?share={token}")
        expect(viewer.get_by_text("Shared report")).to_be_visible()
        table = viewer.locator("table").first
        expect(table).to_be_visible()
        shown = table.inner_text()
        for row in snapshot["table"]:
            assert row["variant"] in shown and row["arm"] in shown
            if row["harmful_rate"] is not None:
                assert f"{100 * row['harmful_rate']:.1f}%" in shown
            if row["qa_score"] is not None:
                assert f"{row['qa_score']:.2f}" in shown
        # A viewer gets the report and nothing else: no navigation, no launch or edit.
        assert viewer.get_by_role("link", name="New study").count() == 0
        assert viewer.get_by_role("button").filter(has_text="Launch").count() == 0
        viewer.screenshot(path=SHOTS / "06-shared-view.png", full_page=True)

        page.get_by_role("button", name="Revoke").click()
        page.wait_for_timeout(1500)
        viewer.reload()
        expect(viewer.get_by_text("Access denied")).to_be_visible()
        expect(viewer.get_by_text("revoked")).to_be_visible()
        viewer.screenshot(path=SHOTS / "07-revoked.png", full_page=True)

        # A sample's permalink opens that one sample, with its link to copy.
        run = svc.get_study(study.id).runs[0]
        (sample,), _ = svc.eval_samples(run.id, suite="agentic", limit=1)
        page.goto(f"{base}/samples?sample={sample.id}")
        expect(page.get_by_text(f"sample {sample.id} of run")).to_be_visible()
        expect(page.locator("code").filter(has_text=f"samples?sample={sample.id}")).to_be_visible()
        expect(page.get_by_text(sample.condition).first).to_be_visible()
        page.screenshot(path=SHOTS / "08-sample-permalink.png", full_page=True)

        # The Playground: two runs' models answer one typed prompt, side by side, generated
        # by the dashboard's worker (the study page links here with ?runs=a,b).
        first, second = (r.id for r in svc.get_study(study.id).runs[:2])
        page.goto(f"{base}/playground?runs={first},{second}")
        expect(page.get_by_text("Runs (two or more)")).to_be_visible()
        page.get_by_role("textbox", name="User message").fill("Say hello in five words.")
        tokens = page.get_by_role("spinbutton", name="Max new tokens")
        tokens.fill("12")
        page.get_by_role("button", name="Ask").click()
        expect(page.get_by_text("Queued as job")).to_be_visible()
        expect(page.get_by_text("typed prompt · 2 runs · succeeded")).to_be_visible(timeout=300_000)
        for run_id in (first, second):
            expect(page.get_by_text(f"#{run_id} ").first).to_be_visible()
        page.screenshot(path=SHOTS / "09-playground.png", full_page=True)
        (asked,) = svc.playground_sessions()
        assert asked.state == "succeeded" and [r.run_id for r in asked.replies] == [first, second]
        browser.close()
