"""House rules a test can check: the core stays free of Streamlit."""

from pathlib import Path
import re

ROOT = Path(__file__).resolve().parent.parent
CORE = ("engine", "lens", "cluster", "world", "memory", "compare", "sweeps", "cli", "edit", "patch", "promptsets", "unlearn", "probe")


def test_core_never_imports_streamlit():
    pattern = re.compile(r"^\s*(import streamlit|from streamlit)", re.M)
    offenders = [str(p.relative_to(ROOT)) for pkg in CORE for p in (ROOT / pkg).rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
