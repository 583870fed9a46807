"""Imports run one way (DEVELOPERS.md): `inference` and `classes` at the bottom, `analytics` above `classes`, the
live pipeline (`analytics.live`) and the LMS integration (`analytics.lms`) on top, neither importing the other."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def imported_modules(package: str):
    """(file, module) for every absolute import in the package's source, relative imports resolved."""
    root = REPO / package.replace(".", "/")
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    is_package = path.name == "__init__.py"
                    base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                yield path, module
                for alias in node.names:  # `from analytics import live` imports analytics.live
                    yield path, f"{module}.{alias.name}"


def offenders(package: str, forbidden: tuple[str, ...], exclude: tuple[str, ...] = ()):
    found = set()
    for path, module in imported_modules(package):
        rel = path.relative_to(REPO).as_posix()
        if any(rel.startswith(prefix) for prefix in exclude):
            continue
        if any(module == f or module.startswith(f + ".") for f in forbidden):
            found.add(f"{rel}: {module}")
    return sorted(found)


def test_inference_imports_nothing_from_django_or_the_apps():
    assert offenders("inference", ("django", "channels", "classes", "analytics", "fermonitor")) == []


def test_classes_imports_nothing_from_analytics():
    assert offenders("classes", ("analytics",)) == []


@pytest.mark.parametrize("top", ["analytics.live", "analytics.lms"])
def test_analytics_below_the_top_apps_never_imports_them(top):
    assert offenders("analytics", (top,), exclude=("analytics/live/", "analytics/lms/")) == []


def test_the_live_pipeline_and_the_lms_integration_do_not_import_each_other():
    assert offenders("analytics.live", ("analytics.lms",)) == []
    assert offenders("analytics.lms", ("analytics.live",)) == []
