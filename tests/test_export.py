"""audiolens.export: ONNX and TorchScript exports of front-end + model, verified and run."""

import numpy as np
import pytest
import torch
from torch import nn

import audiolens
from audiolens import DataError, ParameterError
from audiolens.export import WaveformClassifier, export_model, load_exported, read_export_metadata
from audiolens.inference import Predictor
from audiolens.io import load_audio
from audiolens.testing import save_checkpoint, seeded_classifier
from audiolens.training import ClassificationTask

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FORMATS = [("onnx", ".onnx"), ("torchscript", ".pt")]


def _task(model="small_cnn", rate=16000, duration=1.0, multilabel=False):
    classes = [f"c{k}" for k in range(5)]
    return seeded_classifier(model, classes, sample_rate=rate, duration=duration, multilabel=multilabel).eval()


def _real_clips(root, rate, n=4, seconds=1.0, offset=0.0):
    files = sorted(f for f in root.rglob("*") if f.suffix in (".wav", ".flac"))[:n]
    assert len(files) == n
    start = int(offset * rate)
    clips = [load_audio(f, rate)[0][start : start + int(seconds * rate)] for f in files]
    return torch.stack([nn.functional.pad(c, (0, int(seconds * rate) - len(c))) for c in clips])


@pytest.mark.parametrize("model", ["small_cnn", pytest.param("cnn14", marks=pytest.mark.slow)])
def test_exports_match_pytorch_on_real_clips(model, esc50_root, fsdd_root, tmp_path):
    """Issue 13: ONNX and TorchScript outputs match PyTorch within 1e-4 on real clips."""
    task = _task(model)
    module = WaveformClassifier(task)
    clips = torch.cat([_real_clips(esc50_root, 16000, 3, offset=1.0), _real_clips(fsdd_root, 16000, 3)])
    with torch.no_grad():
        expected = module(clips).numpy()
        longer = torch.cat([clips[:2], clips[2:4]], dim=1)  # 2 s: another length than the export's example
        expected_longer = module(longer).numpy()
    assert expected.std() > 1e-3  # the random model does tell the clips apart
    for fmt, suffix in FORMATS:
        path = export_model(task, tmp_path / f"{model}{suffix}", fmt)
        exported = load_exported(path)
        np.testing.assert_allclose(exported._run(clips.numpy()), expected, atol=1e-4, rtol=0)
        np.testing.assert_allclose(exported._run(longer.numpy()), expected_longer, atol=1e-4, rtol=0)
        np.testing.assert_allclose(exported._run(clips[:1].numpy()), expected[:1], atol=1e-4, rtol=0)
        reference = Predictor(task, "cpu").predict(clips, 16000).probabilities
        np.testing.assert_allclose(exported.predict(clips, 16000).probabilities, reference, atol=1e-4, rtol=0)


def test_metadata_describes_the_graph(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5, multilabel=True)
    path = export_model(task, tmp_path / "m.onnx")
    meta = read_export_metadata(path)
    assert meta["sample_rate"] == 8000 and meta["duration"] == 0.5 and meta["multilabel"] is True
    assert meta["class_names"] == task.class_names and meta["model"] == "small_cnn_tiny"
    # the fewest samples the model accepts: shorter inputs give too few frames for its pooling
    assert 0 < meta["min_samples"] <= 4000
    exported = load_exported(path)
    x = torch.randn(2, meta["min_samples"]) * 0.1
    with torch.no_grad():
        np.testing.assert_allclose(exported._run(x.numpy()), WaveformClassifier(task)(x).numpy(), atol=1e-5)
    # multi-label: sigmoid outputs, which do not sum to one
    assert not np.allclose(exported._run(x.numpy()).sum(axis=1), 1.0)


def test_the_onnx_front_end_is_a_convolution_not_the_stft_operator(tmp_path):
    """At n_fft 512 onnxruntime's STFT operator is slower than the DFT as one Conv (benchmarks/predict.py)."""
    onnx = pytest.importorskip("onnx")
    path = export_model(_task("small_cnn_tiny"), tmp_path / "m.onnx")
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert "STFT" not in ops and "DFT" not in ops
    assert ops.count("Conv") == 1 + 3  # the windowed DFT basis, then the model's 3 stages


def test_timeline_of_an_export_equals_the_checkpoints(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5)
    path = export_model(task, tmp_path / "m.pt")
    recording = torch.randn(8000 * 3 + 1234) * 0.1
    ours = load_exported(path).timeline(recording, 8000, window=0.5, hop=0.25)
    reference = Predictor(task, "cpu").timeline(recording, 8000, window=0.5, hop=0.25)
    np.testing.assert_allclose(ours.start_s, reference.start_s)
    np.testing.assert_allclose(ours.probabilities, reference.probabilities, atol=1e-5)
    with pytest.raises(ParameterError, match="probabilities only"):
        load_exported(path).embed(recording, 8000)


class _Bessel(nn.Module):
    """A classifier head with an operator (the modified Bessel function I0) ONNX has no function for."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.special.i0(self.inner(x))


def test_an_operator_onnx_cannot_express_is_named(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5)
    task.model = _Bessel(task.model)
    with pytest.raises(ParameterError, match="bessel_i0.*cannot express"):
        export_model(task, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    export_model(task, tmp_path / "m.pt")  # TorchScript has the operator


class _FixedLength(nn.Module):
    """A head over the flattened spectrogram: only one input length fits its weights."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 5)

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_a_model_that_fixes_the_length_is_refused(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5)
    with torch.no_grad():
        n_features = task.frontend(torch.zeros(1, 4000)).numel()
    task.model = _FixedLength(n_features)
    with pytest.raises(ParameterError, match="fixes the input length"):
        export_model(task, tmp_path / "m.onnx")


def test_files_formats_and_mix_ups(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5)
    checkpoint = save_checkpoint(task, tmp_path / "model.ckpt")
    onnx = export_model(checkpoint, tmp_path / "model.onnx")
    with pytest.raises(ParameterError, match="exists"):
        export_model(checkpoint, onnx)
    export_model(checkpoint, onnx, overwrite=True)
    with pytest.raises(ParameterError, match="format"):
        export_model(checkpoint, tmp_path / "model.bin")
    with pytest.raises(ParameterError, match="export format"):
        export_model(checkpoint, tmp_path / "model.onnx2", "tflite")
    # an export where a checkpoint is needed, and the reverse
    with pytest.raises(DataError, match="exported model, not a checkpoint"):
        audiolens.load_model(onnx)
    with pytest.raises(DataError, match="exported model, not a checkpoint"):
        export_model(onnx, tmp_path / "again.onnx")
    with pytest.raises(DataError, match="is a checkpoint, not an export"):
        load_exported(checkpoint)
    # files that are not audiolens exports
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a readable ONNX model"):
        load_exported(tmp_path / "junk.onnx")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a readable TorchScript model"):
        load_exported(tmp_path / "junk.pt")
    torch.onnx.export(nn.Linear(3, 2), (torch.zeros(1, 3),), tmp_path / "foreign.onnx", dynamo=True, verbose=False)
    with pytest.raises(DataError, match="no audiolens metadata"):
        load_exported(tmp_path / "foreign.onnx")
    with pytest.raises(DataError, match="not found"):
        load_exported(tmp_path / "missing.onnx")


def test_a_pretrained_encoder_without_classes_is_refused(tmp_path):
    from audiolens.training.pretrain import PretrainTask

    encoder = PretrainTask(
        model="audiontt",
        model_kwargs={"channels": 8, "mlp_dim": 16},
        features={"type": "logmel", "preset": "abt"},
        projector={"hidden_dim": 16, "out_dim": 8},
    )
    with pytest.raises(ParameterError, match="only classification"):
        export_model(encoder, tmp_path / "m.onnx")


def test_format_and_suffix_must_agree_and_files_are_recognised_by_content(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5)
    with pytest.raises(ParameterError, match="does not end in a suffix of format 'onnx'"):
        export_model(task, tmp_path / "m.pt", "onnx")
    with pytest.raises(ParameterError, match="cannot tell the export format"):
        export_model(task, tmp_path / "m.ckpt")
    # a checkpoint saved as .pt is still a checkpoint, and a TorchScript export renamed stays one
    checkpoint = save_checkpoint(task, tmp_path / "weights.pt")
    assert audiolens.load_model(checkpoint, device="cpu").class_names == task.class_names
    with pytest.raises(DataError, match="is a checkpoint, not an export"):
        load_exported(checkpoint)
    script = export_model(task, tmp_path / "m.pt")
    renamed = tmp_path / "m.ts"
    renamed.write_bytes(script.read_bytes())
    assert load_exported(renamed).format == "torchscript"
    with pytest.raises(DataError, match="exported model, not a checkpoint"):
        audiolens.load_model(renamed)


def test_the_callers_module_is_left_as_it_is(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5).train()
    export_model(task, tmp_path / "m.onnx")
    assert task.training  # a private copy was put in eval mode and exported


class _DataDependent(nn.Module):
    """A model whose control flow depends on tensor values: no single graph exists."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        out = self.inner(x)
        return out if x.sum() > 0 else -out


def test_a_model_torch_export_cannot_capture_is_named(tmp_path):
    task = _task("small_cnn_tiny", rate=8000, duration=0.5)
    task.model = _DataDependent(task.model)
    with pytest.raises(ParameterError, match="cannot be captured as one graph"):
        export_model(task, tmp_path / "m.onnx")


@pytest.mark.slow
def test_cat_exports_with_dynamic_length(esc50_root, tmp_path):
    """CAT (MRMF front-end, acoustic attention, odd patch counts padded without a branch) exports too."""
    torch.manual_seed(0)
    task = ClassificationTask(
        model="cat_tiny",
        class_names=[f"c{k}" for k in range(5)],
        features={"type": "mrmf", "preset": "cat", "sample_rate": 16000},
        duration=1.0,
    ).eval()
    clips = _real_clips(esc50_root, 16000, 2, seconds=1.7, offset=1.0)  # another length than the export's
    with torch.no_grad():
        expected = WaveformClassifier(task)(clips).numpy()
    exported = load_exported(export_model(task, tmp_path / "cat.onnx"))
    np.testing.assert_allclose(exported._run(clips.numpy()), expected, atol=1e-4, rtol=0)
