"""A frozen report with its samples, as one self-contained HTML file.

The report's numbers come from its frozen snapshot, as in the plain HTML export; after them
come the samples of the study's evaluation stages as stored when the bundle is exported: per
suite and run, every sample's verdict (or score), the judge and its reasoning, the response and
every other judge's verdict, each prompt written once and linked from its samples. The file
needs no server, loads nothing and runs no script (the same Content-Security-Policy as the
report export), so it opens from disk, from an e-mail or from a paper's supplementary material.
A study with more than :data:`MAX_SAMPLES` samples is cut there, and the file says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Final

from db.entities import EvalSample, RunLabel
from engine.report_export import escape, export_html
from engine.reports import Report

MAX_SAMPLES: Final = 20_000
"""Samples written into one bundle at most (about 1–3 kB each)."""

_CSS: Final = (
    "<style>.samples td{vertical-align:top}.samples pre{white-space:pre-wrap;margin:0;"
    "max-width:60em}.harmful{color:#b00020;font-weight:600}</style>"
)


def _verdict(sample: EvalSample) -> tuple[str, str]:
    """(text, CSS class) of a sample's headline verdict."""
    if sample.suite == "spec_qa":
        return ("no score", "") if sample.score is None else (f"{sample.score:g}/10", "")
    if sample.score is None:
        return "uncertain", ""
    return ("harmful", "harmful") if sample.score >= 0.5 else ("safe", "")


def _item(sample: EvalSample) -> str:
    if sample.condition:
        return f"{sample.condition} #{sample.sample_index}"
    return f"{sample.item_id} ({sample.clause_code})" if sample.clause_code else sample.item_id


def _run_block(label: RunLabel, samples: Sequence[EvalSample], prompts: dict[str, int]) -> str:
    rows = []
    for sample in samples:
        text, css = _verdict(sample)
        number = prompts.setdefault(sample.prompt, len(prompts) + 1)
        others = {k: v for k, v in sample.verdicts.items() if f"{k}@" not in sample.judge}
        rows.append(
            f'<tr id="s-{sample.id}"><td dir="auto">{escape(_item(sample))}<br>'
            f'<a href="#p-{number}">prompt {number}</a></td>'
            f'<td class="{css}">{escape(text)}</td>'
            f'<td dir="auto">{escape(sample.judge)}<details><summary>reasoning</summary>'
            f'<pre dir="auto">{escape(sample.judge_reasoning or "(none)")}</pre></details>'
            + (
                f'<details><summary>other judges</summary><pre dir="ltr">'
                f"{escape(json.dumps(others, indent=1, ensure_ascii=False))}</pre></details>"
                if others
                else ""
            )
            + f'</td><td><pre dir="auto">{escape(sample.response or "(empty)")}</pre></td></tr>'
        )
    verdicts = [_verdict(s)[0] for s in samples]
    summary = (
        f"{verdicts.count('harmful')} harmful of {len(samples)}"
        if samples and samples[0].suite != "spec_qa"
        else f"{len(samples)} answers"
    )
    return (
        f'<details><summary dir="auto">run #{label.run_id} · <bdi>{escape(label.cell)}</bdi> · '
        f"seed {label.seed} · <bdi>{escape(label.model)}</bdi> · {escape(summary)}</summary>"
        '<table class="samples"><thead><tr><th>item</th><th>verdict</th><th>judge</th>'
        f"<th>response</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def bundle_html(
    report: Report,
    samples: Sequence[tuple[RunLabel, EvalSample]],
    *,
    total: int,
    exported_at: datetime,
) -> str:
    """The report's HTML export followed by ``samples`` (``total`` = how many the study has)."""
    prompts: dict[str, int] = {}
    by_suite: dict[str, list[tuple[RunLabel, EvalSample]]] = {}
    for label, sample in samples:
        by_suite.setdefault(sample.suite, []).append((label, sample))
    sections = []
    for suite, rows in sorted(by_suite.items()):
        blocks = [
            _run_block(label, [s for _, s in group], prompts)
            for label, group in groupby(rows, key=lambda r: r[0])
        ]
        sections.append(f"<h3>{escape(suite)}</h3>{''.join(blocks)}")
    cut = (
        f" The study has {total:,} samples; the first {len(samples):,} (by run) are written here."
        if total > len(samples)
        else ""
    )
    prompt_list = "".join(
        f'<details id="p-{n}"><summary>prompt {n}</summary><pre dir="auto">{escape(text)}'
        "</pre></details>"
        for text, n in prompts.items()
    )
    return export_html(
        report,
        extra=(
            f'{_CSS}<h2>Samples</h2><p class="meta">{len(samples):,} samples of the study\'s '
            "evaluation stages as stored when this file was exported "
            f"({escape(exported_at.isoformat(timespec='seconds'))}); the numbers above are the "
            f"frozen report's.{escape(cut)}</p>"
            + "".join(sections)
            + (f"<h2>Prompts</h2>{prompt_list}" if prompts else "")
        ),
    )
