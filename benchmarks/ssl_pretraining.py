"""Self-supervised pre-training throughput: AudioNTT + Barlow Twins steps per second on the CPU.

Same process, 2 torch threads, batch 64 of 0.95 s clips at 16 kHz (real ESC-50 audio when
``$AUDIOLENS_DATA/esc50`` exists, noise otherwise), ABT's recipe (two views of mixup 0.2 with a
2048-clip memory, random resize crop, random linear fader; projector 8192 -> 256; LARS):

1. a full training step as :class:`~audiolens.training.pretrain.PretrainTask` runs it: front-end
   (once per batch) and augmentations (per view) on the fly, batched, then encoder, projector,
   loss, backward, LARS update;
2. the same step on pre-computed log-Mel without augmentation (the floor the step cannot go
   below): the difference is the front-end + augmentation share;
3. the front-end, and the augmentations alone on the same log-Mel, ours (batched, the whole
   batch at once) against the reference code's recipe (jonahanton/SSL_audio, after BYOL-A: per
   clip in the Dataset, applied twice per clip, numpy draws, a per-clip ``F.interpolate`` for
   the crop);
4. data loading: a batch of the in-memory training split from the DataLoader (random crops),
   against the step time.

(The issue names it ``benchmarks/ssl.py``; that name would shadow Python's ``ssl`` module, which
torch imports, since a script's folder comes first on ``sys.path``.)
"""

from __future__ import annotations

import platform
import random

import numpy as np
import torch
import torch.nn.functional as F
from _common import best_of, esc50_clips
from torch.utils.flop_counter import FlopCounterMode

from audiolens.training import WaveformDataset
from audiolens.training.optim import LARS, lars_groups
from audiolens.training.pretrain import PretrainTask

BATCH, SECONDS, RATE = 64, 0.95, 16000
FEATURES = {"type": "logmel", "preset": "abt", "normalize": "dataset", "stats": [-1.93, 4.78]}


class ReferenceMixup:
    """BYOL-A / ABT ``MixupBYOLA`` on one clip ``(1, F, T)``: a python-list FIFO memory, numpy draws."""

    def __init__(self, ratio: float = 0.2, n_memory: int = 2048) -> None:
        self.ratio, self.n, self.memory = ratio, n_memory, []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Mix ``x`` with a remembered clip, then remember ``x``."""
        alpha = self.ratio * np.random.random()
        if self.memory:
            z = self.memory[np.random.randint(len(self.memory))]
            mixed = torch.log((1.0 - alpha) * x.exp() + alpha * z.exp() + torch.finfo(x.dtype).eps)
        else:
            mixed = x
        self.memory = ([*self.memory, x])[-self.n :]
        return mixed


def reference_rrc(x: torch.Tensor) -> torch.Tensor:
    """BYOL-A's RandomResizeCrop on one clip ``(1, F, T)`` (canvas 1 x 1.5, scales 0.6-1.5, bicubic)."""
    _, f, t = x.shape
    canvas = torch.zeros(1, f, int(1.5 * t))
    offset = (canvas.shape[-1] - t) // 2
    canvas[:, :, offset : offset + t] = x
    h = int(np.clip(int(np.random.uniform(0.6, 1.5) * f), 1, f))
    w = int(np.clip(int(np.random.uniform(0.6, 1.5) * t), 1, canvas.shape[-1]))
    i = random.randint(0, f - h)
    j = random.randint(0, canvas.shape[-1] - w)
    crop = canvas[:, i : i + h, j : j + w]
    return F.interpolate(crop.unsqueeze(0), size=(f, t), mode="bicubic", align_corners=True).squeeze(0)


def reference_rlf(x: torch.Tensor) -> torch.Tensor:
    """BYOL-A's RandomLinearFader on one clip."""
    head, tail = 1.0 * (2.0 * np.random.rand(2) - 1.0)
    return x + torch.linspace(head, tail, x.shape[-1])[None, None, :]


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    clips = torch.from_numpy(esc50_clips(BATCH * 4, 5.0, RATE))
    task = PretrainTask(model="audiontt", features=FEATURES, augment=["mixup", "rrc", "rlf"], optim={"name": "lars"})
    task.train()
    optimizer = LARS(lars_groups(task.parameters(), 0.2, 0.012), lr=0.2, weight_decay=1e-5)
    n = int(SECONDS * RATE)
    batch = clips[:BATCH, :n].contiguous()
    with torch.no_grad():
        precomputed = task.features(batch)
    for _ in range(4):  # fill the mixup memory as in training
        task.embed_views(clips[BATCH:, :n][:BATCH])

    def full_step() -> None:
        loss = task.objective_of(task.embed_views(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def floor_step() -> None:
        z = [task.projector(task.model(precomputed)) for _ in range(2)]
        loss = task.objective_of(z)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def frontend() -> None:
        with torch.no_grad():
            task.features(batch)

    def ours_augment() -> None:
        with torch.no_grad():
            for _ in range(2):
                task.spec_augment(precomputed)

    mixup = ReferenceMixup()
    for k in range(2 * BATCH):  # the same memory fill
        mixup(precomputed[k % BATCH][None])

    def reference_augment() -> None:
        with torch.no_grad():
            for k in range(BATCH):
                for _ in range(2):
                    reference_rlf(reference_rrc(mixup(precomputed[k][None])))

    train = WaveformDataset(list(clips), torch.zeros(len(clips), dtype=torch.long), n, random_crop=True)
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True)

    def load_batch() -> None:
        next(iter(loader))

    t_full, t_floor = best_of(full_step, 3), best_of(floor_step, 3)
    t_ours, t_ref, t_front = best_of(ours_augment, 5), best_of(reference_augment, 3), best_of(frontend, 5)
    t_load = best_of(load_batch, 5)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, 2 threads")
    print(f"batch {BATCH} x 2 views of {SECONDS} s (64 x 96 log-Mel), AudioNTT (6.3 M) + projector 8192 -> 256")
    print(f"full step (on-the-fly front-end + augmentation): {t_full * 1e3:8.1f} ms  = {1 / t_full:6.2f} steps/s")
    print(f"step on pre-computed log-Mel, no augmentation:   {t_floor * 1e3:8.1f} ms  = {1 / t_floor:6.2f} steps/s")
    print(f"front-end + augmentation share of a step:        {(t_full - t_floor) / t_full:8.1%}")
    print(f"front-end (log-Mel + pre-norm, once per batch):  {t_front * 1e3:8.1f} ms per step")
    print(f"augmentation of 2 views, ours batched:           {t_ours * 1e3:8.1f} ms per step")
    print(
        f"same, the reference's per-clip recipe:           {t_ref * 1e3:8.1f} ms per step  "
        f"(ours {t_ref / t_ours:.1f}x faster)"
    )
    print(f"data loading, one batch from the DataLoader:     {t_load * 1e3:8.1f} ms  ({t_load / t_full:.1%} of a step)")
    with FlopCounterMode(display=False) as counter:
        floor_step()
    flops = counter.get_total_flops()
    print(
        f"work of a step (forward + backward, 2 views): {flops / 1e9:.1f} GFLOP -> {flops / t_floor / 1e9:.1f} GFLOP/s"
    )


if __name__ == "__main__":
    main()
