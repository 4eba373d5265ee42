import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.training import AudioDataModule, with_dataset_statistics
from audiolens.training.pretrain import AUGMENTATIONS, PretrainTask, build_augmentations, parse_augment
from audiolens.transforms import LogMel, LogMixupExp
from audiolens.transforms.inputs import LogMelInput

FEATURES = {"type": "logmel", "preset": "abt", "normalize": "dataset", "stats": [-2.0, 4.0]}
SMALL = {"channels": 8, "mlp_dim": 32}


def _task(**kwargs):
    torch.manual_seed(0)
    options = {
        "model": "audiontt",
        "model_kwargs": SMALL,
        "features": FEATURES,
        "projector": {"hidden_dim": 64, "out_dim": 16},
        "augment": ["mixup", "rrc", "rlf"],
        "optim": {"name": "lars", "lr": 0.1},
    }
    return PretrainTask(**{**options, **kwargs})


def _waves(batch=6, seconds=0.5):
    g = torch.Generator().manual_seed(1)
    return 0.1 * torch.randn(batch, int(16000 * seconds), generator=g)


def test_the_encoder_sits_at_model_without_a_head_and_the_front_end_carries_the_statistics():
    task = _task()
    assert task.model.num_classes == 0 and task.model.embed_dim == 16 * 8 + 32
    assert [type(m).__name__ for m in task.frontend] == ["LogMel", "PreNorm"]
    waves = _waves()
    expected = (LogMel(LogMelInput(**FEATURES).frontend())(waves) + 2.0) / 4.0
    torch.testing.assert_close(task.features(waves), expected)
    assert task(waves).shape == (6, task.model.embed_dim)


def test_views_are_independent_and_the_objective_trains_everything():
    task = _task().train()
    z = task.embed_views(_waves())
    assert len(z) == 2 and z[0].shape == (6, 16) and not torch.allclose(z[0], z[1])
    loss = task.objective_of(z)
    loss.backward()
    missing = [n for n, p in task.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    mixup = task.spec_augment[0]
    assert isinstance(mixup, LogMixupExp) and mixup.memory.shape[0] == 12  # both views entered the memory


def test_separate_crops_give_one_view_each():
    task = _task(loss="nt_xent", augment=[], projector={}).eval()
    waves = torch.stack([_waves(), 0.5 * _waves().flip(-1)], dim=1)  # (batch, views, n_samples)
    z = task.embed_views(waves)
    for view, crop in zip(z, waves.unbind(1), strict=True):
        torch.testing.assert_close(view, task.projector(task(crop)))
    assert not torch.allclose(z[0], z[1])
    with pytest.raises(ParameterError, match="one crop per view"):
        task.embed_views(torch.stack([_waves()] * 3, dim=1))


def test_three_views_average_every_pair():
    task = _task(views=3, augment=[]).eval()
    z = [torch.randn(5, 16, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    expected = (task.objective(z[0], z[1]) + task.objective(z[0], z[2]) + task.objective(z[1], z[2])) / 3
    torch.testing.assert_close(task.objective_of(z), expected)


def test_validation_views_are_seeded_and_leave_the_training_state_alone():
    task = _task().eval()
    task.spec_augment[0].memory = torch.randn(4, 64, 51)
    before = task.spec_augment[0].memory.clone()
    state = torch.random.get_rng_state()
    first = task._eval_loss(_waves(), batch_idx=3)
    second = task._eval_loss(_waves(), batch_idx=3)
    assert first.item() == second.item() and first.item() != task._eval_loss(_waves(), batch_idx=4).item()
    assert torch.equal(task.spec_augment[0].memory, before)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not task.spec_augment.training and not task.wave_augment.training


def test_nt_xent_objective_and_waveform_augmentations():
    task = _task(loss="nt_xent", augment=["gain", "noise", "time_mask", "mix_back", "rrc"], projector={})
    assert len(task.wave_augment) == 4 and len(task.spec_augment) == 1
    assert task.projector[-1].out_features == 512  # SimCLR's 512-d projection
    assert torch.isfinite(task.objective_of(task.train().embed_views(_waves())))


def test_augment_entries_are_checked():
    assert parse_augment(["rrc", {"mixup": {"ratio": 0.4}}, {"rlf": None}]) == [
        ("rrc", {}),
        ("mixup", {"ratio": 0.4}),
        ("rlf", {}),
    ]
    with pytest.raises(ParameterError, match=r"task.augment\[1\].*'mixupp'.*mixup"):
        parse_augment(["rrc", "mixupp"])
    with pytest.raises(ParameterError, match=r"task.augment\[0\] must be a name"):
        parse_augment([{"rrc": {}, "rlf": {}}])
    with pytest.raises(ParameterError, match=r"'rrc' works on logmel input.*'waveform'"):
        build_augmentations(["gain", "rrc"], "waveform")
    with pytest.raises(ParameterError, match=r"task.augment\[0\] 'rlf'.*gian"):
        build_augmentations([{"rlf": {"gian": 1.0}}], "logmel")
    assert {"mixup", "rrc", "rlf", "gaussian_noise", "post_norm", "gain", "noise", "time_mask", "mix_back"} == set(
        AUGMENTATIONS.names()
    )


def test_bad_settings_are_refused():
    with pytest.raises(ParameterError, match="task.loss"):
        _task(loss="byol")
    with pytest.raises(ParameterError, match="views"):
        _task(views=1)
    with pytest.raises(ParameterError, match="num_classes"):
        _task(model_kwargs={**SMALL, "num_classes": 3})
    with pytest.raises(ParameterError, match="features.normalize: dataset needs"):
        _task(features={"type": "logmel", "preset": "abt", "normalize": "dataset"})
    with pytest.raises(ParameterError, match="batch of >= 2.*data.batch_size"):
        _task(augment=[]).train().embed_views(_waves(batch=1))


def test_dataset_statistics_are_those_of_the_training_log_mel():
    dataset = create_dataset("synthetic", None, sample_rate=16000, n_per_class=3, duration=0.5, seed=0)
    dm = AudioDataModule(dataset, batch_size=4, duration=0.5, test_folds=[3], seed=0)
    features = LogMelInput(preset="abt", normalize="dataset").resolve(16000)
    stats = with_dataset_statistics(features, dm).stats
    dm.setup()
    frontend = LogMel(features.frontend())
    values = torch.cat([frontend(w[None][:, :8000]).flatten() for w in dm.splits["train"].waves]).double().numpy()
    assert stats == pytest.approx([values.mean(), values.std()], rel=1e-6)
    given = features.model_copy(update={"stats": [0.0, 1.0]})
    assert with_dataset_statistics(given, dm) is given
    plain = LogMelInput(preset="abt").resolve(16000)
    assert with_dataset_statistics(plain, dm) is plain
    with pytest.raises(ParameterError, match="features.stats are the statistics of normalize: dataset"):
        LogMelInput(preset="abt", stats=[0.0, 1.0]).resolve(16000)
    with pytest.raises(ParameterError, match="std > 0"):
        LogMelInput(preset="abt", normalize="dataset", stats=[0.0, 0.0]).resolve(16000)


def test_silent_training_audio_has_no_statistics(tmp_path):
    from audiolens.io import save_audio

    for k in range(4):
        save_audio(tmp_path / "a" / f"{k}.wav", torch.zeros(8000), 16000)
        save_audio(tmp_path / "b" / f"{k}.wav", torch.zeros(8000), 16000)
    dataset = create_dataset("folder", str(tmp_path), sample_rate=16000)
    dm = AudioDataModule(dataset, batch_size=2, duration=0.5, seed=0, use_cache=False)
    with pytest.raises(DataError, match="constant"):
        with_dataset_statistics(LogMelInput(preset="abt", normalize="dataset").resolve(16000), dm)
