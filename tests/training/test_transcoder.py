"""The transcoder's teacher, chunks, losses and metrics (``audiolens.training.transcoder``)."""

import math

import pytest
import torch
import torch.nn.functional as F

from audiolens import DataError, ParameterError
from audiolens.functional import get_third_octave_preset, teacher_kl, third_octave_spectrogram
from audiolens.io import resample
from audiolens.training.transcoder import (
    ChunkSampler,
    ChunkSet,
    Teacher,
    TranscoderTask,
    chunk_counts,
    downstream_scores,
    prepare_chunks,
    transcoder_metrics,
    transcoder_outputs,
)

CENSE = get_third_octave_preset("cense")


def _spec(sample_rate=32000, model="small_cnn_tiny", multilabel=False, n_classes=3):
    return {
        "model": model,
        "class_names": [f"c{k}" for k in range(n_classes)],
        "features": {"type": "logmel", "preset": "pann", "sample_rate": sample_rate, "n_mels": 32},
        "multilabel": multilabel,
    }


def _waves(seconds=(2.5, 1.0, 0.4), rate=32000, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(round(max(seconds) * rate)) / rate
    return [
        (0.1 * torch.sin(2 * math.pi * (300 + 500 * k) * t[: round(s * rate)]))
        + 0.01 * torch.randn(round(s * rate), generator=g)
        for k, s in enumerate(seconds)
    ]


def test_teacher_is_frozen_and_stays_in_eval_mode():
    teacher = Teacher(_spec())
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training and not any(m.training for m in teacher.modules())
    assert teacher.target.sample_rate == 32000 and teacher.target.n_mels == 32


def test_teacher_refuses_non_logmel_inputs():
    spec = {**_spec(), "model": "small_cnn_tiny", "features": {"type": "waveform", "sample_rate": 16000}}
    with pytest.raises(ParameterError):
        Teacher(spec)


def test_chunk_counts_follow_the_authors_one_second_chunks():
    assert chunk_counts([80000, 32000, 12000, 31999], 32000, 1.0) == [2, 1, 1, 1]
    assert chunk_counts([320000], 32000, 1.0) == [10]  # a 10 s file: ten 1 s chunks


@pytest.mark.parametrize("teacher_rate", [32000, 16000])
def test_prepare_chunks_match_one_by_one_computation(teacher_rate):
    teacher = Teacher(_spec(teacher_rate))
    waves = _waves()
    chunks = prepare_chunks(waves, 32000, CENSE, teacher, chunk_seconds=1.0, batch_size=2)
    assert chunks.clip.tolist() == [0, 0, 1, 2] and chunks.n_clips == 3
    assert chunks.levels.shape == (4, 29, 8)
    assert chunks.mel.shape == (4, 32, teacher.target.n_frames(teacher_rate))
    # chunk 1 of clip 0 (seconds 1..2), computed by hand
    second = waves[0][32000:64000]
    torch.testing.assert_close(chunks.levels[1], third_octave_spectrogram(second, 32000, CENSE))
    at_teacher = resample(waves[0], 32000, teacher_rate)[teacher_rate : 2 * teacher_rate]
    mel = teacher.mel(at_teacher[None])[0]
    torch.testing.assert_close(chunks.mel[1], mel)
    torch.testing.assert_close(chunks.probs[1], torch.softmax(teacher.logits(mel[None]), -1)[0])
    # the short clip is zero-padded to one chunk
    padded = F.pad(waves[2], (0, 32000 - waves[2].numel()))
    torch.testing.assert_close(chunks.levels[3], third_octave_spectrogram(padded, 32000, CENSE))


def test_prepare_chunks_refuses_another_rate():
    with pytest.raises(ParameterError, match="32000 Hz"):
        prepare_chunks(_waves(rate=16000), 16000, CENSE, Teacher(_spec()))


def test_chunk_sampler_draws_per_clip_and_depends_on_seed_and_epoch():
    clip = torch.tensor([0, 0, 0, 1, 1, 2])
    sampler = ChunkSampler(clip, per_clip=1, seed=3)
    first = list(sampler)
    assert len(first) == len(sampler) == 3
    assert sorted(clip[first].tolist()) == [0, 1, 2]
    assert list(ChunkSampler(clip, per_clip=1, seed=3)) == first
    draws = set()
    for epoch in range(12):
        sampler.set_epoch(epoch)
        draws.add(tuple(sorted(list(sampler))))
    assert len(draws) > 1
    assert sorted(ChunkSampler(clip, None)) == list(range(6))


def _module(loss="logits", **kwargs):
    torch.manual_seed(0)
    return TranscoderTask(
        teacher=_spec(),
        model_kwargs={"channels": 4, "n_layers": 2},
        features={"type": "third_octave", "preset": "cense"},
        loss=loss,
        **kwargs,
    )


def _batch(module):
    chunks = prepare_chunks(_waves(), 32000, CENSE, module.teacher)
    return chunks, (chunks.levels, chunks.mel, chunks.probs)


def test_losses_are_the_papers():
    module = _module("hybrid", hybrid_p=0.25, logit_scale=10.0)
    _, batch = _batch(module)
    levels, mel, oracle = batch
    pred = module(levels, mel.shape[-1])
    mse = F.mse_loss(pred, mel)
    probs = torch.softmax(module.teacher.logits(pred), -1).clamp(1e-7, 1 - 1e-7)  # saturated outputs stay finite
    bce = -(oracle * probs.log() + (1 - oracle) * (1 - probs).log()).mean()
    losses = module._losses(batch)
    torch.testing.assert_close(losses["mel_mse"], mse)
    torch.testing.assert_close(losses["bce"], bce, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(losses["loss"], 0.75 * mse + 0.25 * 10.0 * bce, rtol=1e-4, atol=1e-6)
    assert set(_module("mels")._losses(batch)) == {"mel_mse", "loss"}


def test_logits_loss_trains_the_transcoder_through_the_frozen_teacher():
    module = _module("logits")
    _, batch = _batch(module)
    before = {k: v.clone() for k, v in module.teacher.state_dict().items()}
    module.train()
    loss = module._losses(batch)["loss"]
    loss.backward()
    grads = [p.grad for p in module.model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in module.teacher.parameters())
    assert not module.teacher.training
    for key, value in module.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_multilabel_teachers_use_sigmoid_bce_on_logits():
    module = TranscoderTask(teacher=_spec(multilabel=True), model_kwargs={"channels": 4, "n_layers": 2})
    _, batch = _batch(module)
    levels, mel, oracle = batch
    torch.testing.assert_close(oracle, torch.sigmoid(module.teacher.logits(mel)))
    pred = module(levels, mel.shape[-1])
    expected = F.binary_cross_entropy(torch.sigmoid(module.teacher.logits(pred)), oracle)
    torch.testing.assert_close(module._losses(batch)["bce"], expected, rtol=1e-4, atol=1e-6)


def test_unknown_loss_and_target_kwargs_are_refused():
    with pytest.raises(ParameterError, match="task.loss"):
        _module("l2")
    with pytest.raises(ParameterError, match="target"):
        TranscoderTask(teacher=_spec(), model_kwargs={"target": "yamnet"})


def test_metrics_average_chunks_per_clip_like_the_authors():
    # clip 0: chunk tops 0 and 1, mean top 1; clip 1: one chunk, top 2
    oracle = torch.tensor([[0.5, 0.4, 0.1], [0.0, 0.9, 0.1], [0.1, 0.1, 0.8]])
    model = torch.tensor([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.1, 0.7, 0.2]])
    chunks = ChunkSet(torch.zeros(3, 29, 8), torch.zeros(3, 2, 5), oracle, torch.tensor([0, 0, 1]))
    errors = torch.tensor([10.0, 0.0, 20.0])
    out = transcoder_metrics(model, errors, chunks, ["a", "b", "c"])
    # clip means: model [[.35,.55,.1],[.1,.7,.2]] (tops 1, 1); oracle [[.25,.65,.1],[.1,.1,.8]] (tops 1, 2)
    assert out["ptopa_fc"] == 0.5 and out["n"] == 2 and out["n_chunks"] == 3
    assert out["ptopa_fc_per_class"] == {"b": 1.0, "c": 0.0}
    mean_model = torch.tensor([[0.35, 0.55, 0.1], [0.1, 0.7, 0.2]])
    mean_oracle = torch.tensor([[0.25, 0.65, 0.1], [0.1, 0.1, 0.8]])
    expected_kl = teacher_kl(mean_model, mean_oracle)
    assert out["kl"] == pytest.approx(expected_kl)
    assert out["mel_mse"] == pytest.approx(30.0 / 30)  # 3 chunks x 10 values


def test_outputs_of_true_mel_give_perfect_scores():
    module = _module()
    chunks, _ = _batch(module)

    class Identity(torch.nn.Module):  # a "transcoder" that returns the true Mel
        def forward(self, levels, n_frames=None):
            return chunks.mel[: len(levels)]

    module.model = Identity()
    probs, errors = transcoder_outputs(module, chunks, batch_size=len(chunks))
    out = transcoder_metrics(probs, errors, chunks)
    assert out["ptopa_fc"] == 1.0 and out["mel_mse"] == 0.0 and abs(out["kl"]) < 1e-9
    pinv_probs, pinv_errors = transcoder_outputs(module, chunks, pinv=True)
    assert transcoder_metrics(pinv_probs, pinv_errors, chunks)["mel_mse"] > 1.0


def test_downstream_head_learns_separable_outputs_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 5
    informative = F.one_hot(y, 5).double() * 0.6 + 0.1 * torch.rand(400, 5, generator=g, dtype=torch.float64)
    noise = torch.rand(400, 5, generator=g, dtype=torch.float64)
    good = downstream_scores(informative[:300], y[:300], informative[300:], y[300:])
    bad = downstream_scores(noise[:300], y[:300], noise[300:], y[300:])
    assert good["accuracy"] > 0.95 and bad["accuracy"] < 0.45  # chance is 0.2


def test_downstream_head_multilabel_scores_auprc_and_micro_f1():
    g = torch.Generator().manual_seed(1)
    y = (torch.rand(500, 4, generator=g) < 0.3).long()
    y[:, 3] = 0  # a class without positives is left out of the macro mean
    x = y.double() * 0.8 + 0.1 * torch.rand(500, 4, generator=g, dtype=torch.float64)
    out = downstream_scores(x[:400], y[:400], x[400:], y[400:])
    assert set(out) == {"macro_auprc", "micro_f1"}
    assert out["macro_auprc"] > 0.95 and out["micro_f1"] > 0.9


def test_official_weights_teacher_loads_strictly_and_names_a_renamed_key(tmp_path):
    from audiolens.models import create_model

    state = create_model("yamnet").state_dict()
    path = tmp_path / "yamnet.pt"
    torch.save(state, path)
    names = [f"class_{k}" for k in range(521)]
    features = {"type": "logmel", "preset": "yamnet"}
    teacher = Teacher.from_weights("yamnet", path, features=features, class_names=names)
    torch.testing.assert_close(teacher.model.state_dict()["classifier.weight"], state["classifier.weight"])
    assert teacher.multilabel and teacher.target.sample_rate == 16000 and not teacher.training
    renamed = dict(state)
    renamed["classifier.kernel"] = renamed.pop("classifier.weight")
    torch.save(renamed, path)
    with pytest.raises(ParameterError, match="classifier.weight") as info:
        Teacher.from_weights("yamnet", path, features=features, class_names=names)
    assert str(info.value).startswith("task.teacher.weights") and "task.teacher.labels" in str(info.value)


def test_yamnet_targets_are_one_096_s_patch_per_second_in_training_and_transcoding():
    spec = {
        "model": "yamnet",
        "class_names": [f"c{k}" for k in range(521)],
        "features": {"type": "logmel", "preset": "yamnet"},
        "multilabel": True,
    }
    teacher = Teacher(spec)
    waves = _waves((2.0,))
    chunks = prepare_chunks(waves, 32000, CENSE, teacher)
    assert chunks.mel.shape == (2, 64, 96)  # YAMNet's front-end gives 98 frames per 1 s; the patch is 96
    at_teacher = resample(waves[0], 32000, 16000)[16000:32000]
    torch.testing.assert_close(chunks.mel[1], teacher.mel(at_teacher[None])[0, :, :96])
    module = TranscoderTask(teacher=spec, model_kwargs={"channels": 4, "n_layers": 2})
    assert module.model.n_output_frames(8) == 96 == module(chunks.levels, chunks.mel.shape[-1]).shape[-1]


def test_predict_points_a_transcoder_checkpoint_to_transcode(tmp_path):
    """Issue 13: third-octave input goes through `audiolens transcode`; load_model says so."""
    import audiolens
    from audiolens.testing import save_checkpoint

    path = save_checkpoint(_module(), tmp_path / "transcoder.ckpt")
    with pytest.raises(DataError, match="audiolens transcode"):
        audiolens.load_model(path, device="cpu")
