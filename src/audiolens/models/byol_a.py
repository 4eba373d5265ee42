"""BYOL-A's AudioNTT encoder, the convolutional encoder of Audio Barlow Twins.

``audiontt`` is BYOL-A v2's ``AudioNTT2022`` (Niizumi et al. 2022; nttcslab/byol-a
``v2/byol_a2/models.py``), which ABT pre-trains (Anton et al. 2023, sec. 3.3; 6.33 M parameters):

1. two blocks ``Conv2d(3x3, padding 1) -> BatchNorm2d -> ReLU -> MaxPool2d(2)``, 1 -> 64 -> 64
   channels, on the ``(batch, 1, n_mels, n_frames)`` log-Mel;
2. the ``(batch, 64, n_mels / 4, n_frames / 4)`` map becomes one 1024-d vector per frame
   (``64 * n_mels / 4``; index ``mel * 64 + channel``);
3. an MLP ``Linear(1024, 2048) -> ReLU -> Dropout(0.3) -> Linear(2048, 2048) -> ReLU`` per
   frame, concatenated with its input: 3072-d frame features;
4. temporal pooling: the max over frames **plus** the mean over frames -> ``(batch, 3072)``.

``forward_frames`` returns the 3072-d features per frame (4 input frames each; BYOL-A's
``AudioNTT2022Encoder``, which the EVAR wrapper pools). :mod:`audiolens.hear`'s timestamp
embeddings are instead the pooled embeddings of 0.95 s windows every 50 ms, as ABT's HEAR wrapper
computes them.

``num_classes=0`` (the default) gives the encoder alone, as timm: ``forward`` returns the
embedding; with classes, a linear ``classifier`` follows (a linear probe or fine-tuning head).
"""

from __future__ import annotations

import torch
from torch import nn

from audiolens._internal.checks import positive_int, probability
from audiolens._internal.errors import ParameterError
from audiolens.models._registry import LinearHead, check_logmel_input, linear_head, register_model

__all__ = ["AudioNTT", "audiontt"]


class AudioNTT(LinearHead, nn.Module):
    """BYOL-A v2's AudioNTT2022 encoder (see the module doc).

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel, ``n_frames >= 4``
        - :meth:`forward_frames`: ``(batch, n_frames // 4, embed_dim)``
        - :meth:`forward_features`: ``(batch, embed_dim)``, ``embed_dim = 64 n_mels / 4 + mlp_dim`` (3072)
        - output: ``(batch, num_classes)`` logits, or the embedding when ``num_classes == 0``

    Args:
        num_classes: Classifier outputs; 0 for none (the encoder).
        n_mels: Mel bins, a multiple of 4 (64).
        channels: Convolution channels (64).
        mlp_dim: Width of the frame MLP (2048).
        dropout: Dropout inside the frame MLP (0.3).

    Raises:
        ParameterError: Sizes out of range.
    """

    input_kind = "logmel"
    min_frames = 4
    accepts_no_head = True

    def __init__(
        self, *, num_classes: int = 0, n_mels: int = 64, channels: int = 64, mlp_dim: int = 2048, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.n_mels = positive_int("n_mels", n_mels)
        if n_mels % 4:
            raise ParameterError(f"AudioNTT pools the mel axis by 4: n_mels must be a multiple of 4, got {n_mels}")
        channels, mlp_dim = positive_int("channels", channels), positive_int("mlp_dim", mlp_dim)
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        conv_dim = channels * (n_mels // 4)
        self.fc = nn.Sequential(
            nn.Linear(conv_dim, mlp_dim),
            nn.ReLU(),
            nn.Dropout(probability("dropout", dropout)),
            nn.Linear(mlp_dim, mlp_dim),
            nn.ReLU(),
        )
        self.embed_dim = conv_dim + mlp_dim
        self.num_classes = num_classes
        self.classifier = linear_head(self.embed_dim, num_classes)

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        """Frame features ``(batch, n_frames // 4, embed_dim)`` of log-Mel ``(batch, n_mels, n_frames)``.

        Raises:
            ParameterError: ``x`` is not ``(batch, n_mels, n_frames >= 4)`` floating log-Mel.
        """
        check_logmel_input(x, n_mels=self.n_mels, min_frames=self.min_frames, model="AudioNTT")
        maps = self.features(x.unsqueeze(1))  # (B, C, F/4, T/4)
        frames = maps.permute(0, 3, 2, 1).flatten(2)  # (B, T/4, F/4 * C), index mel * C + channel
        return torch.cat([frames, self.fc(frames)], dim=-1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The clip embedding ``(batch, embed_dim)``: max plus mean of the frame features over time."""
        frames = self.forward_frames(x)
        return frames.max(dim=1).values + frames.mean(dim=1)


@register_model(default_cfg={"input_kind": "logmel", "n_mels": 64, "sample_rate": 16000, "preset": "abt"})
def audiontt(
    *, num_classes: int = 0, n_mels: int = 64, channels: int = 64, mlp_dim: int = 2048, dropout: float = 0.3
) -> AudioNTT:
    """BYOL-A v2 / ABT AudioNTT2022 encoder, 3072-d (6.33 M parameters).

    Args:
        num_classes: Classifier outputs; 0 (default) for the encoder alone.
        n_mels: Mel bins (a multiple of 4).
        channels: Convolution channels.
        mlp_dim: Width of the frame MLP.
        dropout: Dropout inside the frame MLP.

    Returns:
        An :class:`AudioNTT`.
    """
    return AudioNTT(num_classes=num_classes, n_mels=n_mels, channels=channels, mlp_dim=mlp_dim, dropout=dropout)
