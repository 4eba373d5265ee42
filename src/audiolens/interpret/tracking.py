"""Layer-activation tracking for the information plane of any ``nn.Module``.

Reproduces (and hardens) the activation tracker of the paper's listing 1
(``../shared/papers/infoplane-gnn-mutual-information.md``: forward hooks on the model's
``named_children``, ``register_new_epoch`` per epoch, ``save``); design notes and the
reference implementations' defects are in ``../shared/design/infoplane.md``.

Design sketch:

- **What is tracked.** A forward hook on each selected module (default: the model's
  ``named_children``, recursing into plain containers ``nn.Sequential`` / ``nn.ModuleList`` /
  ``nn.ModuleDict``, so ``features.0``, ``features.1`` are tracked instead of ``features``).
  Each output is detached, copied to the CPU in ``dtype`` and flattened to ``(batch, -1)``;
  dim 0 must be the sample (or node) dimension. Tuple/list outputs (``nn.LSTM``,
  ``nn.MultiheadAttention``) give their first tensor, objects with an ``.x`` tensor
  (PyTorch Geometric ``Data``) give ``.x``; anything else is a :class:`DataError`. All forward
  passes of one epoch are concatenated along dim 0, giving ``(N, features)`` per layer.
- **Eval vs train mode.** :meth:`ActivationTracker.record` (recommended) runs a *fixed, stated*
  evaluation set in eval mode under ``torch.no_grad()`` once per epoch: dropout is off, batch
  norm uses running statistics, and every epoch sees the same N samples, so epochs are
  comparable. The paper instead records the *train-mode* activations of the training forward
  pass (``with tracker:`` around the training loop, listing 1); that is supported too, and each
  epoch remembers which mode it saw (:meth:`ActivationTracker.epoch_mode`).
- **Why N matters.** The KDE estimate of I(X;Z) is at most ``log2 N`` bits (every sample its
  own cluster), so the number of tracked samples caps the x axis of the information plane:
  the paper's 140 Cora training nodes (sub-sampled to 28 in its code) cap it at 7.1 (4.8) bits,
  all 2,708 nodes at 11.4 bits. Nothing is sub-sampled here; report N with the plane
  (:func:`information_plane` rows carry ``n_samples``).
- **Memory.** Only the open epoch is buffered in memory (``N x features`` per layer, float32 by
  default). With ``store=folder`` each closed epoch is written to
  ``folder/epoch-{k:04d}/{layer}.npy`` (atomically) and dropped from memory, so memory stays
  bounded by one epoch however long training runs; ``folder/index.json`` lists layers, epochs,
  modes and shapes. Without ``store`` every epoch stays in memory.
- **Hooks never leak.** Hooks exist only inside ``with tracker:`` (or between
  :meth:`~ActivationTracker.attach` and :meth:`~ActivationTracker.detach`, or during
  :meth:`~ActivationTracker.record`) and are removed in ``finally`` blocks, also when the model
  raises (captum's convention, ``../shared/design/style.md``).

Example (eval-mode tracking of a fixed evaluation set, the recommended mode)::

    tracker = ActivationTracker(model, store=run_dir / "activations")
    for epoch in range(num_epochs):
        train_one_epoch(model)
        tracker.record(x_eval, batch_size=256)          # one epoch, model in eval mode
    rows = information_plane(tracker, y_eval, noise_variances=(0.1,))

Example (the paper's listing 1: train-mode activations of the training forward pass)::

    with tracker:
        for epoch in range(num_epochs):
            for x, y in train_loader:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)      # hooks record this forward pass
                loss.backward()
                optimizer.step()
            tracker.register_new_epoch()
    tracker.save(run_dir / "activations.pt")
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from audiolens._internal.errors import AudiolensError, DataError, ParameterError
from audiolens._internal.paths import atomic_open, atomic_write_text
from audiolens.functional.mutual_information import MIEstimate, mutual_information

__all__ = ["ActivationTracker", "information_plane", "load_activations"]

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_FORMAT = "audiolens.activations"
_VERSION = 1
_MAX_LISTED = 30


def _list_names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names) - _MAX_LISTED} more)"
    return shown or "(none)"


def _default_layers(module: nn.Module, prefix: str = "") -> list[str]:
    names = []
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, _CONTAINERS):
            names.extend(_default_layers(child, f"{full}."))
        else:
            names.append(full)
    return names


def _resolve_layers(model: nn.Module, layers: Any) -> list[str]:
    modules = [(name, module) for name, module in model.named_modules() if name]
    valid = [name for name, _ in modules]
    if layers is None:
        selected = set(_default_layers(model))
        if not selected:
            raise ParameterError(
                f"{type(model).__name__} has no child modules to track; pass layers=[...] naming its sub-modules"
            )
    else:
        if isinstance(layers, (str, type)):
            layers = [layers]
        selected = set()
        for item in layers:
            if isinstance(item, str):
                if item not in valid:
                    raise ParameterError(f"unknown layer {item!r}; valid layer names: {_list_names(valid)}")
                selected.add(item)
            elif isinstance(item, type) and issubclass(item, nn.Module):
                matches = [name for name, module in modules if isinstance(module, item)]
                if not matches:
                    present = sorted({type(module).__name__ for _, module in modules})
                    raise ParameterError(
                        f"no module of type {item.__name__} in {type(model).__name__}; "
                        f"module types present: {_list_names(present)}"
                    )
                selected.update(matches)
            else:
                raise ParameterError(
                    f"layers must be module names (str) or nn.Module subclasses, got {item!r} ({type(item).__name__})"
                )
        if not selected:
            raise ParameterError("layers selects no module; pass module names or types, or None for the default")
    return [name for name in valid if name in selected]  # model order


def _file_names(layer_names: Sequence[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    used: set[str] = set()
    for name in layer_names:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        candidate, k = stem, 1
        while candidate in used:
            candidate, k = f"{stem}-{k}", k + 1
        used.add(candidate)
        files[name] = f"{candidate}.npy"
    return files


def _output_tensor(layer: str, output: Any) -> torch.Tensor:
    """The tensor to record from a layer's output (documented handling, see the module doc)."""
    if isinstance(output, torch.Tensor):
        tensor = output
    elif isinstance(output, (tuple, list)):
        tensor = next((item for item in output if isinstance(item, torch.Tensor)), None)
        if tensor is None:
            raise DataError(
                f"layer {layer!r} returned a {type(output).__name__} without a tensor element; "
                "track a different layer (layers=[...])"
            )
    elif not isinstance(output, Mapping) and isinstance(getattr(output, "x", None), torch.Tensor):
        tensor = output.x  # PyTorch Geometric Data / Batch: node features
    else:
        raise DataError(
            f"layer {layer!r} returned a {type(output).__name__}, which cannot be recorded: a layer output must be "
            "a Tensor, a tuple/list whose first tensor is recorded, or an object with an .x tensor; "
            "track one of its sub-modules instead (layers=[...])"
        )
    if tensor.dim() == 0:
        raise DataError(f"layer {layer!r} returned a scalar; its output needs a sample dimension (dim 0)")
    if tensor.is_complex():
        raise DataError(f"layer {layer!r} returned a complex tensor; track a layer with real-valued output")
    return tensor


class ActivationTracker:
    """Record the outputs of selected layers of any ``nn.Module``, epoch by epoch.

    The tracker of the paper's listing 1 (``../shared/papers/infoplane-gnn-mutual-information.md``)
    with the fixes of ``../shared/design/infoplane.md``: eval-mode recording of a fixed
    evaluation set (:meth:`record`), no sub-sampling, bounded memory (``store``), hooks that are
    always removed. See the module docstring for the design.

    Args:
        model: Any ``nn.Module``; forward passes must put the sample (node) dimension first
            in every tracked layer's output.
        layers: ``None`` for the model's ``named_children`` (recursing into ``nn.Sequential``,
            ``nn.ModuleList`` and ``nn.ModuleDict``), or a list mixing module names (dotted, as
            in ``model.named_modules()``) and ``nn.Module`` subclasses (every module of that
            type is tracked). A single name or type is accepted too.
        store: Folder to stream closed epochs to (``store/epoch-{k:04d}/{layer}.npy`` plus
            ``store/index.json``); ``None`` keeps every epoch in memory. The folder must not
            already hold recorded activations.
        dtype: Floating dtype of the recorded activations (float32 by default).

    Attributes:
        model: The tracked model.
        layer_names: Tracked module names, in model order.
        store: The streaming folder (a ``Path``) or ``None``.
        dtype: Recorded dtype.

    Raises:
        ParameterError: ``model`` is not an ``nn.Module``; unknown layer names (the message
            lists the valid names); a type with no matching module; an empty selection;
            ``dtype`` not floating (or not storable by numpy when ``store`` is given);
            ``store`` already holding activations.

    Example::

        tracker = ActivationTracker(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
        tracker.layer_names                  # ['0', '1', '2']
        tracker.record(torch.randn(100, 4))  # epoch 0
        tracker.activations(0, "1").shape    # torch.Size([100, 8])
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str | type[nn.Module]] | str | type[nn.Module] | None = None,
        *,
        store: str | Path | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ParameterError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ParameterError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.model = model
        self.layer_names: list[str] = _resolve_layers(model, layers)
        self.dtype = dtype
        self.store: Path | None = None
        self._files = _file_names(self.layer_names)
        if store is not None:
            if dtype == torch.bfloat16:
                raise ParameterError("dtype=torch.bfloat16 cannot be stored as .npy; use float32 or float16")
            self.store = Path(store)
            if (self.store / "index.json").exists() or any(self.store.glob("epoch-*")):
                raise ParameterError(
                    f"store {str(self.store)!r} already holds recorded activations; use an empty folder"
                )
        modules = dict(model.named_modules())
        self._modules = {name: modules[name] for name in self.layer_names}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._enter_stack: list[bool] = []
        self._root_depth = 0
        self._seen_in_pass: set[str] = set()
        self._buffers: dict[str, list[torch.Tensor]] = {name: [] for name in self.layer_names}
        self._modes: set[bool] = set()
        self._epochs: list[int] = []
        self._next_index = 0  # one more than the largest index ever recorded (also after pop)
        self._meta: dict[int, dict[str, Any]] = {}
        self._memory: dict[int, dict[str, torch.Tensor]] = {}

    def __repr__(self) -> str:
        where = f"store={str(self.store)!r}" if self.store else "in memory"
        return (
            f"ActivationTracker({type(self.model).__name__}, layers={self.layer_names}, epochs={len(self._epochs)}, "
            f"{where}, hooks_active={self.hooks_active})"
        )

    # ------------------------------------------------------------------ hooks
    @property
    def hooks_active(self) -> bool:
        """Whether the forward hooks are currently registered on the model."""
        return bool(self._handles)

    def attach(self) -> ActivationTracker:
        """Register the forward hooks (no-op when already attached).

        From now on every forward pass appends the tracked layers' outputs to the open epoch.
        Prefer ``with tracker:``, which always detaches.

        Returns:
            ``self``.
        """
        if self._handles:
            return self
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._root_pre_hook))
            self._handles.append(self.model.register_forward_hook(self._root_post_hook, always_call=True))
            for name, module in self._modules.items():
                self._handles.append(module.register_forward_hook(self._make_hook(name)))
        except BaseException:
            self.detach()
            raise
        return self

    def detach(self) -> None:
        """Remove every hook this tracker registered (always safe to call, idempotent)."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        self._root_depth = 0
        self._seen_in_pass.clear()

    def __enter__(self) -> ActivationTracker:
        attached_here = not self._handles
        self.attach()
        self._enter_stack.append(attached_here)
        return self

    def __exit__(self, *exc_info: object) -> None:
        attached_here = self._enter_stack.pop() if self._enter_stack else True
        if attached_here:  # nested ``with`` blocks leave the outer block's hooks in place
            self.detach()

    def _root_pre_hook(self, module: nn.Module, args: Any) -> None:
        if self._root_depth == 0:
            self._seen_in_pass.clear()
        self._root_depth += 1

    def _root_post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        self._root_depth = max(0, self._root_depth - 1)

    def _make_hook(self, name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            self._on_output(name, output)

        return hook

    def _on_output(self, name: str, output: Any) -> None:
        if self._root_depth > 0:
            if name in self._seen_in_pass:
                raise DataError(
                    f"layer {name!r} ran more than once in one forward pass (a module reused inside forward, "
                    "e.g. one activation applied after every layer): its outputs cannot be told apart; "
                    "track other layers (layers=[...])"
                )
            self._seen_in_pass.add(name)
        tensor = _output_tensor(name, output)
        n = tensor.shape[0]
        flat = tensor.detach().to(device="cpu", dtype=self.dtype, copy=True).reshape(n, math.prod(tensor.shape[1:]))
        chunks = self._buffers[name]
        if chunks and chunks[0].shape[1] != flat.shape[1]:
            raise DataError(
                f"layer {name!r} produced {flat.shape[1]} features per sample after {chunks[0].shape[1]} earlier in "
                f"this epoch (output shape {tuple(tensor.shape)}): flattened activations need a fixed size per "
                "sample (pad the inputs or track a pooled layer)"
            )
        chunks.append(flat)
        self._modes.add(bool(self.model.training))

    # ----------------------------------------------------------------- epochs
    @property
    def epochs(self) -> list[int]:
        """Indices of the recorded (closed) epochs, in recording order."""
        return list(self._epochs)

    @property
    def pending(self) -> bool:
        """Whether the open epoch holds activations not yet closed by :meth:`register_new_epoch`."""
        return any(self._buffers.values())

    def register_new_epoch(self, *, epoch: int | None = None) -> int | None:
        """Close the open epoch (streaming it to ``store`` if set) and start the next one.

        As ``tracker.register_new_epoch`` of the paper's listing 1. An open epoch without any
        forward pass is not recorded, so calling this at the start of every epoch (the
        listing's order) works as well as calling it at the end.

        Args:
            epoch: Index to give the closed epoch (an int >= 0 not yet recorded); default: one
                more than the largest index recorded so far, popped epochs included (0 for the
                first).

        Returns:
            The index of the closed epoch, or ``None`` when nothing was recorded.

        Raises:
            ParameterError: ``epoch`` negative, not an int, or already recorded.
        """
        if not self.pending:
            self._reset_open_epoch()
            return None
        index = self._new_epoch_index(epoch)
        tensors = {name: torch.cat(chunks) for name, chunks in self._buffers.items() if chunks}
        mode = "mixed" if len(self._modes) > 1 else ("train" if True in self._modes else "eval")
        meta: dict[str, Any] = {
            "epoch": index,
            "mode": mode,
            "shapes": {name: list(t.shape) for name, t in tensors.items()},
        }
        if self.store is not None:
            folder = self.store / f"epoch-{index:04d}"
            meta["files"] = {}
            for name, tensor in tensors.items():
                with atomic_open(folder / self._files[name]) as handle:
                    np.save(handle, tensor.numpy())
                meta["files"][name] = f"{folder.name}/{self._files[name]}"
        else:
            self._memory[index] = tensors
        self._meta[index] = meta
        self._epochs.append(index)
        self._next_index = max(self._next_index, index + 1)
        self._reset_open_epoch()
        if self.store is not None:
            self._write_index()
        return index

    def _new_epoch_index(self, epoch: int | None) -> int:
        if epoch is None:
            return self._next_index
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ParameterError(f"epoch must be an int >= 0, got {epoch!r}")
        if epoch in self._meta:
            raise ParameterError(f"epoch {epoch} is already recorded; recorded epochs: {self._epochs}")
        return epoch

    def _reset_open_epoch(self) -> None:
        self._buffers = {name: [] for name in self.layer_names}
        self._modes = set()

    def epoch_mode(self, epoch: int) -> str:
        """How the model was set while epoch ``epoch`` was recorded.

        Returns:
            ``"eval"``, ``"train"`` or ``"mixed"``.

        Raises:
            ParameterError: ``epoch`` was not recorded.
        """
        return self._epoch_meta(epoch)["mode"]

    def epoch_shapes(self, epoch: int) -> dict[str, tuple[int, int]]:
        """Shapes ``(N, features)`` of the layers recorded in ``epoch``, in model order.

        Layers that did not run during the epoch are absent.

        Raises:
            ParameterError: ``epoch`` was not recorded.
        """
        return {name: (int(n), int(f)) for name, (n, f) in self._epoch_meta(epoch)["shapes"].items()}

    def _epoch_meta(self, epoch: int) -> dict[str, Any]:
        if epoch not in self._meta:
            raise ParameterError(f"epoch {epoch!r} was not recorded; recorded epochs: {self._epochs}")
        return self._meta[epoch]

    def activations(self, epoch: int, layer: str) -> torch.Tensor:
        """Activations of ``layer`` in ``epoch`` (loaded from disk when streamed).

        Returns:
            Tensor of shape ``(N, features)`` in the tracker's ``dtype``, on the CPU: N is the
            number of samples seen by the layer in that epoch (all forward passes concatenated),
            ``features`` the layer's output flattened per sample.

        Raises:
            ParameterError: Unknown layer (valid names listed) or unrecorded epoch.
            DataError: The layer did not run during that epoch, or its file is missing.
        """
        if layer not in self._modules:
            raise ParameterError(f"unknown layer {layer!r}; tracked layers: {_list_names(self.layer_names)}")
        meta = self._epoch_meta(epoch)
        if layer not in meta["shapes"]:
            raise DataError(f"layer {layer!r} produced no output during epoch {epoch}")
        if self.store is None:
            return self._memory[epoch][layer]
        return _load_npy(self.store / meta["files"][layer])

    def pop(self, epoch: int) -> dict[str, torch.Tensor]:
        """Return the activations of a recorded epoch and forget them (in-memory trackers).

        Lets a caller estimate an epoch and drop it, so memory stays bounded by one epoch
        without streaming to disk (the information-plane callback does this).

        Returns:
            ``{layer: (N, features)}`` in model order.

        Raises:
            ParameterError: ``epoch`` was not recorded, or the tracker streams to ``store``
                (its epochs live on disk; read them with :meth:`activations`).
        """
        if self.store is not None:
            raise ParameterError("pop() is for in-memory trackers; a streaming tracker keeps its epochs in store")
        self._epoch_meta(epoch)
        del self._meta[epoch]
        self._epochs.remove(epoch)
        return self._memory.pop(epoch)

    # ----------------------------------------------------------------- record
    def record(self, inputs: Any, *, batch_size: int | None = None, epoch: int | None = None) -> int:
        """Record one epoch of eval-mode activations of a fixed evaluation set (recommended mode).

        Puts the model in eval mode under ``torch.no_grad()``, runs it on ``inputs``, closes
        the epoch (:meth:`register_new_epoch`) and restores every module's previous train/eval
        flag, also when the model raises. Hooks are attached for the call if they were not
        already, and removed afterwards in a ``finally`` block.

        Args:
            inputs: A Tensor ``(N, ...)`` (called as ``model(x)``); a tuple of arguments
                (called as ``model(*inputs)``, e.g. ``(x, edge_index)`` for a GNN); or any other
                object passed as the single argument (e.g. a PyG ``Data``; never batched). Inputs
                must already be on the model's device.
            batch_size: Split the inputs into chunks of this many samples along dim 0 (every
                tensor of a tuple is split alike; non-tensor elements are passed unchanged).
                ``None`` runs one forward pass.
            epoch: Index of the recorded epoch (see :meth:`register_new_epoch`).

        Returns:
            The index of the recorded epoch.

        Raises:
            ParameterError: The open epoch already holds activations (e.g. training forward
                passes inside ``with tracker:``; call :meth:`register_new_epoch` first), bad
                ``batch_size``, tuple tensors of different lengths, ``batch_size`` with inputs
                that cannot be split, or the model produced no tracked output.
            DataError: A layer output that cannot be recorded (see the module doc).
        """
        if self.pending:
            raise ParameterError(
                "the open epoch already holds activations (forward passes since the last register_new_epoch(), "
                "e.g. training steps inside `with tracker:`); call tracker.register_new_epoch() before record()"
            )
        self._new_epoch_index(epoch)  # validate before running the model
        batches = list(_batches(inputs, batch_size))
        flags = [(module, module.training) for module in self.model.modules()]
        attached_here = not self._handles
        try:
            self.model.eval()
            self.attach()
            with torch.no_grad():
                for args in batches:
                    self.model(*args)
        except BaseException:
            self._reset_open_epoch()
            raise
        finally:
            if attached_here:
                self.detach()
            for module, flag in flags:
                module.training = flag
        try:
            index = self.register_new_epoch(epoch=epoch)
        except BaseException:  # e.g. a failed write to ``store``: leave no half-closed epoch behind
            self._reset_open_epoch()
            raise
        if index is None:
            raise ParameterError(f"no tracked layer ran during the forward pass; tracked layers: {self.layer_names}")
        return index

    # ------------------------------------------------------------------- save
    def save(self, path: str | Path | None = None) -> Path:
        """Write every recorded epoch to disk (the paper's ``tracker.save()``).

        An open epoch that holds activations is closed first (:meth:`register_new_epoch`), so
        the listing's order (``register_new_epoch`` at the start of an epoch, ``save`` at its
        end) records every epoch. In memory: one ``.pt`` file (``torch.save`` of plain
        containers, loadable with ``weights_only=True``; read it with :func:`load_activations`).
        Streamed: the epochs are already on disk and ``store/index.json`` (layers, epochs,
        modes, shapes, files) is rewritten.

        Args:
            path: The ``.pt`` file (required in memory; must be ``None`` or ``store/index.json``
                when streamed).

        Returns:
            The written file.

        Raises:
            ParameterError: Missing ``path`` in memory, or a different ``path`` when streamed.
        """
        if self.store is not None:
            index_path = self.store / "index.json"
            if path is not None and Path(path).resolve() != index_path.resolve():
                raise ParameterError(
                    f"this tracker streams to {str(self.store)!r}; save() writes {str(index_path)!r}: call it without "
                    "a path"
                )
            self.register_new_epoch()
            self._write_index()
            return index_path
        if path is None:
            raise ParameterError("save() needs a path (e.g. run_dir / 'activations.pt') when store is None")
        self.register_new_epoch()
        payload = {
            "format": _FORMAT,
            "version": _VERSION,
            "layers": list(self.layer_names),
            "dtype": str(self.dtype).replace("torch.", ""),
            "epochs": [
                {"epoch": e, "mode": self._meta[e]["mode"], "activations": self._memory[e]} for e in self._epochs
            ],
        }
        path = Path(path)
        with atomic_open(path) as handle:
            torch.save(payload, handle)
        return path

    def _write_index(self) -> None:
        assert self.store is not None
        index = {
            "format": _FORMAT,
            "version": _VERSION,
            "layers": list(self.layer_names),
            "dtype": str(self.dtype).replace("torch.", ""),
            "epochs": [self._meta[e] for e in self._epochs],
        }
        atomic_write_text(self.store / "index.json", json.dumps(index, indent=2) + "\n")


def _batches(inputs: Any, batch_size: int | None) -> Iterator[tuple[Any, ...]]:
    """Positional-argument tuples for each forward pass of :meth:`ActivationTracker.record`."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ParameterError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(inputs, torch.Tensor):
        args: tuple[Any, ...] = (inputs,)
    elif isinstance(inputs, tuple):
        args = inputs
    else:
        if batch_size is not None:
            raise ParameterError(
                f"batch_size needs a Tensor or a tuple of tensors to split along dim 0, got {type(inputs).__name__} "
                "(objects such as a PyG Data are passed whole: use batch_size=None)"
            )
        yield (inputs,)
        return
    if batch_size is None:
        yield args
        return
    lengths = {a.shape[0] for a in args if isinstance(a, torch.Tensor) and a.dim() > 0}
    if len(lengths) != 1:
        raise ParameterError(
            f"batch_size needs tensors of one common length along dim 0, got lengths {sorted(lengths)}; "
            "use batch_size=None for inputs that must not be split (e.g. (x, edge_index))"
        )
    (n,) = lengths
    for start in range(0, n, batch_size):
        yield tuple(a[start : start + batch_size] if isinstance(a, torch.Tensor) and a.dim() > 0 else a for a in args)


def _load_npy(path: Path) -> torch.Tensor:
    if not path.is_file():
        raise DataError(f"activation file {str(path)!r} is missing")
    return torch.from_numpy(np.load(path, allow_pickle=False))


def load_activations(path: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    """Read activations written by :meth:`ActivationTracker.save`.

    Args:
        path: A ``.pt`` file (in-memory tracker), or a streaming folder / its ``index.json``.

    Returns:
        ``{epoch: {layer: Tensor (N, features)}}`` in recording and model order.

    Raises:
        DataError: Missing or malformed file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "index.json"
    if not path.is_file():
        raise DataError(f"no saved activations at {str(path)!r}")
    if path.suffix == ".json":
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
            epochs = index["epochs"]
            return {int(m["epoch"]): {k: _load_npy(path.parent / f) for k, f in m["files"].items()} for m in epochs}
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(f"{str(path)!r} is not an activation index: {err}") from err
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure means a bad file
        raise DataError(f"cannot read activations from {str(path)!r}: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise DataError(f"{str(path)!r} was not written by ActivationTracker.save")
    return {int(e["epoch"]): dict(e["activations"]) for e in payload["epochs"]}


def information_plane(
    tracker: ActivationTracker | Mapping[int, Mapping[str, torch.Tensor]],
    labels: torch.Tensor,
    *,
    estimator: str = "kde",
    rows: torch.Tensor | None = None,
    unit: str = "bits",
    shuffled_baseline: bool = False,
    n_bootstrap: int = 0,
    seed: int = 0,
    warn_saturation: bool = True,
    **options: Any,
) -> list[dict[str, Any]]:
    """Information-plane coordinates of every recorded (epoch, layer).

    Calls :func:`audiolens.functional.mutual_information` once per (epoch, layer): with the
    default ``"kde"`` estimator the Kolchinsky-Tracey bounds (the paper's eq. 3-4, float64,
    no sub-sampling), one pass for every bound and noise variance. ``I(X;Z) <= log2 N``:
    report ``n_samples`` with the plane.

    Args:
        tracker: An :class:`ActivationTracker` or the ``{epoch: {layer: (N, features)}}``
            mapping of :func:`load_activations`.
        labels: Integer class labels ``(N,)`` of the tracked samples, in recording order (or of
            the selected ``rows``).
        estimator: A registered estimator (``"kde"``, ``"binning"``; see
            :func:`audiolens.functional.list_estimators`).
        rows: Optional indices (or boolean mask) of the recorded samples to use, e.g. the
            training nodes of a graph whose every node was recorded.
        unit: ``"bits"`` or ``"nats"``.
        shuffled_baseline: Add ``i_zy_shuffled`` (I(Z;Y) for permuted labels).
        n_bootstrap: Bootstrap resamples for ``i_xz_std`` / ``i_zy_std`` (0: none).
        seed: Seed of the permutation and the resamples.
        warn_saturation: Warn when an estimate saturates.
        **options: Estimator settings: KDE ``noise_variances`` (the paper uses 0.1 on Cora),
            ``bounds`` (``"upper"``, the paper's, and/or ``"lower"``); binning ``n_bins``,
            ``bin_range``.

    Returns:
        One row per (epoch, layer, estimator setting), epochs outermost, layers in model
        order: ``{"epoch", "layer", "i_xz", "i_zy", "estimator", "bound", "noise_variance",
        "n_samples", "unit", "n_bins", "i_zy_shuffled", "i_xz_std", "i_zy_std"}`` (the columns
        of ``infoplane.csv``).

    Raises:
        ParameterError: Nothing recorded; labels of the wrong length or type, bad estimator
            settings (the estimator's errors, with layer and epoch added to the message).
        DataError: NaN or Inf activations (with layer and epoch in the message).
    """
    if isinstance(tracker, ActivationTracker):
        pairs = [(e, name) for e in tracker.epochs for name in tracker.epoch_shapes(e)]

        def get(epoch: int, layer: str) -> torch.Tensor:
            return tracker.activations(epoch, layer)

    elif isinstance(tracker, Mapping):
        pairs = [(e, name) for e, layers in tracker.items() for name in layers]

        def get(epoch: int, layer: str) -> torch.Tensor:
            return tracker[epoch][layer]

    else:
        raise ParameterError(f"tracker must be an ActivationTracker or a mapping, got {type(tracker).__name__}")
    if not pairs:
        raise ParameterError("no activations recorded yet: record at least one epoch first")
    out = []
    for epoch, layer in pairs:
        z = get(epoch, layer)
        try:
            if rows is not None:
                z = _select_rows(z, rows)
            estimates = mutual_information(
                z,
                labels,
                estimator,
                unit=unit,
                shuffled_baseline=shuffled_baseline,
                n_bootstrap=n_bootstrap,
                seed=seed,
                warn_saturation=warn_saturation,
                **options,
            )
        except AudiolensError as err:
            raise type(err)(f"layer {layer!r}, epoch {epoch}: {err}") from err
        out.extend({"epoch": epoch, "layer": layer, **_row(est)} for est in estimates)
    return out


def _select_rows(z: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    rows = torch.as_tensor(rows)
    if rows.dtype == torch.bool:
        if rows.shape != (z.shape[0],):
            raise ParameterError(f"a boolean rows mask must have shape ({z.shape[0]},), got {tuple(rows.shape)}")
        return z[rows.to(z.device)]
    if rows.is_floating_point() or rows.dim() != 1:
        raise ParameterError("rows must be a 1-D integer index tensor or a boolean mask")
    if rows.numel() and (int(rows.min()) < -z.shape[0] or int(rows.max()) >= z.shape[0]):
        raise ParameterError(f"rows index samples outside [0, {z.shape[0]}) of the recorded activations")
    return z[rows.to(z.device)]


def _row(est: MIEstimate) -> dict[str, Any]:
    return {
        "i_xz": est.i_xz,
        "i_zy": est.i_zy,
        "estimator": est.estimator,
        "bound": est.bound,
        "noise_variance": est.noise_variance,
        "n_samples": est.n_samples,
        "unit": est.unit,
        "n_bins": est.n_bins,
        "i_zy_shuffled": est.i_zy_shuffled,
        "i_xz_std": est.i_xz_std,
        "i_zy_std": est.i_zy_std,
    }
