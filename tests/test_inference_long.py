"""Issue 13's must-shows on long recordings: a 30-minute timeline of real clips, bounded memory."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml

import audiolens
from audiolens.cli.main import main
from audiolens.datasets import create_dataset
from audiolens.io import load_audio
from audiolens.testing import save_checkpoint, seeded_classifier

RATE = 16000


@pytest.mark.slow
def test_timeline_of_a_30_minute_recording_finds_its_clips(esc50_root, tmp_path):
    """ESC-10 clips of fold 5 at random positions, with gaps of faint noise, in a 30-minute file.

    The timeline's window nearest to each clip's start must rank the true class first about as
    often as ``evaluate`` does on the clips themselves, and each class must be more probable
    while its clip plays than in the gaps.
    """
    config = {
        "data": {"name": "esc50", "root": str(esc50_root), "sample_rate": RATE, "test_folds": [5],
                 "batch_size": 32, "duration": 5.0, "kwargs": {"subset": "esc10"}},
        "features": {"preset": "pann", "sample_rate": RATE, "hop_length": 320, "top_db": 80.0},
        "model": {"name": "small_cnn_tiny"},
        "optim": {"lr": 0.003},
        "trainer": {"max_epochs": 20},
        "seed": 0,
    }  # fmt: skip
    (tmp_path / "esc10.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(tmp_path / "esc10.yaml"), "--out", str(tmp_path / "run")]) == 0
    clip_accuracy = json.loads((tmp_path / "run" / "metrics.json").read_text())["final"]["test_accuracy"]
    assert clip_accuracy > 0.4  # chance is 0.1: the model has learnt something to find

    test = [r for r in create_dataset("esc50", esc50_root, subset="esc10").records if r.fold == 5]
    rng = np.random.default_rng(0)
    pieces, spans, position = [], [], 0
    for record in test:
        path, label = record.path, int(record.target)
        gap = rng.integers(int(12 * RATE), int(28 * RATE))
        pieces.append(rng.normal(0, 1e-3, gap).astype(np.float32))  # faint noise, about -60 dB
        position += gap
        clip = load_audio(path, RATE)[0].numpy()
        pieces.append(clip)
        spans.append((position / RATE, (position + len(clip)) / RATE, label))
        position += len(clip)
    recording = np.concatenate(pieces)
    assert len(recording) / RATE >= 30 * 60
    sf.write(tmp_path / "long.flac", recording, RATE)

    model = audiolens.load_model(tmp_path / "run" / "checkpoints" / "best.ckpt", device="cpu")
    timeline = model.timeline(tmp_path / "long.flac", window=5.0, hop=0.5)
    top = timeline.probabilities.argmax(axis=1)
    hits = [top[np.argmin(np.abs(timeline.start_s - start))] == label for start, _, label in spans]
    print(f"clip accuracy {clip_accuracy:.3f}, timeline {np.mean(hits):.3f} over {len(spans)} clips in "
          f"{len(recording) / RATE / 60:.1f} min")  # fmt: skip
    assert abs(np.mean(hits) - clip_accuracy) <= 0.1, (np.mean(hits), clip_accuracy)
    centre = (timeline.start_s + timeline.end_s) / 2
    inside, outside = [], []
    for start, end, label in spans:
        playing = (centre >= start) & (centre < end)
        inside.append(timeline.probabilities[playing, label].mean())
        outside.append(timeline.probabilities[~playing, label].mean())
    print(f"true-class probability while its clip plays {np.mean(inside):.3f}, in the gaps {np.mean(outside):.3f}")
    assert np.mean(inside) > 2 * np.mean(outside)


_PEAK = """
import resource, sys
import audiolens
model = audiolens.load_model(sys.argv[1], device="cpu")
timeline = model.timeline(sys.argv[2], window=1.0, hop=0.5)
assert timeline.probabilities.shape[0] == int(sys.argv[3]), timeline.probabilities.shape
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _write_noise(path, seconds, rate=8000, block_seconds=600):
    """A long FLAC of faint noise, written block by block."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as handle:
        for start in range(0, seconds, block_seconds):
            handle.write(rng.normal(0, 0.05, rate * min(block_seconds, seconds - start)).astype(np.float32))


@pytest.mark.slow
def test_timeline_memory_does_not_grow_with_the_file(tmp_path):
    """Issue 13: peak memory of a 3-hour timeline within 10 % of a 30-minute one's (separate processes)."""
    checkpoint = save_checkpoint(seeded_classifier(duration=1.0), tmp_path / "model.ckpt")
    peaks = {}
    for minutes in (30, 180):
        path = tmp_path / f"{minutes}min.flac"
        _write_noise(path, minutes * 60)
        windows = minutes * 60 * 2 - 1  # window 1 s, hop 0.5 s: the last start is at the end minus 1 s
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, str(checkpoint), str(path), str(windows)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        peaks[minutes] = int(out.stdout.split()[-1])
        path.unlink()
    assert peaks[180] <= 1.1 * peaks[30], peaks
