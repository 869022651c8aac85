"""The live study snapshot is computed once per state of the study's data."""

from __future__ import annotations

from test_compare import seed_known

from db import studies as studystore
from db.entities import MetricPoint
from engine.service import Service


def _statements(svc: Service) -> list[str]:
    from sqlalchemy import event

    seen: list[str] = []
    for engine in {id(e): e for e in (svc.db.engine, svc.db.read_engine)}.values():
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_unchanged_study_reuses_its_snapshot_and_a_change_refreshes_it(svc: Service) -> None:
    # Guards the study page's speed and its truth: a rerun costs one query and returns the
    # same snapshot; a new training step or a stage event makes a fresh one.
    svc.seed_builtin()
    study_id = seed_known(svc)
    first = svc.study_snapshot(study_id)
    seen = _statements(svc)
    again = svc.study_snapshot(study_id)
    assert again is first
    assert len([q for q in seen if q.lstrip().upper().startswith("SELECT")]) == 1
    # Another viewer (a copy acting for someone else) shares the cache.
    assert svc.acting(svc.actor).study_snapshot(study_id) is first

    stage = next(st for r in svc.get_study(study_id).runs for st in r.stages if st.kind == "aft")
    with svc.db.write() as s:
        studystore.add_metrics(s, [MetricPoint(stage.id, None, "train/loss", 4, 0.5)])
    grown = svc.study_snapshot(study_id)
    assert grown is not first and len(grown.loss_curves) == len(first.loss_curves) + 1
    assert grown.table == first.table
    assert svc.study_snapshot(study_id) is grown
    # Titles and chosen pairs are part of what is cached.
    assert svc.study_snapshot(study_id, title="other").title == "other"
