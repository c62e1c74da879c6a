"""Where the shipped demo lives inside the repository."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "assets" / "demo"
DEMO_PROMPTS = DEMO_DIR / "prompts"
DEMO_LENSES = DEMO_DIR / "lenses"
DEMO_CLUSTERS = DEMO_DIR / "clusters"
ENGLISH_PROMPTS = REPO_ROOT / "assets" / "prompts" / "english"
