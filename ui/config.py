"""What the app offers and what it may touch, read from the environment, the command line and
the demo's prompt sets (no Streamlit here).

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
LENSLAB_PROMPTS: the prompt folder a workshop offers (default: the model's, see ``default_prompt_source``).
LENSLAB_STARTERS: the starter prompts, a JSONL file of {"label", "prompt", "answer"[, "memory"]}
(default: assets/starters.jsonl for the demo world's sets, one per topic and two-hop prompts the
demo answers wrong; for other sets, a few held-out prompts of each).

The sidebar offers the starters and the prompt sets as (label, prompt, answer) choices: the demo
world's for the demo, the English sets for any other model, or a folder of the user's own JSONL
files; a workshop opens on the starters.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_LENSES, DEMO_PROMPTS, ENGLISH_PROMPTS, REPO_ROOT
from promptsets.schema import (
    FACTS_FILE, KEYWORDS_FILE, TWO_HOP_FILE, PromptSetError,
    load_fact_prompts, load_keyword_prompts, load_two_hop_prompts,
)

MODEL_ENV = "LENSLAB_MODEL"
WORKSHOP_ENV = "LENSLAB_WORKSHOP"
DEMO_NAME = "demo"
THREADS_ENV = "LENSLAB_THREADS"
DEVICE_ENV = "LENSLAB_DEVICE"
DTYPE_ENV = "LENSLAB_DTYPE"
LENSES_ENV = "LENSLAB_LENSES"
CLUSTERS_ENV = "LENSLAB_CLUSTERS"
COMPARE_ENV = "LENSLAB_COMPARE"
PROMPTS_ENV = "LENSLAB_PROMPTS"
STARTERS_ENV = "LENSLAB_STARTERS"
DEFAULT_STARTERS = REPO_ROOT / "assets" / "starters.jsonl"
MAX_STARTERS = 200
WORKSHOP_MAX_CHARS = 200
MAX_CHARS = 4000
# A prompt in a link or the prompt box may run to this many characters, so an over-long
# prompt is kept and reported (its page says so); anything longer is not a prompt.
PROMPT_URL_CHARS = 4 * MAX_CHARS

STARTERS = "starter prompts"
SET_FILES = {"keywords": KEYWORDS_FILE, "facts": FACTS_FILE, "two-hop": TWO_HOP_FILE}
DEMO_SOURCE = "demo world"
ENGLISH_SOURCE = "English (real models)"
OWN_SOURCE = "your own folder"
PROMPT_SOURCES = {DEMO_SOURCE: DEMO_PROMPTS, ENGLISH_SOURCE: ENGLISH_PROMPTS, OWN_SOURCE: None}


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


def is_demo(model: str) -> bool:
    """True when ``model`` (as Engine.load takes it) is the shipped demo folder."""
    return Path(model).resolve() == DEMO_DIR.resolve()


def default_prompt_source(model: str) -> str:
    """The prompt sets a model opens on: the demo world's for the demo, the English sets for any other."""
    return DEMO_SOURCE if is_demo(model) else ENGLISH_SOURCE


def workshop_prompt_folder(model: str) -> Path:
    """The prompt folder a workshop offers: the teacher's LENSLAB_PROMPTS, else the model's default."""
    return Path(os.environ.get(PROMPTS_ENV) or PROMPT_SOURCES[default_prompt_source(model)])


def check_prompt_folder(typed: str) -> Path:
    """The folder the user typed, once it holds at least one prompt-set file; PromptSetError saying what to fix."""
    folder = Path(typed.strip()).expanduser()
    if not folder.exists():
        raise PromptSetError(f"the prompt folder {typed.strip()!r} does not exist; give a folder holding "
                             f"{', '.join(SET_FILES.values())}")
    if not folder.is_dir():
        raise PromptSetError(f"{typed.strip()!r} is a file, not a folder; give the folder that holds it")
    if not available_sets(folder):
        raise PromptSetError(f"the folder {typed.strip()!r} holds none of {', '.join(SET_FILES.values())}; "
                             "see docs/your-own-model-prompts.md for their fields")
    return folder


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
    from engine.loading import resolve_device
    from engine.errors import ModelLoadError

    try:
        where = str(resolve_device(app_device()))
    except ModelLoadError as err:
        return f"unusable {DEVICE_ENV}: {err}"
    return f"{where}, {app_dtype()}"


@dataclass(frozen=True)
class PromptChoice:
    """One prompt of a set: ``label`` is what the picker shows, ``answer`` the expected next token(s),
    ``memory`` the entity a memory injection should supply (the bridge of a two-hop prompt)."""

    label: str
    prompt: str
    answer: str
    memory: str = ""


def starters_file(prompts_dir: Path = DEMO_PROMPTS) -> Path | None:
    """The teacher's starter prompts (LENSLAB_STARTERS), else the shipped ones for the demo world's sets;
    None: the starters are a selection of ``prompts_dir`` (see ``sampled_starters``)."""
    if os.environ.get(STARTERS_ENV):
        return Path(os.environ[STARTERS_ENV])
    return DEFAULT_STARTERS if Path(prompts_dir).resolve() == DEMO_PROMPTS.resolve() else None


def available_sets(prompts_dir: Path = DEMO_PROMPTS) -> tuple[str, ...]:
    """Names of the prompt sets whose file exists (the starters first)."""
    sets = tuple(name for name, file in SET_FILES.items() if (Path(prompts_dir) / file).is_file())
    file = starters_file(prompts_dir)
    starters = (STARTERS,) if (file.is_file() if file else sets) else ()
    return starters + sets


def load_set(name: str, prompts_dir: Path = DEMO_PROMPTS) -> tuple[PromptChoice, ...]:
    """All prompts of set ``name`` (or the starters); PromptSetError if its file is missing or bad."""
    if name == STARTERS:
        file = starters_file(prompts_dir)
        return starter_prompts(file) if file else sampled_starters(prompts_dir)
    if name == "keywords":
        rows = load_keyword_prompts(prompts_dir)
        return tuple(PromptChoice(f"[{r.topic}] {r.prompt} →{r.answer}", r.prompt, r.answer) for r in rows)
    if name == "facts":
        rows = load_fact_prompts(prompts_dir)
        return tuple(PromptChoice(f"[{r.relation}] {r.prompt} →{r.answer}", r.prompt, r.answer) for r in rows)
    if name == "two-hop":
        rows = load_two_hop_prompts(prompts_dir)
        return tuple(PromptChoice(f"[{r.relation}, {r.split}] {r.prompt} →{r.answer}", r.prompt, r.answer, r.bridge) for r in rows)
    raise PromptSetError(f"unknown prompt set {name!r}; choose one of {', '.join(SET_FILES)}")


def _starter(line: str, where: str) -> PromptChoice:
    try:
        row = json.loads(line)
        fields = {k: row[k] for k in ("prompt", "answer")}
    except (ValueError, KeyError, TypeError):
        raise PromptSetError(f"{where} is not a JSON object with \"prompt\" and \"answer\"; "
                             'write one {"label", "prompt", "answer"[, "memory"]} object per line') from None
    if not all(isinstance(row.get(k, ""), str) for k in ("label", "prompt", "answer", "memory")):
        raise PromptSetError(f"{where}: label, prompt, answer and memory must be text")
    label = row.get("label") or f"{fields['prompt']} →{fields['answer']}"
    return PromptChoice(label, fields["prompt"], fields["answer"], row.get("memory", ""))


def starter_prompts(path: Path | None = None) -> tuple[PromptChoice, ...]:
    """The starter prompts of ``path`` (default: ``starters_file()``); PromptSetError naming the line if one is bad."""
    path = Path(path or starters_file())
    try:
        lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise PromptSetError(f"cannot read the starter prompts {path}: {err}; set {STARTERS_ENV} to a JSONL file") from None
    if not lines or len(lines) > MAX_STARTERS:
        raise PromptSetError(f"{path} has {len(lines)} starter prompts; give 1 to {MAX_STARTERS}, one JSON object a line")
    return tuple(_starter(line, f"{path.name} line {n}") for n, line in lines)


def sampled_starters(prompts_dir: Path, per_group: int = 2) -> tuple[PromptChoice, ...]:
    """Starters for sets that ship none: a few held-out keyword prompts per topic, facts and two-hop prompts."""
    out: list[PromptChoice] = []
    sets = available_sets(prompts_dir)
    if "keywords" in sets:
        seen: dict[str, int] = {}
        for choice, row in zip(load_set("keywords", prompts_dir), load_keyword_prompts(prompts_dir)):
            if row.split == "heldout" and seen.get(row.topic, 0) < per_group:
                seen[row.topic] = seen.get(row.topic, 0) + 1
                out.append(choice)
    for name in ("facts", "two-hop"):
        if name in sets:
            out.extend(load_set(name, prompts_dir)[:per_group])
    return tuple(out)


def default_choice(prompts_dir: Path = DEMO_PROMPTS) -> PromptChoice | None:
    """The prompt a first visit opens on: the first held-out keyword prompt (a topic keyword to predict)."""
    if "keywords" not in available_sets(prompts_dir):
        return None
    for choice, row in zip(load_set("keywords", prompts_dir), load_keyword_prompts(prompts_dir)):
        if row.split == "heldout":
            return choice
    return None


def topic_of(prompt: str, prompts_dir: Path = DEMO_PROMPTS) -> str | None:
    """The topic of ``prompt`` when it is one of the keyword prompts of ``prompts_dir`` (a prompt may end with its
    space, as for tokenizers that glue it to the word before), else None."""
    if "keywords" not in available_sets(prompts_dir):
        return None
    return next((r.topic for r in load_keyword_prompts(prompts_dir) if r.prompt.strip() == prompt.strip()), None)
