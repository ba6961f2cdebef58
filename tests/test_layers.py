"""The layers of ARCHITECTURE.md, read from the imports: foundations never import the jobs above them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(path: Path) -> set[str]:
    """Top-level project packages a module imports (anywhere in the file, lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {n.split(".")[0] for n in names}


def offenders(package: str, forbidden: set[str]) -> dict[str, set[str]]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_packages(path) & forbidden
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_data_imports_no_job_or_model_code():
    assert offenders("data", {"repair", "rl", "train", "inference"}) == {}


def test_repair_never_imports_rl():
    assert offenders("repair", {"rl", "train"}) == {}


def test_execution_core_imports_no_torch():
    modules = sorted(p.stem for p in (ROOT / "repair" / "execution").glob("*.py") if p.stem != "__init__")
    code = ("import sys\n" + "".join(f"import repair.execution.{m}\n" for m in modules) +
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers', 'rl', 'train', 'inference'})\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


PACKAGES = ("data", "corruption", "inference", "train", "rl", "repair", "minicode")


def test_no_job_imports_the_minicode_recipe():
    """minicode/ is the room above the jobs: it drives them, none of them reaches up to it."""
    for package in PACKAGES[:-1]:
        assert offenders(package, {"minicode"}) == {}, package


def module_imports() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (lazy imports included; a package means its
    __init__)."""
    paths = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in paths and t != name and not name.startswith(f"{t}.")}
    return graph


def test_no_import_circles():
    """ARCHITECTURE.md: when two modules need each other, the shared piece moves down."""
    graph = module_imports()
    seen, cycles = set(), []

    def walk(module: str, path: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                cycles.append(path[path.index(target):] + [target])
            elif target not in seen:
                walk(target, path + [target])
        seen.add(module)

    for module in sorted(graph):
        if module not in seen:
            walk(module, [module])
    assert cycles == [], cycles
