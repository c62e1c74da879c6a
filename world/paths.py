"""The demo's paths now live in :mod:`promptsets.paths`; this name stays for existing imports."""

from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_LENSES, DEMO_PROMPTS, REPO_ROOT  # noqa: F401
