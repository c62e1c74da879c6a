"""The JSON header of a lens folder: what the lenses are, which model they belong to, how they were made."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine.spec import ModelSpec
from lens.errors import LensFormatError, LensMismatch

FORMAT = "lenslab-attention-lens"
VERSION = 2  # 2: every tensor's SHA-256 is recorded (``hashes``)
HEADER_FILE = "lens.json"
CONVENTION_RAW = "raw transformers weights"
CONVENTION_TL = "TransformerLens (LayerNorm folded, weights centred, b_V folded into b_O)"
INPUT = "head write z_h @ W_O[h], before the attention output bias"
OBJECTIVE = "per head, KL(final || lens) averaged over all real (non-padding) positions"


def layer_file(layer: int) -> str:
    """Name of the safetensors file holding layer ``layer``'s lenses."""
    return f"layer_{layer:02d}.safetensors"


@dataclass(frozen=True)
class DataInfo:
    """The text a lens set was trained on: a name, a SHA-256 of its lines, and the held-out share."""

    name: str
    sha256: str
    n_texts: int
    holdout: float


@dataclass(frozen=True)
class LensHeader:
    """Everything about a lens set but its weights.

    ``final_kl[i][h]`` is the held-out KL(final || lens) of head ``h`` of layer ``layers[i]``
    after training (empty for imported lenses). ``hashes`` holds ``(layer, tensor name, SHA-256)``
    for every tensor of the folder; :func:`lens.storage.save_lenses` fills it in.
    """

    kind: str
    model_name: str
    fingerprint: str
    n_layers: int
    n_heads: int
    d_model: int
    d_vocab: int
    layers: tuple[int, ...]
    rank: int | None = None
    convention: str = CONVENTION_RAW
    data: DataInfo | None = None
    steps: int = 0
    seed: int = 0
    lr: float = 0.0
    final_kl: tuple[tuple[float, ...], ...] = field(default=())
    objective: str = OBJECTIVE
    input: str = INPUT
    hashes: tuple[tuple[int, str, str], ...] = field(default=())

    def layer_hashes(self, layer: int) -> dict[str, str]:
        """``{tensor name: SHA-256}`` of ``layer``'s tensors."""
        return {name: digest for l, name, digest in self.hashes if l == layer}

    def with_training(self, steps: int, final_kl: tuple[tuple[float, ...], ...]) -> LensHeader:
        """A copy recording how many steps were run and the KL reached per head."""
        return replace(self, steps=steps, final_kl=final_kl)

    def to_json(self) -> str:
        body = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "lens header") -> LensHeader:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as err:
            raise LensFormatError(f"{where} is not valid JSON ({err}); retrain or re-import the lenses") from err
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise LensFormatError(f"{where} is not a LensLab lens header (format {FORMAT!r} expected)")
        if body.get("version") != VERSION:
            raise LensFormatError(
                f"{where} has format version {body.get('version')}; this LensLab reads version {VERSION} "
                "(which records a hash of every tensor): retrain or re-import the lenses")
        try:
            data = body.get("data")
            return cls(**{
                **{k: v for k, v in body.items() if k not in ("format", "version")},
                "layers": tuple(body["layers"]),
                "data": None if data is None else DataInfo(**data),
                "final_kl": tuple(tuple(float(x) for x in row) for row in body.get("final_kl", ())),
                "hashes": tuple((int(l), str(n), str(d)) for l, n, d in body.get("hashes", ())),
            })
        except (KeyError, TypeError, ValueError) as err:
            raise LensFormatError(f"{where} lacks or misnames a field ({err}); retrain the lenses") from err

    def check_model(self, spec: ModelSpec) -> None:
        """Raise :class:`LensMismatch` unless ``spec`` (a ``ModelSpec``) is the model these lenses were made for."""
        if spec.fingerprint != self.fingerprint:
            raise LensMismatch(
                f"these lenses were made for model {self.model_name!r} (fingerprint {self.fingerprint}), "
                f"but the loaded model is {spec.name!r} (fingerprint {spec.fingerprint}); load "
                f"{self.model_name!r}, or train lenses for this model with "
                f"`python -m lens train --model {spec.name} --out DIR`")
        shape = (spec.n_layers, spec.n_heads, spec.d_model, spec.d_vocab)
        mine = (self.n_layers, self.n_heads, self.d_model, self.d_vocab)
        if shape != mine:
            raise LensMismatch(
                f"lenses have (n_layers, n_heads, d_model, d_vocab) = {mine} but the model has {shape}")


def write_header(folder: Path, header: LensHeader) -> None:
    """Write ``lens.json`` last and atomically, so a folder with a header is always complete."""
    tmp = Path(folder) / (HEADER_FILE + ".tmp")
    tmp.write_text(header.to_json(), encoding="utf-8")
    tmp.replace(Path(folder) / HEADER_FILE)


def read_header(folder: Path) -> LensHeader:
    """The header of a lens folder; :class:`LensFormatError` if there is none or it is corrupt."""
    path = Path(folder) / HEADER_FILE
    if not path.is_file():
        raise LensFormatError(
            f"{folder} holds no lenses ({HEADER_FILE} is missing); train some with "
            "`python -m lens train --model MODEL --out DIR`")
    return LensHeader.from_json(path.read_text(encoding="utf-8"), where=str(path))
