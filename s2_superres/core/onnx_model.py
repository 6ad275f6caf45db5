"""Loading ONNX models through their JSON model cards: checksum, signature, providers, padding.

A model card ``models/<name>.json`` sits beside ``models/<name>.onnx`` and holds at least::

    {"name": "fusion20", "file": "fusion20.onnx", "sha256": "<hex>",
     "inputs": [{"name": "x", "shape": ["N", 10, "H", "W"]}],
     "outputs": [{"name": "y", "shape": ["N", 6, "H", "W"]}],
     "size_multiple": 2}

``load_model`` verifies the file (present, not truncated, sha256 as in the card) and the
input/output signature before any pixel is processed, and raises ``ModelError`` with a
message a user can act on. ``OnnxModel.run`` pads H and W by reflection to ``size_multiple``
and crops the result back. Units pass through: the caller feeds what the card says
(reflectance for the fusion networks).
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import Cancelled, cancel_check, check_cancelled, UserError

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"  # the plugin's models/ folder
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


class ModelError(UserError):
    """A model file or card is missing, damaged, or does not match what the pipeline expects."""


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(card_path: Path) -> dict[str, Any]:
    """Parse a model card and check that its required keys are present."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise ModelError(f"Model card not found: {card_path}. Reinstall the plugin or restore the models/ folder.")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"Model card {card_path} is not valid JSON ({exc}).") from exc
    missing = [key for key in ("name", "file", "sha256", "inputs", "outputs") if key not in card]
    if missing:
        raise ModelError(f"Model card {card_path} lacks the keys {missing}.")
    return card


def verify_file(onnx_path: Path, expected_sha256: str) -> None:
    """Raise ModelError when the ONNX file is missing, empty or its sha256 differs from the card."""
    if not onnx_path.is_file():
        raise ModelError(f"Model file not found: {onnx_path}. Reinstall the plugin or restore the models/ folder.")
    if onnx_path.stat().st_size == 0:
        raise ModelError(f"Model file {onnx_path} is empty (truncated download or copy?).")
    actual = sha256_of(onnx_path)
    if actual.lower() != str(expected_sha256).lower():
        raise ModelError(
            f"Model file {onnx_path} is damaged or was replaced: sha256 {actual[:12]}... does not match "
            f"the model card ({str(expected_sha256)[:12]}...). Reinstall the plugin or restore the file."
        )


def choose_providers(requested: list[str] | None) -> tuple[list[str], str | None]:
    """Return (providers to use, fallback message or None). CUDA only when requested and available."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    requested = list(requested) if requested else [CPU]
    chosen = [p for p in requested if p in available]
    dropped = [p for p in requested if p not in available]
    if CPU not in chosen:
        chosen.append(CPU)
    message = None
    if dropped:
        message = f"Requested {', '.join(dropped)} not available in this onnxruntime; running on {', '.join(chosen)}."
    return chosen, message


def _shape_matches(expected: list[Any], actual: list[Any]) -> bool:
    """Channel dimensions (ints in the card) must agree; symbolic ones ('N', 'H', 'W') are free."""
    if len(expected) != len(actual):
        return False
    return all(not isinstance(e, int) or not isinstance(a, int) or e == a for e, a in zip(expected, actual))


def _check_signature(session: Any, card: dict[str, Any], path: Path) -> None:
    """Raise ModelError when the graph's input/output names or channel counts differ from the card."""
    for kind, nodes in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        want = card[kind]
        if len(want) != len(nodes):
            raise ModelError(f"Model {path.name} has {len(nodes)} {kind}, its card says {len(want)}.")
        for spec, node in zip(want, nodes):
            if spec["name"] != node.name or not _shape_matches(list(spec["shape"]), list(node.shape)):
                raise ModelError(
                    f"Model {path.name} {kind[:-1]} is {node.name}{list(node.shape)}, "
                    f"the card expects {spec['name']}{list(spec['shape'])}: wrong model file for this plugin version."
                )


@dataclass
class OnnxModel:
    """An onnxruntime session plus its card. ``run`` takes and returns float32 (N, C, H, W)."""

    card: dict[str, Any]
    path: Path
    session: Any
    providers: list[str]
    fallback_message: str | None = None
    input_name: str = field(init=False)
    output_name: str = field(init=False)
    size_multiple: int = field(init=False)

    def __post_init__(self) -> None:
        self.input_name = self.card["inputs"][0]["name"]
        self.output_name = self.card["outputs"][0]["name"]
        self.size_multiple = int(self.card.get("size_multiple", 1))

    @property
    def name(self) -> str:
        """Model name from the card."""
        return str(self.card["name"])

    @property
    def in_channels(self) -> int:
        """Number of input channels the graph expects."""
        return int(self.card["inputs"][0]["shape"][1])

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run on (N, C, H, W) or (C, H, W) float32; H, W are reflect-padded to size_multiple and cropped back."""
        x = np.asarray(x, dtype=np.float32)
        single = x.ndim == 3
        if single:
            x = x[None]
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ModelError(f"{self.name} expects (N, {self.in_channels}, H, W), got {x.shape}.")
        h, w = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode: Literal["reflect", "symmetric"] = "reflect" if h > ph and w > pw else "symmetric"
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
        y = run_session(self.session, [self.output_name], {self.input_name: np.ascontiguousarray(x)})[0]
        y = y[..., :h, :w]
        return y[0] if single else y


#: how often a running session looks at the run's is_cancelled (core.errors.cancellable), seconds
CANCEL_POLL = 0.2


def run_session(session: Any, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """``session.run``; inside a cancellable run it stops with Cancelled within about CANCEL_POLL seconds
    of the cancel (onnxruntime's terminate flag, set by a watcher thread), not at the end of the pass."""
    check = cancel_check()
    if check is None:
        return session.run(outputs, feeds)
    check_cancelled()
    import onnxruntime as ort
    options, done = ort.RunOptions(), threading.Event()

    def watch() -> None:
        while not done.wait(CANCEL_POLL):
            if check():
                options.terminate = True
                return
    threading.Thread(target=watch, daemon=True).start()
    try:
        return session.run(outputs, feeds, options)
    except Exception:
        if options.terminate:
            raise Cancelled() from None
        raise
    finally:
        done.set()


def load_model(card_path: Path, providers: list[str] | None = None, threads: int = 0,
               card: dict[str, Any] | None = None) -> OnnxModel:
    """Read the card (unless the caller passes it, as read by ``read_card``), verify the ONNX file's sha256
    and signature, and open an onnxruntime session.

    ``threads`` sets intra-op threads (0 = onnxruntime default, all cores).
    """
    import onnxruntime as ort

    card_path = Path(card_path)
    card = read_card(card_path) if card is None else card
    onnx_path = card_path.parent / card["file"]
    verify_file(onnx_path, card["sha256"])
    chosen, message = choose_providers(providers)
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3
    # idle threads wait instead of spinning: every operator of these networks is large enough that the wake-up
    # costs nothing measurable, while spinning burns CPU that a busy machine (other tiles, QGIS) needs
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own (Fail, InvalidProtobuf, ...) classes
        raise ModelError(f"onnxruntime could not load {onnx_path.name}: {exc}") from exc
    _check_signature(session, card, onnx_path)
    used = session.get_providers()
    if message is None and providers and used and used[0] != providers[0]:
        message = f"Requested {providers[0]} could not be initialised; running on {used[0]}."
    return OnnxModel(card=card, path=onnx_path, session=session, providers=used, fallback_message=message)


def find_models(models_dir: Path) -> dict[str, Path]:
    """Map model name -> card path for every ``*.json`` card in ``models_dir`` that names an ONNX file."""
    found: dict[str, Path] = {}
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return found
    for card_path in sorted(models_dir.glob("*.json")):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(card, dict) and str(card.get("file", "")).endswith(".onnx") and "name" in card:
            found[str(card["name"])] = card_path
    return found
