import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, average_precision_score, f1_score
from sklearn.metrics import confusion_matrix as sk_confusion

from audiolens import ParameterError
from audiolens.training.evaluate import classification_metrics, confusion_matrix, multilabel_metrics


def test_metrics_match_sklearn():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(200, 5, generator=g).softmax(-1)
    targets = torch.randint(0, 5, (200,), generator=g)
    pred = probs.argmax(-1).numpy()
    m = classification_metrics(probs, targets)
    assert m["n"] == 200
    assert m["accuracy"] == pytest.approx(accuracy_score(targets, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(targets, pred, average="macro"), abs=1e-6)
    np.testing.assert_array_equal(confusion_matrix(probs, targets), sk_confusion(targets, pred, labels=range(5)))


def test_multilabel_map_matches_sklearn():
    g = torch.Generator().manual_seed(1)
    probs = torch.rand(100, 4, generator=g)
    targets = (torch.rand(100, 4, generator=g) > 0.6).long()
    ref = average_precision_score(targets.numpy(), probs.numpy(), average="macro")
    assert multilabel_metrics(probs, targets)["map"] == pytest.approx(ref, abs=1e-6)


def test_metrics_bad_shapes():
    with pytest.raises(ParameterError):
        classification_metrics(torch.rand(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ParameterError):
        multilabel_metrics(torch.rand(3, 2), torch.zeros(3, 3))


def test_ensemble_averages_probabilities():
    from audiolens.functional import get_preset
    from audiolens.training.data import WaveformDataset
    from audiolens.training.evaluate import predict_probabilities
    from audiolens.training.task import ClassificationTask

    feats = get_preset("pann", 8000, n_mels=32).to_dict()
    torch.manual_seed(0)
    a = ClassificationTask("small_cnn_tiny", ["x", "y", "z"], features=feats).eval()
    b = ClassificationTask("small_cnn_tiny", ["x", "y", "z"], features=feats).eval()
    clips = WaveformDataset([torch.randn(2000) for _ in range(5)], [0, 1, 2, 0, 1], 2000)
    both = predict_probabilities([a, b], clips, batch_size=2)
    pa, pb = predict_probabilities([a], clips), predict_probabilities([b], clips)
    assert torch.allclose(both, (pa + pb) / 2, atol=1e-6)
    assert torch.allclose(both.sum(-1), torch.ones(5))
