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
