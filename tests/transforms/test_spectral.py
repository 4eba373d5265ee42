import torch

from audiolens.functional import get_preset, log_mel_spectrogram
from audiolens.transforms import AmplitudeToDB, LogMel, MelSpectrogram, SpecAugment, Spectrogram


def test_logmel_module_equals_functional_and_no_state():
    module = LogMel.from_preset("pann", 16000)
    x = torch.randn(2, 16000)
    assert torch.equal(module(x), log_mel_spectrogram(x, get_preset("pann", 16000)))
    assert module.state_dict() == {}  # filterbank is rebuilt from the config, not saved
    assert module.n_mels == 64 and module.sample_rate == 16000
    assert "n_fft=512" in repr(module)


def test_mel_spectrogram_module_and_db():
    x = torch.randn(1, 4000)
    mel = MelSpectrogram(8000, 256, 64, n_mels=32, f_max=4000)(x)
    assert mel.shape == (1, 32, 63)
    db = AmplitudeToDB()(mel)
    assert torch.allclose(db, 10 * torch.log10(mel.clamp_min(1e-10)))
    assert Spectrogram(256, 64)(x).shape == (1, 129, 63)


def test_specaugment_train_only():
    aug = SpecAugment(4, 10, 1, 1)
    x = torch.randn(3, 64, 40)
    assert torch.equal(aug.eval()(x), x)
    assert not torch.equal(aug.train()(x), x)
