"""CAT, the Causal Audio Transformer, and an AST-style baseline with the same parts switchable.

Liu et al. 2023, "CAT: Causal Audio Transformer for Audio Classification"; our reading of the
underspecified parts is ``../shared/design/cat.md``. One class, :class:`AudioTransformer`,
holds both, so that the ablations of table II change one switch at a time:

==============  ==================  ======================  ===============  ==============
model           input               attention               stages           causal module
==============  ==================  ======================  ===============  ==============
``ast_*``       ``logmel``/``mrmf``  global, all tokens     one (ViT)        ``causal`` switch
``cat_*``       ``mrmf``            acoustic: filter split,  Swin hierarchy   on by default
                                    shifted windows
==============  ==================  ======================  ===============  ==============

Pipeline (:class:`AudioTransformer`):

1. Input normalisation: a ``BatchNorm`` without affine parameters over every (filter,
   resolution, bin) row (PANN's ``bn0``; parameter-free, so the reconstruction target below
   cannot be shrunk by the model).
2. Patching (III-A): :class:`~audiolens.layers.PatchEmbed`. ``patch_bins=None`` takes whole
   spectrogram columns for MRMF input (the paper's ``1 x K x F x 1`` window, split by
   resolution) and 16-bin patches for a single log-Mel map (AST's 2-D patches, non-overlapping).
3. 3-D positional embedding (eq. 3): :class:`~audiolens.layers.AcousticPositionalEmbedding`.
4. Stages of :class:`~audiolens.layers.TransformerBlock` with
   :class:`~audiolens.layers.AcousticAttention` (``kernel: global|swin``, ``filter_split``),
   :class:`~audiolens.layers.TimeMerge` between stages (Swin's hierarchy along time).
5. Final ``LayerNorm``, mean over all tokens: the representation ``z`` (:meth:`forward_features`,
   ``(batch, embed_dim)``); dropout and a linear ``classifier``.
6. Causal module (III-B), with ``causal=True``: a reconstruction block ``Phi`` (a per-token MLP
   with one output projection per filter) maps the last stage's tokens back to the normalised
   input patches, ``l_rs`` (eq. 7). This departs from the paper's letter, which reconstructs X
   from the same Z that feeds the classifier: a pooled ``(batch, embed_dim)`` vector cannot
   reconstruct a whole spectrogram, so ``Phi`` reads the tokens that ``z`` is the mean of;
   the PNS loss uses ``z`` itself: the PNS causal loss ``l_c`` (eq. 8-9) on ``z`` through the
   linear classifier (:func:`~audiolens.functional.causal_loss`). ``forward(x, target)``
   returns ``(logits, {"reconstruction": l_rs, "causal": l_c})``, the engine's auxiliary-loss
   contract; ``task.loss_weights`` weights them (eq. 10 with weights 1 and 1). The model
   declares ``uses_targets = True``, so the classification task passes the (mixup-)soft
   targets. Without targets in eval mode it returns logits only; a one-sample batch has no
   counterfactual and gives ``l_c = 0``.

ImageNet / AudioSet initial weights cannot be downloaded here: ``model.init_checkpoint`` loads
a local file through :func:`checkpoint_filter_fn`, which adapts what a user meets (a classifier
for other classes, another number of bins or resolutions) and reports each adaptation.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int, probability
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.functional.causal import causal_loss, counterfactual_values, reconstruction_loss
from audiolens.layers.acoustic import (
    AcousticPositionalEmbedding,
    PatchEmbed,
    TimeMerge,
    TransformerBlock,
    unpatchify,
)
from audiolens.models._registry import register_model

__all__ = ["AudioTransformer", "ast_small", "ast_tiny", "cat_base", "cat_small", "cat_tiny", "checkpoint_filter_fn"]

KERNELS = ("global", "swin")


class AudioTransformer(nn.Module):
    """Spectrogram transformer: CAT and its AST-style baseline (see the module doc).

    Shapes:
        - input: MRMF ``(batch, n_filters, n_resolutions, n_bins, n_frames)``, or a log-Mel map
          ``(batch, n_bins, n_frames)`` when ``input_kind == "logmel"``
        - :meth:`forward_features`: ``(batch, embed_dim)``
        - output: logits ``(batch, num_classes)``, or ``(logits, {"reconstruction", "causal"})``
          with the causal module while training or given targets

    Args:
        num_classes: Output logits.
        input_kind: ``"mrmf"`` or ``"logmel"`` (one filter, one resolution).
        n_bins: Frequency bins of the input.
        n_resolutions: K (MRMF), 1 for log-Mel.
        n_filters: G (MRMF: 2, Mel and linear), 1 for log-Mel.
        embed_dim: Token size of the first stage; it doubles at every merge.
        depths: Blocks per stage.
        num_heads: Heads per stage (multiples of ``n_filters`` with ``filter_split``).
        kernel: ``"global"`` or ``"swin"`` attention.
        window: Swin window in time patches (shifted by half in every second block).
        filter_split: Separate heads per filter (acoustic attention).
        causal: Add the causal module (reconstruction + PNS losses).
        patch_frames: Frames per patch.
        patch_bins: Bins per patch (``None``: see the module doc).
        mlp_ratio: MLP hidden size over the token size.
        dropout: Dropout in the blocks.
        head_dropout: Dropout before the classifier.
        causal_eps: Clamp of the PNS bound before the log.
        name: Model name for messages.

    Raises:
        ParameterError: Inconsistent sizes, an unknown kernel or input kind.
    """

    uses_targets = True

    def __init__(
        self,
        *,
        num_classes: int = 50,
        input_kind: str = "mrmf",
        n_bins: int = 64,
        n_resolutions: int = 3,
        n_filters: int = 2,
        embed_dim: int = 64,
        depths: Sequence[int] = (2, 2),
        num_heads: Sequence[int] = (4, 8),
        kernel: str = "swin",
        window: int = 4,
        filter_split: bool = True,
        causal: bool = True,
        patch_frames: int = 4,
        patch_bins: int | None = None,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        head_dropout: float = 0.1,
        causal_eps: float = 1e-4,
        name: str = "AudioTransformer",
    ) -> None:
        super().__init__()
        self.name = name
        if input_kind not in ("mrmf", "logmel"):
            raise unknown_choice("input_kind", input_kind, ("mrmf", "logmel"))
        if kernel not in KERNELS:
            raise unknown_choice("kernel", kernel, KERNELS)
        self.input_kind = input_kind
        self.num_classes = positive_int("num_classes", num_classes)
        self.n_bins = positive_int("n_bins", n_bins)
        self.n_resolutions = positive_int("n_resolutions", n_resolutions)
        self.n_filters = positive_int("n_filters", n_filters)
        if input_kind == "logmel" and (n_resolutions, n_filters) != (1, 1):
            raise ParameterError(f"{name}: a log-Mel input has one filter and one resolution")
        depths, num_heads = tuple(depths), tuple(num_heads)
        if not depths or len(depths) != len(num_heads):
            raise ParameterError(f"{name}: depths {depths} and num_heads {num_heads} need one entry per stage")
        if patch_bins is None:
            patch_bins = n_bins if input_kind == "mrmf" else min(16, n_bins)
        self.patch_frames = positive_int("patch_frames", patch_frames)
        self.patch_bins = positive_int("patch_bins", patch_bins)
        self.kernel, self.window = kernel, positive_int("window", window)
        self.filter_split, self.causal = bool(filter_split) and n_filters > 1, bool(causal)
        self.causal_eps = float(causal_eps)
        self.head_dropout = probability("head_dropout", head_dropout)
        self.n_merges = len(depths) - 1
        dims = [positive_int("embed_dim", embed_dim) * 2**s for s in range(len(depths))]
        if embed_dim % 2:
            raise ParameterError(f"{name}: embed_dim must be even (sinusoidal embeddings), got {embed_dim}")
        self.embed_dim = dims[-1]

        self.bn0 = nn.BatchNorm1d(n_filters * n_resolutions * n_bins, affine=False)
        self.patch_embed = PatchEmbed(n_filters, n_bins, self.patch_frames, self.patch_bins, embed_dim)
        self.pos_embed = AcousticPositionalEmbedding(embed_dim, n_resolutions)
        self.stages = nn.ModuleList()
        self.merges = nn.ModuleList()
        for s, (depth, heads) in enumerate(zip(depths, num_heads, strict=True)):
            blocks = []
            for i in range(positive_int("depths", depth)):
                swin = kernel == "swin"
                blocks.append(
                    TransformerBlock(
                        dims[s],
                        heads,
                        n_filters,
                        filter_split=filter_split,
                        window=self.window if swin else None,
                        shift=self.window // 2 if swin and i % 2 else 0,
                        mlp_ratio=mlp_ratio,
                        dropout=dropout,
                    )
                )
            self.stages.append(nn.Sequential(*blocks))
            if s < self.n_merges:
                self.merges.append(TimeMerge(dims[s], dims[s + 1]))
        self.norm = nn.LayerNorm(self.embed_dim)
        self.classifier = nn.Linear(self.embed_dim, num_classes)
        if self.causal:
            self.decoder_frames = self.patch_frames * 2**self.n_merges
            out = self.patch_bins * self.decoder_frames
            self.decoder = nn.Sequential(nn.Linear(self.embed_dim, self.embed_dim), nn.GELU())
            self.decoder_weight = nn.Parameter(torch.empty(n_filters, self.embed_dim, out))
            self.decoder_bias = nn.Parameter(torch.zeros(n_filters, out))
            nn.init.trunc_normal_(self.decoder_weight, std=0.02)
        self.apply(_init_weights)

    # -- input ------------------------------------------------------------------------------
    def _grid(self, x: Any) -> torch.Tensor:
        """Check ``x`` and return it as ``(batch, G, K, n_bins, n_frames)``."""
        if self.input_kind == "logmel":
            expected = f"{self.name} expected log-Mel input (batch, n_mels={self.n_bins}, n_frames)"
            ok = isinstance(x, torch.Tensor) and x.dim() == 3 and x.shape[1] == self.n_bins
            if ok:
                x = x[:, None, None]
        else:
            expected = (
                f"{self.name} expected MRMF input (batch, n_filters={self.n_filters}, K={self.n_resolutions}, "
                f"n_bins={self.n_bins}, n_frames) from features.type: mrmf"
            )
            ok = isinstance(x, torch.Tensor) and tuple(x.shape[1:4]) == (
                self.n_filters,
                self.n_resolutions,
                self.n_bins,
            )
            ok = ok and x.dim() == 5
        if not ok:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ParameterError(f"{expected}, got {got}")
        if not x.is_floating_point():
            raise ParameterError(f"{expected} as a floating tensor, got dtype {x.dtype}")
        return x

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens of the last stage (B, G, K, T', P, embed_dim), normalised input (B, G, K, F, T))``."""
        x = self._grid(x)
        b, g, k, f, t = x.shape
        x = self.bn0(x.reshape(b, g * k * f, t)).reshape(b, g, k, f, t)
        tokens = self.patch_embed(x)
        tokens = tokens + self.pos_embed(tokens.shape[3], tokens.shape[4])[None, None]
        for s, stage in enumerate(self.stages):
            tokens = stage(tokens)
            if s < self.n_merges:
                tokens = self.merges[s](tokens)
        return self.norm(tokens), x

    # -- uniform interface ----------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``z``: mean of the last stage's tokens, ``(batch, embed_dim)``.

        Raises:
            ParameterError: An input of the wrong shape or dtype (the message gives the expected one).
        """
        return self._encode(x)[0].mean(dim=(1, 2, 3, 4))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` from ``z`` (dropout, then ``classifier``)."""
        return self.classifier(F.dropout(features, p=self.head_dropout, training=self.training))

    def reconstruct(self, tokens: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``Phi(Z)``: the normalised input ``(batch, G, K, n_bins, n_frames)`` from the last stage's tokens."""
        hidden = self.decoder(tokens)
        patches = torch.einsum("bgktpc,gco->bgktpo", hidden, self.decoder_weight)
        patches = patches + self.decoder_bias[None, :, None, None, None]
        return unpatchify(patches, self.patch_bins, self.decoder_frames, n_frames)

    def forward(
        self, x: torch.Tensor, target: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits, plus the causal module's losses when it is on and training or given targets.

        Args:
            x: The input (see the class doc).
            target: ``(batch,)`` class indices or ``(batch, num_classes)`` soft targets, for the
                causal loss (without it, the model's own detached prediction is the target).

        Returns:
            ``logits`` or ``(logits, {"reconstruction": l_rs, "causal": l_c})``.

        Raises:
            ParameterError: An input of the wrong shape or dtype.
        """
        tokens, normalised = self._encode(x)
        z = tokens.mean(dim=(1, 2, 3, 4))
        logits = self.forward_head(z)
        if not self.causal or (target is None and not self.training):
            return logits
        l_rs = reconstruction_loss(self.reconstruct(tokens, normalised.shape[-1]), normalised.detach())
        y = target if target is not None else logits.detach().softmax(dim=-1)
        if z.shape[0] < 2:
            l_c = z.sum() * 0.0
        else:
            # Training draws the counterfactual pairing from the (per-step seeded) global RNG; evaluation
            # uses a fixed pairing, so validation losses are reproducible and comparable across epochs.
            generator = None if self.training else torch.Generator().manual_seed(0)
            cf = counterfactual_values(z, generator)
            l_c = causal_loss(
                z, self.classifier.weight, self.classifier.bias, y, counterfactual=cf, eps=self.causal_eps
            )
        return logits, {"reconstruction": l_rs, "causal": l_c}

    def get_classifier(self) -> nn.Module:
        """The final ``nn.Linear``."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a freshly initialised ``embed_dim -> num_classes`` layer."""
        self.num_classes = positive_int("num_classes", num_classes)
        ref = self.classifier.weight
        self.classifier = nn.Linear(self.embed_dim, num_classes, device=ref.device, dtype=ref.dtype)
        _init_weights(self.classifier)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _check_patch_layout(state: dict[str, torch.Tensor], model: nn.Module) -> None:
    """Refuse a file whose patches have another shape than the model's (they cannot be adapted).

    The file's bins per map come from its ``bn0`` statistics (filters x resolutions x bins rows),
    its resolutions from ``pos_embed.g.weight`` and its filters from ``patch_embed.weight``.
    """
    if "patch_embed.weight" not in state or not isinstance(model, AudioTransformer):
        return
    size = state["patch_embed.weight"].shape[1]
    whole = model.patch_bins == model.n_bins  # MRMF patches span every bin: the bin count may change
    expected = f"{model.patch_frames} frames x {'all' if whole else model.patch_bins} bins"
    fix = "set model.kwargs.patch_frames / patch_bins to the checkpoint's"
    if not whole:
        if size != model.patch_frames * model.patch_bins:
            raise ParameterError(
                f"model.init_checkpoint: its patches hold {size} values, the model's {expected}; {fix}"
            )
        return
    bins = None
    if "bn0.running_mean" in state and "pos_embed.g.weight" in state:
        g_weight = state["pos_embed.g.weight"]
        maps = state["patch_embed.weight"].shape[0] * (g_weight.shape[1] - g_weight.shape[0])
        rows = state["bn0.running_mean"].numel()
        bins = rows // maps if maps > 0 and rows % maps == 0 else None
    if (bins is not None and size != bins * model.patch_frames) or size % model.patch_frames:
        got = f"{size // bins} frames x {bins} bins" if bins and size % bins == 0 else f"{size} values"
        raise ParameterError(f"model.init_checkpoint: its patches are {got}, the model's {expected}; {fix}")


def checkpoint_filter_fn(state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """Adapt a checkpoint of another CAT / AST configuration to ``model`` (``model.init_checkpoint``).

    - ``classifier.*`` of another number of classes: dropped, the classifier stays freshly
      initialised ("replaced").
    - ``patch_embed.weight`` of whole-column patches with another number of bins: interpolated
      linearly along frequency and scaled by ``old / new`` bins, so a patch's projection of a
      constant spectrum is kept. Patches of another number of frames (or another 2-D patch
      size) cannot be adapted: a :class:`ParameterError` names ``model.kwargs.patch_frames``.
    - ``pos_embed.g.weight`` of another number of resolutions: the time part and the shared
      resolutions' one-hot columns are copied, new resolutions' columns stay initialised.
    - ``bn0.*`` statistics of another input size, and the reconstruction block of another patch
      size: dropped (re-estimated / re-learned).

    Returns:
        ``(state, {key: what was done})``; :func:`~audiolens.models.load_init_checkpoint`
        reports every entry and does not count a replaced key as missing.

    Raises:
        ParameterError: Patches of another shape (see above).
    """
    own = model.state_dict()
    state = dict(state)
    notes: dict[str, str] = {}
    _check_patch_layout(state, model)
    for key in list(state):
        if key not in own or state[key].shape == own[key].shape:
            continue
        old, new = tuple(state[key].shape), tuple(own[key].shape)
        if key.startswith("classifier."):
            del state[key]
            notes[key] = f"replaced: {old[0]} classes in the file, {new[0]} in the model"
        elif key == "patch_embed.weight" and old[0] == new[0] and old[2] == new[2]:
            frames = model.patch_frames  # equal in the file (checked above); patches are bin-major
            w = state[key].reshape(old[0], old[1] // frames, frames, old[2])
            bins = new[1] // frames
            w = F.interpolate(w.permute(0, 2, 3, 1).reshape(-1, 1, w.shape[1]), size=bins, mode="linear")
            w = w.reshape(old[0], frames, old[2], bins).permute(0, 3, 1, 2) * (old[1] / new[1])
            state[key] = w.reshape(new).contiguous()
            notes[key] = f"interpolated along frequency: {old[1] // frames} -> {bins} bins per patch"
        elif key == "pos_embed.g.weight" and old[0] == new[0]:
            dim = new[0]
            w = own[key].clone()
            shared = min(old[1], new[1]) - dim
            w[:, :dim] = state[key][:, :dim]
            w[:, dim : dim + shared] = state[key][:, dim : dim + shared]
            state[key] = w
            notes[key] = (
                f"resolutions {old[1] - dim} -> {new[1] - dim}: the time part and the first {shared} resolution "
                "column(s) copied by position (resolution k of the file onto resolution k of the model)"
            )
        elif key.startswith(("bn0.", "decoder")):
            del state[key]
            notes[key] = f"dropped ({old} in the file, {new} in the model): re-estimated in training"
    return state, notes


#: AST variants fix these (an AST is an isotropic ViT with global attention over all tokens).
_AST_FIXED = {"kernel": "global", "filter_split": False}
#: What a variant's architecture fixes; every other :class:`AudioTransformer` argument is a keyword argument.
_ARCHITECTURE = ("name", "input_kind", "embed_dim", "depths", "num_heads")


def _create(name: str, args: dict[str, Any], given: dict[str, Any], fixed: Sequence[str] = ()) -> AudioTransformer:
    """Build variant ``name`` from its constructor ``args``, after checking the user's ``given`` keywords by name."""
    params = inspect.signature(AudioTransformer.__init__).parameters
    valid = [p for p in params if p != "self" and p not in _ARCHITECTURE and p not in fixed]
    if name.startswith("ast"):
        valid = ["n_mels", *valid]
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ParameterError(
            f"model {name!r} got unexpected keyword argument(s) {', '.join(unknown)}; "
            f"accepted keyword arguments: {', '.join(valid)}"
        )
    return AudioTransformer(name=name, **args)


def _ast_layout(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """An AST's input layout from ``n_mels`` (log-Mel) or ``n_bins``/``n_resolutions``/``n_filters`` (MRMF)."""
    kwargs = dict(kwargs)
    n_mels = kwargs.pop("n_mels", None)
    mrmf = {k: kwargs.pop(k) for k in ("n_bins", "n_resolutions", "n_filters") if kwargs.get(k) is not None}
    if mrmf and n_mels is not None:
        raise ParameterError(f"{name}: give n_mels (log-Mel input) or n_bins/n_resolutions/n_filters (MRMF), not both")
    if mrmf:
        layout = {"input_kind": "mrmf", "n_bins": 64, "n_resolutions": 3, "n_filters": 2, **mrmf}
    else:
        layout = {"input_kind": "logmel", "n_bins": n_mels or 64, "n_resolutions": 1, "n_filters": 1}
    return {**layout, **kwargs}


@register_model(default_cfg={"input_kind": "mrmf"}, checkpoint_filter_fn=checkpoint_filter_fn)
def cat_tiny(**kwargs: Any) -> AudioTransformer:
    """CAT-tiny: two stages (64 and 128 channels, 2 blocks each, 4 / 8 heads), Swin window of 4 time patches.

    About 0.7 M parameters with the causal module; sized for CPU training on FSDD / ESC-10
    (``docs/cat.md``). Keyword arguments: any :class:`AudioTransformer` argument except the
    architecture (``embed_dim``, ``depths``, ``num_heads``), e.g. ``num_classes``, ``n_bins``,
    ``n_resolutions``, ``n_filters``, ``kernel``, ``window``, ``filter_split``, ``causal``,
    ``patch_frames``, ``patch_bins``, ``dropout``, ``head_dropout``, ``causal_eps``.

    Raises:
        ParameterError: An unknown keyword argument (listing the accepted ones) or a bad value.
    """
    return _create("cat_tiny", {"embed_dim": 64, "depths": (2, 2), "num_heads": (4, 8), **kwargs}, kwargs)


@register_model(default_cfg={"input_kind": "mrmf"}, checkpoint_filter_fn=checkpoint_filter_fn)
def cat_small(**kwargs: Any) -> AudioTransformer:
    """CAT-small: three stages (96, 192, 384 channels; 2, 2, 2 blocks; 4, 8, 16 heads), window 4, dropout 0.1.

    Keyword arguments as :func:`cat_tiny`.
    """
    arch = {"embed_dim": 96, "depths": (2, 2, 2), "num_heads": (4, 8, 16), "dropout": 0.1}
    return _create("cat_small", {**arch, **kwargs}, kwargs)


@register_model(default_cfg={"input_kind": "mrmf"}, checkpoint_filter_fn=checkpoint_filter_fn)
def cat_base(**kwargs: Any) -> AudioTransformer:
    """CAT-base, the paper's Swin-T-scale backbone (as HTS-AT), built and counted here, not trained.

    Four stages of 2, 2, 6, 2 blocks, 96-768 channels, 4-32 heads, window 8, dropout 0.1,
    527 classes (AudioSet) by default. Keyword arguments as :func:`cat_tiny`.
    """
    arch = {"embed_dim": 96, "depths": (2, 2, 6, 2), "num_heads": (4, 8, 16, 32), "window": 8, "dropout": 0.1}
    return _create("cat_base", {**arch, "num_classes": 527, **kwargs}, kwargs)


@register_model(default_cfg={"input_kind": ["logmel", "mrmf"]}, checkpoint_filter_fn=checkpoint_filter_fn)
def ast_tiny(**kwargs: Any) -> AudioTransformer:
    """AST-tiny: an isotropic ViT (5 blocks, 96 channels, 4 heads, global attention) on spectrogram patches.

    Takes a log-Mel map (``n_mels``; 4 x 16 patches) or MRMF features (``n_bins``,
    ``n_resolutions``, ``n_filters``; whole-column patches, the 3-D positional embedding, no
    filter split): the table II(c) rows AST and AST + MRMF; ``causal=True`` adds the causal
    module (+ CL; off by default). AST's learned positions and [CLS] token are replaced by the
    sinusoidal 3-D embedding and mean pooling, as in CAT, so the rows differ only in what the
    table names. Keyword arguments as :func:`cat_tiny` plus ``n_mels``, without ``kernel``,
    ``window`` and ``filter_split`` (fixed: global attention over all tokens).

    Raises:
        ParameterError: Both ``n_mels`` and MRMF sizes, an unknown keyword argument, a bad value.
    """
    return _ast("ast_tiny", {"embed_dim": 96, "depths": (5,), "num_heads": (4,)}, kwargs)


@register_model(default_cfg={"input_kind": ["logmel", "mrmf"]}, checkpoint_filter_fn=checkpoint_filter_fn)
def ast_small(**kwargs: Any) -> AudioTransformer:
    """AST-small: an isotropic ViT (8 blocks, 192 channels, 6 heads, global, dropout 0.1), as :func:`ast_tiny`."""
    return _ast("ast_small", {"embed_dim": 192, "depths": (8,), "num_heads": (6,), "dropout": 0.1}, kwargs)


def _ast(name: str, architecture: dict[str, Any], kwargs: dict[str, Any]) -> AudioTransformer:
    fixed = (*_AST_FIXED, "window")
    unknown = sorted(set(kwargs) & set(fixed))
    if unknown:
        raise ParameterError(f"model {name!r} fixes {', '.join(unknown)} (an AST attends globally over all tokens)")
    layout = _ast_layout(name, kwargs)
    return _create(name, {**architecture, "causal": False, **_AST_FIXED, **layout}, kwargs, fixed)
