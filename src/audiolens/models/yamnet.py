"""YAMNet: Google's MobileNetV1 AudioSet classifier (521 classes) on 0.96 s log-Mel patches.

Port of tensorflow/models ``research/audioset/yamnet`` (``yamnet.py``), with the parameter names
of the PyTorch conversion w-hc/torch_audioset (``layer1.fused.{conv,bn}``,
``layerK.{depthwise_conv,pointwise_conv}.{conv,bn}``, ``classifier``), so its converted
``yamnet.pth`` and our ``audiolens models convert yamnet yamnet.h5`` output load with
``strict=True``:

- a 3x3 stride-2 convolution (32 channels), then 13 depthwise-separable layers (3x3 depthwise,
  1x1 pointwise; 64, 128, 128, 256, 256, 512 x 6, 1024, 1024 channels; stride 2 at layers 3,
  5, 7 and 13), each convolution followed by BatchNorm and ReLU;
- TensorFlow "SAME" padding (:func:`tf_same_pad`: the extra row/column of an odd padding goes
  at the end, unlike PyTorch's symmetric padding);
- BatchNorm with ``eps = 1e-4``, a centre (bias) and no scale: the weight is fixed at 1 and not
  trained (Keras ``scale=False``);
- global average pooling, a dense layer of 521 logits; ``torch.sigmoid`` gives YAMNet's scores.

The front-end (16 kHz, 25 ms windows, hop 10 ms, 64 HTK Mel bands 125-7500 Hz, ``log(x +
0.001)``) is the ``yamnet`` log-Mel preset, outside the model; the input is a log-Mel batch
``(batch, n_mels=64, n_frames)`` (YAMNet's patches have 96 frames).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import DataError
from audiolens._internal.optional import optional_import
from audiolens.models._registry import check_logmel_input, register_converter, register_model

__all__ = ["YAMNet", "convert_keras_weights", "tf_same_pad", "yamnet"]

#: (kind, stride, output channels) of the 14 layers (yamnet.py ``_YAMNET_LAYER_DEFS``).
_LAYERS = [("conv", 2, 32)] + [
    ("separable", s, c)
    for s, c in [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] + [(1, 512)] * 5 + [(2, 1024), (1, 1024)]
]


def tf_same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Pad the last two axes of ``x`` as TensorFlow's ``padding="SAME"``: extra row/column at the end.

    Output size ``ceil(n / stride)``; total padding ``max(0, (ceil(n / stride) - 1) * stride +
    kernel - n)``, ``total // 2`` before and the rest after.
    """
    pads = []
    for n in (x.shape[-1], x.shape[-2]):
        total = max(0, (math.ceil(n / stride) - 1) * stride + kernel - n)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _ConvBN(nn.Module):
    """Convolution (TF "SAME"), BatchNorm (eps 1e-4, scale fixed at 1), ReLU: ``conv`` and ``bn``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, groups: int = 1) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-4)
        self.bn.weight.requires_grad_(False)  # Keras BatchNormalization(scale=False): gamma is 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(tf_same_pad(x, self.kernel, self.stride))))


class _Conv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.fused = _ConvBN(in_channels, out_channels, 3, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fused(x)


class _Separable(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise_conv = _ConvBN(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise_conv = _ConvBN(in_channels, out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class YAMNet(nn.Module):
    """YAMNet (see the module doc): 3,751,369 parameters as Keras counts them (3,729,481 trainable).

    Keras counts convolution and dense weights, and BatchNorm's beta, moving mean and moving
    variance (no gamma); ``sum(p.numel() for p in model.parameters())`` counts the fixed gamma
    instead of the moving statistics: 3,740,425.

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel (``yamnet`` preset; 64 x 96 patches)
        - :meth:`forward_features`: ``(batch, 1024)``
        - output: ``(batch, num_classes)`` logits

    Args:
        num_classes: Output logits (521 YAMNet classes).
        n_mels: Mel bins of the input.

    Raises:
        ParameterError: A bad argument or input shape.
    """

    input_kind = "logmel"

    def __init__(self, *, num_classes: int = 521, n_mels: int = 64) -> None:
        super().__init__()
        self.num_classes = positive_int("num_classes", num_classes)
        self.n_mels = positive_int("n_mels", n_mels)
        self.min_frames = 1
        in_channels = 1
        for i, (kind, stride, channels) in enumerate(_LAYERS, start=1):
            layer = (
                _Conv(in_channels, channels, stride) if kind == "conv" else _Separable(in_channels, channels, stride)
            )
            self.add_module(f"layer{i}", layer)
            in_channels = channels
        self.embed_dim = in_channels
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The 1024-d embedding (global average of the last layer).

        Raises:
            ParameterError: If ``x`` is not ``(batch, n_mels, n_frames)``.
        """
        check_logmel_input(x, n_mels=self.n_mels, min_frames=self.min_frames, model="YAMNet")
        x = x.transpose(1, 2).unsqueeze(1)  # (B, 1, frames, mels), YAMNet's patch layout
        for i in range(1, len(_LAYERS) + 1):
            x = getattr(self, f"layer{i}")(x)
        return x.mean(dim=(2, 3))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from the embedding."""
        return self.classifier(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` (``torch.sigmoid`` for YAMNet's scores)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final ``nn.Linear``."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a freshly initialised ``1024 -> num_classes`` layer."""
        self.num_classes = positive_int("num_classes", num_classes)
        ref = self.classifier.weight
        self.classifier = nn.Linear(self.embed_dim, num_classes, device=ref.device, dtype=ref.dtype)


@register_model(
    default_cfg={
        "input_kind": "logmel",
        "preset": "yamnet",
        "num_classes": 521,
        # the transcoder authors' hybrid-loss k_logit / p for a YAMNet teacher (1500 for PANN, the default)
        "transcoder_logit_scale": 10.0,
        "source": "tensorflow/models research/audioset/yamnet; keys of w-hc/torch_audioset",
    }
)
def yamnet(*, num_classes: int = 521, n_mels: int = 64) -> YAMNet:
    """YAMNet (MobileNetV1, 521 AudioSet classes); see :mod:`audiolens.models.yamnet`.

    Args:
        num_classes: Output logits.
        n_mels: Mel bins of the input.
    """
    return YAMNet(num_classes=num_classes, n_mels=n_mels)


def _keras_names() -> list[tuple[str, str, str]]:
    """``(keras dataset path, our key, kind)`` for every weight of the official ``yamnet.h5``."""
    names = []
    for i, (kind, _, _) in enumerate(_LAYERS, start=1):
        convs = [("conv", "fused", "kernel")] if kind == "conv" else [
            ("depthwise_conv", "depthwise_conv", "depthwise_kernel"),
            ("pointwise_conv", "pointwise_conv", "kernel"),
        ]  # fmt: skip
        for keras, ours, kernel in convs:
            base = f"layer{i}/{keras}"
            names.append((f"{base}/{base}/{kernel}:0", f"layer{i}.{ours}.conv.weight", kernel))
            for keras_bn, ours_bn in (
                ("beta", "bias"),
                ("moving_mean", "running_mean"),
                ("moving_variance", "running_var"),
            ):
                names.append((f"{base}/bn/{base}/bn/{keras_bn}:0", f"layer{i}.{ours}.bn.{ours_bn}", "bn"))
    names += [
        ("logits/logits/kernel:0", "classifier.weight", "dense"),
        ("logits/logits/bias:0", "classifier.bias", "bn"),
    ]
    return names


@register_converter("yamnet")
def convert_keras_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Convert the official Keras ``yamnet.h5`` into a state dict of :class:`YAMNet` (loads with ``strict=True``).

    Kernels are transposed from Keras' ``(kh, kw, in, out)`` (depthwise ``(kh, kw, in, 1)``,
    dense ``(in, out)``) to PyTorch's layouts; BatchNorm's beta, moving mean and variance become
    ``bias``, ``running_mean`` and ``running_var``, its absent scale a weight of ones.
    Needs ``h5py`` (``pip install audiolens[weights]``).

    Raises:
        DataError: A missing file, or a weight the file lacks (named).
    """
    h5py = optional_import("h5py", "weights", "converting Keras weight files")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (the official yamnet.h5 of tensorflow/models research/audioset/yamnet)")
    state: dict[str, torch.Tensor] = {}
    with h5py.File(path, "r") as handle:
        for keras, ours, kind in _keras_names():
            if keras not in handle:
                raise DataError(f"{path}: weight {keras!r} (for {ours}) not found; is this the official yamnet.h5?")
            value = np.asarray(handle[keras])
            if kind == "kernel":
                value = value.transpose(3, 2, 0, 1)
            elif kind == "depthwise_kernel":
                value = value.transpose(2, 3, 0, 1)
            elif kind == "dense":
                value = value.T
            state[ours] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
            if ours.endswith("bn.bias"):
                state[ours.replace("bias", "weight")] = torch.ones_like(state[ours])
            if ours.endswith("bn.running_var"):
                state[ours.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    return state
