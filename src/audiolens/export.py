"""Export a trained classifier, front-end included, to ONNX or TorchScript, and run the export.

::

    audiolens export --checkpoint runs/esc50-cnn/.../best.ckpt --format onnx --out esc50.onnx
    audiolens predict --model esc50.onnx recordings/ --window 1 --out predictions.csv

    from audiolens.export import export_model, load_exported
    export_model("best.ckpt", "esc50.onnx")               # verified against PyTorch before it is kept
    model = load_exported("esc50.onnx")                    # the Predictor API: predict, timeline
    model.predict(waveform, sample_rate=44100).top_k

**The exported graph** (:class:`WaveformClassifier`) is the checkpoint's input pipeline and model
in one: input ``waveform`` ``(batch, n_samples)`` float32 mono samples in [-1, 1] at the model's
``sample_rate``; output ``probabilities`` ``(batch, n_classes)`` float32 (softmax, or sigmoid for
multi-label models). Batch and length are dynamic axes; the length must be at least
``min_samples`` (the fewest samples the model accepts, read from ``torch.export``'s range
constraints). A device that feeds the graph directly should feed windows of the training clip
length ``duration`` (s), which is what the model saw and what :meth:`Predictor.predict` feeds.

**Metadata.** The class names, rates and lengths travel inside the file, as a JSON string under
the key ``audiolens`` (ONNX ``metadata_props``; TorchScript extra file ``audiolens.json``):
``{"format_version", "audiolens_version", "task", "model", "sample_rate", "duration",
"min_samples", "class_names", "multilabel", "input", "output"}``.

**Formats** are plug-ins of :data:`EXPORT_FORMATS` (an :class:`ExportFormat` per name):

- ``onnx`` (``.onnx``): ``torch.export`` then the dynamo ONNX exporter (opset 18); runs with
  onnxruntime. Needs the ``export`` extra (``onnx``, ``onnxscript``, ``onnxruntime``). A model
  with an operator ONNX cannot express raises a :class:`~audiolens.ParameterError` naming it.
- ``torchscript`` (``.pt``): ``torch.jit.trace`` of the same module; runs with ``torch.jit.load``
  (C++ ``torch::jit::load`` on a device).

**Verification.** Before the file is kept, the export is run on batches of 3, 1 and 2 clips at
the training length, 1.5 times it and the training length plus 317 samples (another parity of
frame counts), and compared with the PyTorch module: a difference above ``1e-4`` (or a failure
at another length, i.e. an axis the capture fixed) raises, and nothing is written. Eager-only
code paths (the CPU chunking of the STFT, data-dependent branches) give way to one-graph
equivalents under export (:func:`audiolens._internal.tracing.is_exporting`).

**Files** are written atomically and an existing one is refused without ``overwrite=True``.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from audiolens._internal.errors import DataError, ParameterError
from audiolens._internal.logs import quiet_loggers
from audiolens._internal.optional import optional_import
from audiolens._internal.paths import atomic_open
from audiolens._internal.registry import Registry
from audiolens.inference import Predictor

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "ExportedPredictor",
    "WaveformClassifier",
    "export_model",
    "load_exported",
    "read_export_metadata",
]

#: Export formats by name (``audiolens export --format NAME``).
EXPORT_FORMATS: Registry[ExportFormat] = Registry("export format")

#: The version of the metadata layout written into exports.
FORMAT_VERSION = 1
#: Largest difference between an export and PyTorch accepted by the verification.
TOLERANCE = 1e-4
_METADATA_KEY = "audiolens"


class WaveformClassifier(nn.Module):
    """Front-end, model and output activation of a classification task, as one module.

    Shapes: ``(batch, n_samples)`` float32 at the task's ``sample_rate`` ->
    ``(batch, n_classes)`` probabilities. No NaN check (export graphs have no data-dependent
    errors; :class:`ExportedPredictor` checks its inputs before it runs the graph).
    """

    def __init__(self, task: nn.Module) -> None:
        super().__init__()
        self.frontend, self.model = task.frontend, task.model
        self.multilabel = bool(getattr(task, "multilabel", False))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Probabilities ``(batch, n_classes)`` of waveforms ``(batch, n_samples)``."""
        from audiolens.models import split_output

        logits = split_output(self.model(self.frontend(waveform)))[0]
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)


class ExportFormat:
    """One export format: how a :class:`WaveformClassifier` is written and how its file is run."""

    #: File suffixes of the format (the first is the default).
    suffixes: ClassVar[tuple[str, ...]] = ()

    def write(
        self,
        program: torch.export.ExportedProgram,
        module: nn.Module,
        example: torch.Tensor,
        metadata: dict[str, Any],
        handle: io.BufferedIOBase,
    ) -> None:
        """Write the export of ``module`` (``program``: its ``torch.export`` capture) to ``handle``."""
        raise NotImplementedError

    def load(self, path: Path, device: str) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
        """A function ``waveform (batch, n_samples) float32 -> probabilities`` and the file's metadata."""
        raise NotImplementedError


@EXPORT_FORMATS.register("onnx")
class OnnxFormat(ExportFormat):
    """ONNX (opset 18) through ``torch.onnx.export(dynamo=True)``; run with onnxruntime."""

    suffixes = (".onnx",)
    opset = 18

    def write(self, program, module, example, metadata, handle) -> None:  # noqa: ANN001 - see base
        """Translate the ``torch.export`` program; name the first operator ONNX cannot express."""
        for name in ("onnx", "onnxscript"):
            optional_import(name, "export", "ONNX export")
        try:
            with quiet_loggers("torch.onnx"):  # torchvision-op notices, not ours
                onnx_program = torch.onnx.export(
                    program,
                    opset_version=self.opset,
                    dynamo=True,
                    verbose=False,
                    input_names=["waveform"],
                    output_names=["probabilities"],
                )
        except Exception as err:  # the exporter's errors carry the failing operator in their text
            raise ParameterError(f"ONNX export failed: {_unsupported_operator(err)}") from None
        proto = onnx_program.model_proto
        entry = proto.metadata_props.add()
        entry.key, entry.value = _METADATA_KEY, json.dumps(metadata)
        handle.write(proto.SerializeToString())

    def load(self, path, device) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:  # noqa: ANN001
        """An onnxruntime session (CUDA provider for ``device="cuda"`` when onnxruntime has it)."""
        ort = optional_import("onnxruntime", "export", "running an ONNX export")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # as PyTorch, for fair comparisons
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                warnings.warn(
                    "device cuda asked, but this onnxruntime has no CUDAExecutionProvider (install "
                    "onnxruntime-gpu); running on the CPU",
                    stacklevel=3,
                )
        try:
            session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types
            raise DataError(f"{path} is not a readable ONNX model ({type(err).__name__}: {err})") from None
        raw = session.get_modelmeta().custom_metadata_map.get(_METADATA_KEY)
        name = session.get_inputs()[0].name

        def run(waveform: np.ndarray) -> np.ndarray:
            return session.run(None, {name: np.ascontiguousarray(waveform, dtype=np.float32)})[0]

        return run, _parse_metadata(raw, path)


@EXPORT_FORMATS.register("torchscript")
class TorchScriptFormat(ExportFormat):
    """TorchScript through ``torch.jit.trace``; run with ``torch.jit.load``."""

    suffixes = (".pt", ".ts")

    def write(self, program, module, example, metadata, handle) -> None:  # noqa: ANN001 - see base
        """Trace ``module`` on ``example`` (shapes stay symbolic: the trace records ``aten::size``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings on Python bools; the verification decides
            traced = torch.jit.trace(module, example, check_trace=False)
        torch.jit.save(traced, handle, _extra_files={f"{_METADATA_KEY}.json": json.dumps(metadata)})

    def load(self, path, device) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:  # noqa: ANN001
        """The loaded script module, on ``device``."""
        extra = {f"{_METADATA_KEY}.json": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except Exception as err:  # torch.jit raises RuntimeError for anything that is not an archive
            raise DataError(f"{path} is not a readable TorchScript model ({type(err).__name__}: {err})") from None

        def run(waveform: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.as_tensor(waveform, dtype=torch.float32, device=device)).cpu().numpy()

        return run, _parse_metadata(extra[f"{_METADATA_KEY}.json"] or None, path)


def _unsupported_operator(err: BaseException) -> str:
    """The exporter's error, shortened to the operator it could not translate when it names one."""
    text = "\n".join(str(e) for e in (err, err.__cause__) if e is not None)
    match = re.search(r"No ONNX function found for <OpOverload\(op='([^']+)'", text) or re.search(
        r"target=torch\.ops\.([\w.]+?)(?:\.default)?\]", text
    )
    if match:
        return (
            f"the model uses the operator {match.group(1)!r}, which ONNX (opset {OnnxFormat.opset}) cannot "
            "express; replace it in the model, or export --format torchscript"
        )
    first = next((line for line in text.splitlines() if line.strip()), type(err).__name__)
    return f"{type(err).__name__}: {first}"


def _parse_metadata(raw: str | None, path: Path) -> dict[str, Any]:
    if not raw:
        raise DataError(f"{path} has no audiolens metadata: export it with audiolens export")
    metadata = json.loads(raw)
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise DataError(f"{path} was written by a newer audiolens (format {metadata['format_version']}); upgrade")
    return metadata


def _by_suffix(path: Path) -> str | None:
    """The first format whose suffixes include ``path``'s, or ``None``."""
    return next((n for n in EXPORT_FORMATS.names() if path.suffix.lower() in EXPORT_FORMATS.get(n).suffixes), None)


def _known_suffixes() -> dict[str, tuple[str, ...]]:
    return {n: EXPORT_FORMATS.get(n).suffixes for n in EXPORT_FORMATS.names()}


def _writer(path: Path, format: str | None) -> tuple[str, ExportFormat]:  # noqa: A002 - the CLI's word
    """The format to write ``path`` in: ``format``, or the one its suffix names; they must agree."""
    format = format or _by_suffix(path)  # noqa: A001
    if format is None:
        raise ParameterError(
            f"cannot tell the export format of {path.name} from its suffix; known: {_known_suffixes()}"
        )
    writer = EXPORT_FORMATS.get(format)()
    if path.suffix.lower() not in writer.suffixes:
        raise ParameterError(
            f"--out {path.name} does not end in a suffix of format {format!r} ({', '.join(writer.suffixes)}); "
            "a runtime picks the format by suffix"
        )
    return format, writer


def _reader(path: Path) -> tuple[str, ExportFormat]:
    """The format of an existing export, from its content (TorchScript is a zip, ONNX is not)."""
    from audiolens.inference import model_file_kind

    kind = model_file_kind(path)
    if kind == "checkpoint" or path.suffix.lower() == ".ckpt":
        raise DataError(f"{path} is a checkpoint, not an export; use it with --checkpoint (audiolens.load_model)")
    name = kind if kind in EXPORT_FORMATS else _by_suffix(path)
    if name is None:
        raise ParameterError(f"cannot tell the export format of {path.name}; known suffixes: {_known_suffixes()}")
    return name, EXPORT_FORMATS.get(name)()


def _min_samples(program: torch.export.ExportedProgram) -> int:
    """The lower bound ``torch.export`` proved for the length axis of the waveform input."""
    user_inputs = set(program.graph_signature.user_inputs)
    placeholder = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name in user_inputs)
    length = placeholder.meta["val"].shape[-1]
    constraint = None if isinstance(length, int) else program.range_constraints.get(length.node.expr)
    lower = length if constraint is None else int(constraint.lower)
    upper = length if constraint is None else float(constraint.upper)
    if isinstance(length, int) or math.isfinite(upper):
        raise ParameterError(
            f"the model fixes the input length to {lower}..{int(upper)} samples (e.g. a layer over the "
            "flattened spectrogram), so the length axis cannot be dynamic; pool over time instead"
        )
    return max(1, lower)


def export_model(
    checkpoint: str | os.PathLike | nn.Module,
    out: str | os.PathLike,
    format: str | None = None,  # noqa: A002 - the CLI's word
    *,
    overwrite: bool = False,
    verify: bool = True,
) -> Path:
    """Export a classification checkpoint's front-end and model to one file (see the module doc).

    Args:
        checkpoint: A ``.ckpt`` of ``audiolens run``, or an already loaded task module.
        out: The file to write (``.onnx`` or ``.pt``).
        format: A name of :data:`EXPORT_FORMATS` (default: from the suffix of ``out``).
        overwrite: Replace an existing ``out``.
        verify: Compare the export with PyTorch before keeping it (see the module doc).

    Returns:
        ``out``.

    Raises:
        ParameterError: An unknown format, an existing ``out``, a model without classes, an
            operator the format cannot express, a length the model fixes, or an export that
            does not match PyTorch; a missing optional package (the ``export`` extra).
        DataError: An unreadable checkpoint, or an export file given as ``checkpoint``.
    """
    from audiolens.inference import load_model

    out = Path(out)
    format, writer = _writer(out, format)  # noqa: A001
    if out.exists() and not overwrite:
        raise ParameterError(f"{out} exists; pass --overwrite (overwrite=True) or choose another file")
    if isinstance(checkpoint, nn.Module):
        predictor = Predictor(copy.deepcopy(checkpoint).cpu(), "cpu")  # the caller's module is left as it is
    else:
        predictor = load_model(checkpoint, device="cpu")
    task = predictor.module
    if not predictor.class_names:
        raise ParameterError("only classification checkpoints can be exported (this one has no classes)")
    module = WaveformClassifier(task).eval()
    example = _example(predictor.n_samples, predictor.sample_rate, seed=0)
    auto = torch.export.Dim.AUTO
    try:
        # sympy's "Failed to reduce inequalities" tracebacks on pooled frame counts are notices: the
        # verification below decides whether the graph is right
        with torch.no_grad(), quiet_loggers("torch.fx.experimental.symbolic_shapes"):
            program = torch.export.export(module, (example,), dynamic_shapes=({0: auto, 1: auto},), strict=False)
    except Exception as err:  # torch.export's own error types (data-dependent control flow, unsupported ops)
        first = next((line for line in str(err).splitlines() if line.strip()), "")
        raise ParameterError(
            f"the model cannot be captured as one graph by torch.export ({type(err).__name__}: {first[:300]}); "
            "data-dependent Python branches on tensor values are the usual cause"
        ) from None
    metadata = {
        "format_version": FORMAT_VERSION,
        "audiolens_version": _version(),
        "task": type(task).__name__,
        "model": str(getattr(task.hparams, "model", "") if hasattr(task, "hparams") else ""),
        "sample_rate": predictor.sample_rate,
        "duration": predictor.duration,
        "min_samples": _min_samples(program),
        "class_names": predictor.class_names,
        "multilabel": module.multilabel,
        "input": "waveform: (batch, n_samples) float32 mono in [-1, 1] at sample_rate Hz",
        "output": "probabilities: (batch, n_classes) float32",
    }
    buffer = io.BytesIO()
    writer.write(program, module, example, metadata, buffer)
    if verify:
        _verify(module, buffer.getvalue(), out.suffix, writer, predictor, metadata["min_samples"])
    with atomic_open(out) as handle:
        handle.write(buffer.getvalue())
    return out


def _example(n_samples: int, sample_rate: int, seed: int, batch: int = 2) -> torch.Tensor:
    """Noise-plus-tones clips ``(batch, n_samples)``: a non-degenerate input to capture and compare."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(n_samples) / float(sample_rate)
    tones = torch.stack([torch.sin(2 * torch.pi * (300.0 + 500.0 * k) * t) for k in range(batch)])
    return (0.2 * tones + 0.05 * torch.randn(batch, n_samples, generator=generator)).float()


def _verify(
    module: nn.Module, data: bytes, suffix: str, writer: ExportFormat, predictor: Predictor, min_samples: int
) -> None:
    """Run the written export at three lengths and batch sizes against ``module`` (see the module doc)."""
    import tempfile

    n_samples = predictor.n_samples
    # the training length; 1.5 times it; and an odd count of samples (other frame parities)
    checks = ((3, n_samples), (1, n_samples * 3 // 2), (2, n_samples + 317))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(data)
        run, _ = writer.load(path, "cpu")
        for batch, length in checks:
            length = max(length, min_samples)
            x = _example(length, predictor.sample_rate, seed=batch, batch=batch)
            try:
                with torch.no_grad():
                    expected = module(x).numpy()
            except RuntimeError as err:  # the PyTorch model itself takes one length only
                raise ParameterError(
                    f"the model fixes the input length: it fails on {length} samples ({str(err).splitlines()[0]}), "
                    "so the length axis cannot be dynamic; pool over time instead"
                ) from None
            try:
                got = run(x.numpy())
            except Exception as err:  # the runtime's own errors: a shape the export fixed
                raise ParameterError(
                    f"the export fails on a batch of {batch} x {length} samples ({type(err).__name__}: "
                    f"{str(err).splitlines()[0][:300]}); an axis was fixed during export"
                ) from None
            error = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
            if not error <= TOLERANCE:
                raise ParameterError(
                    f"the export differs from PyTorch by {error:.3g} (> {TOLERANCE}) on a batch of {batch} x "
                    f"{length} samples; not written"
                )


def _version() -> str:
    from audiolens import __version__

    return __version__


class ExportedPredictor(Predictor):
    """The :class:`~audiolens.inference.Predictor` API (``predict``, ``timeline``) on an export.

    Inputs are checked, mixed down, resampled, and cut/padded to the training length as for a
    checkpoint, so an export predicts what its checkpoint predicts. ``embed`` needs the
    checkpoint (an export outputs probabilities only).
    """

    def __init__(self, path: str | os.PathLike, device: str | None = None) -> None:  # noqa: D107 - see load_exported
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"exported model not found: {self.path}")
        format, reader = _reader(self.path)  # noqa: A001
        self.format, self.device = format, device or "cpu"
        self._run, self.metadata = reader.load(self.path, self.device)
        self.module = None
        self.sample_rate = int(self.metadata["sample_rate"])
        self.class_names = list(self.metadata["class_names"])
        self.duration = float(self.metadata["duration"])
        self.n_samples = max(1, round(self.duration * self.sample_rate), int(self.metadata["min_samples"]))

    @property
    def embed_dim(self) -> int:
        """Not available on an export."""
        raise ParameterError("an exported model outputs probabilities only; load its checkpoint for embeddings")

    def embed(self, waveform: Any, sample_rate: int) -> np.ndarray:
        """Not available on an export.

        Raises:
            ParameterError: Always (an export outputs probabilities only; use the checkpoint).
        """
        raise ParameterError("an exported model outputs probabilities only; load its checkpoint for embeddings")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self._run(x.numpy()), dtype=np.float32))


def load_exported(path: str | os.PathLike, device: str | None = None) -> ExportedPredictor:
    """An :class:`ExportedPredictor` of a file written by :func:`export_model`.

    Args:
        path: An ``.onnx`` (onnxruntime) or ``.pt`` (TorchScript) export.
        device: ``cpu`` (default) or ``cuda``.

    Raises:
        DataError: A missing or unreadable file, a file without audiolens metadata, or a
            checkpoint (``.ckpt``: use :func:`audiolens.load_model`).
        ParameterError: A suffix of no known format; a missing optional package.
    """
    return ExportedPredictor(path, device)


def read_export_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dictionary of an export (see the module doc)."""
    return load_exported(path).metadata
