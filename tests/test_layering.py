"""House rules that keep the project easy to live in."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from engine.config import ENV_VARS

REPO = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_dependencies_point_one_way() -> None:
    # Guards `app → engine → db`: the store never imports the engine, the engine never the app.
    for path in (REPO / "db").rglob("*.py"):
        assert not (_imports(path) & {"engine", "app", "streamlit"}), path
    for path in (REPO / "engine").rglob("*.py"):
        assert not (_imports(path) & {"app", "streamlit"}), path


def _modules(path: Path) -> set[str]:
    """Full dotted names of every module ``path`` imports (``from a.b import c`` → a.b, a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in {"app", "engine", "db"}}


def test_pages_use_only_the_service() -> None:
    # Guards thin pages: the dashboard reaches the engine through engine.service (and its
    # value types) and engine.errors only; never the store, the ORM or engine internals.
    allowed = ("engine.service", "engine.errors")
    for path in (REPO / "app").rglob("*.py"):
        for name in _ours(_modules(path)):
            if name.startswith("app"):
                continue
            assert name.startswith(allowed), f"{path.relative_to(REPO)} imports {name}"


def test_no_orm_outside_the_store() -> None:
    # Guards mlflow-style store boundaries: ORM rows (db.models) never leave db/.
    for top in ("engine", "app"):
        for path in (REPO / top).rglob("*.py"):
            assert not any(n.startswith("db.models") for n in _modules(path)), path


def test_nothing_imports_upward_or_by_string() -> None:
    # Guards the service as the top of the engine (only the CLI uses it) and imports that a
    # reader and this test can see: no importlib/__import__ naming one of our modules.
    for path in (REPO / "engine").rglob("*.py"):
        if path.name not in ("cli.py", "service.py"):
            assert "engine.service" not in _modules(path), path
    for top in ("engine", "db", "app"):
        for path in (REPO / top).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"\b(?:import_module|__import__)\(", text):
                names = re.findall(r"[\"']((?:engine|db|app)\.[\w.]+)[\"']", text)
                assert not names, f"{path.relative_to(REPO)} may import {names} by string"


def test_stage_kinds_come_from_the_table() -> None:
    # Guards one table of stage kinds: no module lists the kinds by name a second time.
    kinds = (
        "gen_docs", "midtrain", "gen_demos", "aft", "eval_qa", "eval_agentic", "eval_published",
    )  # fmt: skip
    pattern = re.compile(r"\(\s*" + r"\s*,\s*".join(f"[\"']{k}[\"']" for k in kinds[:3]))
    for top in ("engine", "app", "db"):
        for path in (REPO / top).rglob("*.py"):
            assert not pattern.search(path.read_text(encoding="utf-8")), path
    from engine.jobs import kinds as jobkinds
    from engine.stages import STAGES

    assert tuple(STAGES) == kinds
    registered = jobkinds.load()
    for name, kind in STAGES.items():
        assert registered[name].resources == kind.resources
        assert registered[name].max_attempts == kind.max_attempts


def test_engine_and_dashboard_imports_stay_light() -> None:
    # Guards dashboard start-up time: no torch/transformers/streamlit behind engine or db.
    code = (
        "import sys, db.models, db.jobs, engine.service, engine.cli, engine.jobs.worker, "
        "engine.train.registry;"
        "heavy = {'torch', 'transformers', 'trl', 'peft', 'streamlit'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_dashboard_never_imports_torch() -> None:
    # Guards the UI process: importing every page's dependencies loads no torch.
    code = (
        "import sys, app.state, engine.specs.diff;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_every_environment_variable_is_documented() -> None:
    # Guards settings drift: each SPECLAB_* variable in code is in config.py's list and README.
    used: set[str] = set()
    for path in [*(REPO / "engine").rglob("*.py"), *(REPO / "app").rglob("*.py")]:
        used.update(re.findall(r"\b(SPECLAB_[A-Z_]+)\b", path.read_text(encoding="utf-8")))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert used <= set(ENV_VARS), used - set(ENV_VARS)
    for var in ENV_VARS:
        assert f"`{var}`" in readme, var


def test_readme_commands_are_what_ci_runs() -> None:
    # Guards the two-command promise: the README starts with them and CI calls the test one.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    commands = [line.split("#")[0].strip() for line in block]
    assert commands == ["make run", "make test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
