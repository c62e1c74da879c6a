"""App settings read from the environment or the command line (no Streamlit here).

LENSLAB_MODEL: the model "demo" stands for (default: the shipped demo folder).
LENSLAB_THREADS: torch CPU threads per run (default 1; see ``torch_threads``).
LENSLAB_DEVICE: where the model runs (default "auto": a GPU when there is one).
LENSLAB_DTYPE: its precision (default "float32"; "bfloat16" or "float16" change the numbers).
LENSLAB_WORKSHOP=1, or ``streamlit run app.py -- --workshop``: workshop mode pins
the model, caps the prompt length and opens on starter prompts. What a workshop room
may touch is then fixed by the teacher here, never by a widget:
LENSLAB_LENSES: the lens folder (default: the model's own, see ``default_lens_folder``).
LENSLAB_CLUSTERS: the folder of clusters every picker offers (default: the demo's).
LENSLAB_COMPARE: comma-separated models Compare may load as its second model (default: none).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from world.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_LENSES

MODEL_ENV = "LENSLAB_MODEL"
WORKSHOP_ENV = "LENSLAB_WORKSHOP"
DEMO_NAME = "demo"
THREADS_ENV = "LENSLAB_THREADS"
DEVICE_ENV = "LENSLAB_DEVICE"
DTYPE_ENV = "LENSLAB_DTYPE"
LENSES_ENV = "LENSLAB_LENSES"
CLUSTERS_ENV = "LENSLAB_CLUSTERS"
COMPARE_ENV = "LENSLAB_COMPARE"
WORKSHOP_MAX_CHARS = 200
MAX_CHARS = 4000


def demo_model() -> str:
    """The folder or name that "demo" stands for."""
    return os.environ.get(MODEL_ENV) or str(DEMO_DIR)


def resolve_model(name: str) -> str:
    """What the user typed -> what ``Engine.load`` takes ("demo" or empty -> the demo model)."""
    name = name.strip()
    return demo_model() if name in ("", DEMO_NAME) else name


def workshop_mode() -> bool:
    """True when the app runs for a workshop room (env flag or ``--workshop`` after ``--``)."""
    flag = os.environ.get(WORKSHOP_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    return flag or "--workshop" in sys.argv[1:]


def max_prompt_chars() -> int:
    """The longest prompt the sidebar accepts, in characters."""
    return WORKSHOP_MAX_CHARS if workshop_mode() else MAX_CHARS


def default_lens_folder(model: str) -> str:
    """Where a model's Attention Lenses live by default: the demo's shipped folder, or ``<model>/lenses``."""
    if Path(model).resolve() == DEMO_DIR.resolve():
        return str(DEMO_LENSES)
    if Path(model).is_dir():
        return str(Path(model) / "lenses")
    return str(Path("lenses") / model.replace("/", "--"))


def workshop_lens_folder(model: str) -> str:
    """The lens folder a workshop uses: the teacher's LENSLAB_LENSES, else the model's default."""
    return os.environ.get(LENSES_ENV) or default_lens_folder(model)


def cluster_folder() -> Path:
    """The folder whose cluster files every picker offers (LENSLAB_CLUSTERS, else the demo's)."""
    return Path(os.environ.get(CLUSTERS_ENV) or DEMO_CLUSTERS)


def compare_allow_list() -> tuple[str, ...]:
    """The second models a workshop's Compare page may load (LENSLAB_COMPARE, comma-separated)."""
    return tuple(dict.fromkeys(m.strip() for m in os.environ.get(COMPARE_ENV, "").split(",") if m.strip()))


def torch_threads() -> int:
    """CPU threads for each model run. The app serves many small runs, often from several
    sessions at once; one thread each avoids the threads fighting over the cores, which on a
    small model costs far more than it gains. Raise it for a large model and a single user."""
    try:
        return max(1, int(os.environ.get(THREADS_ENV, "1")))
    except ValueError:
        return 1


def app_device() -> str:
    """The device the app loads models on ("auto" unless LENSLAB_DEVICE says otherwise)."""
    return os.environ.get(DEVICE_ENV, "").strip() or "auto"


def app_dtype() -> str:
    """The precision the app loads models in ("float32" unless LENSLAB_DTYPE says otherwise)."""
    return os.environ.get(DTYPE_ENV, "").strip() or "float32"


def device_label() -> str:
    """A line for the sidebar: where and in what precision the model runs, e.g. "cuda:0, float32"."""
    from engine.devices import resolve_device
    from engine.errors import ModelLoadError

    try:
        where = str(resolve_device(app_device()))
    except ModelLoadError as err:
        return f"unusable {DEVICE_ENV}: {err}"
    return f"{where}, {app_dtype()}"
