"""Sonification of raw-waveform CNNs: :class:`Sonifier` (Mallick et al., sec. 3.2, pseudo-code B.2).

::

    sonifier = Sonifier(model)                       # model.blocks: Conv1d -> ReLU -> [MaxPool1d] blocks
    s = sonifier.sonify(waveform, layer=5, feature_map=17)          # (n_samples,) like the input
    all_maps = sonifier.sonify_all(waveform, layer=5)               # (n_maps, n_samples), batched
    active = sonifier.activations(waveform, layer=5)                # (batch, n_maps): max over time

**Which models.** Any module whose ``blocks`` (or the ``blocks`` given) is a sequence of
``nn.Sequential`` made of ``nn.Conv1d`` (stride 1, one group, zero padding), ``nn.ReLU`` and
optionally ``nn.MaxPool1d`` (the :mod:`audiolens.models.cnn12` family). Anything else is
refused with the reason: strided convolutions (the paper's finding: they distort
sonifications, and their transposes are not inverses of the downsampling), normalisation
layers (they would make a map depend on batch statistics), other modules (no deconvnet rule).

**Layers** are 1-based block indices ``L = 1..n_blocks`` as in the paper; feature maps are
0-based. The Sonifier reads the weights at each call (no copies, no hooks, no state kept), so it
follows a model that trains, and there is nothing to clean up after an error.

The tensor code (forward with switches, deconvnet, scaling, batched maps) is in
:mod:`audiolens.functional.sonification`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens.functional.sonification import ConvBlock, deconvnet, forward_blocks, scale_like, sonify_maps

__all__ = ["Sonifier", "layer_coherence", "mean_top_coherence", "removal_experiment", "top_activating"]

_NORMALISATION = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def _single(value: Any) -> int:
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def _block_spec(index: int, block: nn.Module) -> ConvBlock:
    """The :class:`ConvBlock` of one ``Conv1d -> ReLU -> [MaxPool1d]`` block, or why it is not one."""
    layers = list(block.children()) if isinstance(block, nn.Sequential) else [block]
    where = f"block {index}"
    kinds = [type(m).__name__ for m in layers]
    if any(isinstance(m, _NORMALISATION) for m in layers):
        raise ParameterError(
            f"{where} ({kinds}) has a normalisation layer: the deconvnet has no inverse for it (the paper's "
            "CNN12 has none); sonify a model without normalisation layers"
        )
    if len(layers) not in (2, 3) or not isinstance(layers[0], nn.Conv1d) or not isinstance(layers[1], nn.ReLU):
        raise ParameterError(
            f"{where} is {kinds}; sonification needs Conv1d -> ReLU -> [MaxPool1d] blocks (nn modules, in this order)"
        )
    conv = layers[0]
    if _single(conv.stride) != 1:
        raise ParameterError(
            f"{where} has a strided convolution (stride {conv.stride}): sonification needs stride-1 convolutions "
            "with max pooling as the only downsampling (strided ones distort sonifications, paper sec. 3.2)"
        )
    if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ParameterError(
            f"{where}: the convolution needs groups=1, zero padding and an integer padding, got groups={conv.groups}, "
            f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}"
        )
    if len(layers) == 3:
        pool = layers[2]
        if not isinstance(pool, nn.MaxPool1d) or _single(pool.dilation) != 1 or pool.ceil_mode:
            raise ParameterError(
                f"{where} ends with {kinds[2]}; only MaxPool1d (dilation 1, floor mode) can be undone (max-unpooling)"
            )
        size = _single(pool.kernel_size)
        stride = _single(pool.stride) if pool.stride is not None else size
        return ConvBlock(conv.weight, conv.bias, _single(conv.padding), _single(conv.dilation), size, stride,
                         _single(pool.padding))  # fmt: skip
    return ConvBlock(conv.weight, conv.bias, _single(conv.padding), _single(conv.dilation))


def _deconv_one(
    x: torch.Tensor, specs: list[ConvBlock], maps: torch.Tensor, records: list, feature_map: int
) -> torch.Tensor:
    """Pseudo-code B.2 after the forward pass: every map but ``feature_map`` zeroed, deconvnet, scaled to ``x``."""
    masked = torch.zeros_like(maps)
    masked[:, feature_map] = maps[:, feature_map]
    return scale_like(deconvnet(masked, specs, records), x)


class Sonifier:
    """Deconvnet sonification of a raw-waveform CNN's feature maps (see the module doc).

    Args:
        model: The network; its ``blocks`` attribute is used unless ``blocks`` is given.
        blocks: The blocks, first to last (default ``model.blocks``).

    Raises:
        ParameterError: No blocks, or a block that is not ``Conv1d -> ReLU -> [MaxPool1d]``
            (the reason is named: strides, normalisation, other modules).
    """

    def __init__(self, model: nn.Module, blocks: Any = None) -> None:
        blocks = getattr(model, "blocks", None) if blocks is None else blocks
        if blocks is None or len(blocks) == 0:
            raise ParameterError(
                f"{type(model).__name__} has no `blocks` of Conv1d -> ReLU -> [MaxPool1d]; give them as blocks=..."
            )
        self.model, self.blocks = model, list(blocks)
        for k, block in enumerate(self.blocks, start=1):
            _block_spec(k, block)  # refuse early, with the reason

    @property
    def n_layers(self) -> int:
        """Number of blocks (layers ``1..n_layers``)."""
        return len(self.blocks)

    def n_maps(self, layer: int) -> int:
        """Feature maps of block ``layer`` (1-based)."""
        return int(self._specs(layer)[-1].weight.shape[0])

    def _specs(self, layer: int) -> list[ConvBlock]:
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= len(self.blocks):
            raise ParameterError(
                f"layer must be a block index in 1..{len(self.blocks)} (1-based, as the paper), got {layer!r}"
            )
        return [_block_spec(k, block) for k, block in enumerate(self.blocks[:layer], start=1)]

    def _batch(self, waveform: Any) -> torch.Tensor:
        ref = self._specs(1)[0].weight
        x = torch.as_tensor(waveform)
        if x.dim() not in (1, 2) or not x.is_floating_point() or x.shape[-1] == 0:
            raise ParameterError(
                f"waveform must be float (n_samples,) or (batch, n_samples) at the model's rate, got "
                f"{tuple(x.shape)} {x.dtype}"
            )
        return x.reshape(1, -1).to(ref) if x.dim() == 1 else x.to(ref)

    def _check_map(self, layer: int, feature_map: int) -> None:
        n = self.n_maps(layer)
        if isinstance(feature_map, bool) or not isinstance(feature_map, int) or not 0 <= feature_map < n:
            raise ParameterError(f"feature_map must be in 0..{n - 1} (0-based) for layer {layer}, got {feature_map!r}")

    @torch.no_grad()
    def maps(self, waveform: Any, layer: int) -> torch.Tensor:
        """Block ``layer``'s feature maps ``(batch, n_maps, n_frames)`` of ``(batch, n_samples)`` waveforms."""
        return forward_blocks(self._batch(waveform), self._specs(layer))[0]

    def activations(self, waveform: Any, layer: int) -> torch.Tensor:
        """Each map's activation ``(batch, n_maps)``: its maximum over time (the most active map is the argmax)."""
        return self.maps(waveform, layer).amax(dim=-1)

    @torch.no_grad()
    def sonify(self, waveform: Any, layer: int, feature_map: int) -> torch.Tensor:
        """Sonification of one map, as the paper's pseudo-code B.2 (every other map zeroed, one deconvnet pass).

        Args:
            waveform: ``(n_samples,)`` or ``(batch, n_samples)`` at the model's rate (unit peak
                as the model was trained).
            layer: Block index ``1..n_layers``.
            feature_map: Map index ``0..n_maps(layer) - 1``.

        Returns:
            The input's shape: the sonification scaled to each input's ``max |x|`` (zeros where
            the map is silent).

        Raises:
            ParameterError: A layer or map out of range, a bad waveform shape.
        """
        x = self._batch(waveform)
        specs = self._specs(layer)
        self._check_map(layer, feature_map)
        maps, records = forward_blocks(x, specs)
        return _deconv_one(x, specs, maps, records, feature_map).reshape(torch.as_tensor(waveform).shape)

    @torch.no_grad()
    def _most_active(self, waveform: Any, layer: int, other: int | None = None) -> tuple[int, list[torch.Tensor]]:
        """The most active map of one waveform, its sonification ``(n_samples,)`` and ``other``'s.

        One forward pass does what :meth:`activations` then :meth:`sonify` do with two.
        """
        x = self._batch(waveform)
        specs = self._specs(layer)
        maps, records = forward_blocks(x, specs)
        most_active = int(maps[0].amax(dim=-1).argmax())
        wanted = [most_active] if other is None else [most_active, other]
        return most_active, [_deconv_one(x, specs, maps, records, k)[0] for k in wanted]

    @torch.no_grad()
    def sonify_all(self, waveform: Any, layer: int, feature_maps: Any = None, *, chunk_size: int = 16) -> torch.Tensor:
        """Sonifications of every map (or ``feature_maps``) of block ``layer`` for one waveform, batched.

        Equal to :meth:`sonify` map by map (tested); ``chunk_size`` maps go through each pass, so
        memory stays bounded for 512 maps.

        Returns:
            ``(n_maps, n_samples)``.

        Raises:
            ParameterError: As :meth:`sonify`, or more than one waveform.
        """
        x = self._batch(waveform)
        specs = self._specs(layer)
        if x.shape[0] != 1:
            raise ParameterError(f"sonify_all takes one waveform, got a batch of {x.shape[0]}")
        maps = torch.arange(self.n_maps(layer)) if feature_maps is None else torch.as_tensor(feature_maps)
        return sonify_maps(x, specs, maps, chunk_size=chunk_size)


# ---------------------------------------------------------------------------------------------
# Analyses (paper sec. 4): maximally activating inputs, coherence per layer, removal per layer.
# ---------------------------------------------------------------------------------------------


def mean_top_coherence(x: Any, s: Any, sample_rate: int, k: int = 5, nperseg: int = 256) -> float:
    """Mean of the ``k`` largest magnitude-squared coherence values between ``x`` and ``s`` (paper eq. 2-3).

    ``C_xs(f) = |P_xs(f)|^2 / (P_xx(f) P_ss(f))`` by Welch's method (``scipy.signal.coherence``,
    Hann windows of ``nperseg`` samples, 50 % overlap); 0 when ``s`` is silent.

    Args:
        x: ``(n_samples,)`` input.
        s: ``(n_samples,)`` sonification.
        sample_rate: Their rate in Hz.
        k: How many of the most coherent frequencies to average (paper: 5).
        nperseg: Welch segment length in samples.

    Returns:
        A value in [0, 1].
    """
    from scipy.signal import coherence

    x = torch.as_tensor(x).detach().double().cpu().numpy().reshape(-1)
    s = torch.as_tensor(s).detach().double().cpu().numpy().reshape(-1)
    if not abs(s).max() > 0 or not abs(x).max() > 0:
        return 0.0
    _, values = coherence(x, s, fs=sample_rate, nperseg=min(nperseg, len(x)))
    values = values[~np.isnan(values)]
    return float(np.sort(values)[-k:].mean()) if values.size else 0.0


def _mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95 % t-interval."""
    from scipy import stats

    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    if len(array) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / np.sqrt(len(array)))
    return mean, mean - half, mean + half


def layer_coherence(
    sonifier: Sonifier, waveforms: Sequence[Any], sample_rate: int, layers: Sequence[int] | None = None, k: int = 5
) -> list[dict[str, float]]:
    """Mean top-``k`` coherence between each input and the sonification of its most active map, per layer.

    Paper eq. 3 and figure 7, with a 95 % t-interval over the inputs.

    Returns:
        One row per layer: ``layer``, ``mean_top5_coherence`` (the name keeps 5 whatever ``k``
        is: it is the paper's measure), ``ci_low``, ``ci_high``, ``n``.
    """
    rows = []
    for layer in layers or range(1, sonifier.n_layers + 1):
        values = []
        for waveform in waveforms:
            _, (sonification,) = sonifier._most_active(waveform, layer)
            values.append(mean_top_coherence(waveform, sonification, sample_rate, k))
        mean, low, high = _mean_ci(values)
        rows.append({"layer": layer, "mean_top5_coherence": mean, "ci_low": low, "ci_high": high, "n": len(values)})
    return rows


def top_activating(
    sonifier: Sonifier, waveforms: Sequence[Any], layer: int, k: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` inputs that activate each map of ``layer`` most (activation: the map's maximum over time).

    Returns:
        ``(indices, activations)``, both ``(n_maps, k)``: positions in ``waveforms``, best first.
    """
    table = torch.stack([sonifier.activations(w, layer)[0] for w in waveforms], dim=1)  # (n_maps, n_inputs)
    values, indices = table.topk(min(k, table.shape[1]), dim=1)
    return indices, values


def removal_experiment(
    sonifier: Sonifier,
    classify: Callable[[torch.Tensor], torch.Tensor],
    waveforms: Sequence[Any],
    targets: Sequence[int],
    layers: Sequence[int] | None = None,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Accuracy after removing each input's most active sonification, per layer (paper sec. 4.1, figure 6).

    For every input ``x`` and layer: the residual ``r = x - s`` where ``s`` sonifies the layer's
    most active map of ``x``; and two controls that make the drop attributable: ``x - s'`` with
    ``s'`` the sonification of a map drawn at random (seeded), and ``x - n`` with Gaussian noise
    ``n`` of the same energy as ``s``.

    Args:
        sonifier: The model's :class:`Sonifier`.
        classify: Logits ``(1, n_classes)`` of a waveform ``(1, n_samples)`` (the model with its
            input pipeline, e.g. a classification task's ``forward``; with ``cnn12``'s pipeline
            the residuals are scaled back to unit peak, as a recording of them would be).
        waveforms: ``(n_samples,)`` inputs at the model's rate.
        targets: Their class indices.
        layers: Layers (default all).
        seed: Seed of the random maps and the noise.

    Returns:
        One row per layer: ``layer``, ``metric`` (accuracy on the residuals),
        ``random_map_control``, ``noise_control``, ``baseline`` (accuracy on the inputs), ``n``.
    """
    generator = torch.Generator().manual_seed(seed)
    targets = [int(t) for t in targets]

    def accuracy(signals: list[torch.Tensor]) -> float:
        with torch.no_grad():
            hits = [int(classify(s.reshape(1, -1)).argmax(dim=-1)[0]) == t for s, t in zip(signals, targets)]
        return float(np.mean(hits))

    inputs = [torch.as_tensor(w).float().reshape(-1) for w in waveforms]
    baseline = accuracy(inputs)
    rows = []
    for layer in layers or range(1, sonifier.n_layers + 1):
        removed, random_map, noise = [], [], []
        n_maps = sonifier.n_maps(layer)
        for x in inputs:
            other = int(torch.randint(n_maps, (1,), generator=generator))
            _, (s, s_other) = sonifier._most_active(x, layer, other)
            gaussian = torch.randn(x.shape, generator=generator)
            gaussian = gaussian * (s.norm() / gaussian.norm().clamp_min(1e-12))
            removed.append(x - s)
            random_map.append(x - s_other)
            noise.append(x - gaussian)
        rows.append({
            "layer": layer, "metric": accuracy(removed), "random_map_control": accuracy(random_map),
            "noise_control": accuracy(noise), "baseline": baseline, "n": len(inputs),
        })  # fmt: skip
    return rows
