"""``task.type: transcoder``: train a third-octave -> Mel transcoder against a frozen teacher.

The method and its losses are in :mod:`audiolens.training.transcoder`. The ``task`` section::

    task:
      type: transcoder
      loss: logits                 # logits (CNN-logits), mels (CNN-mels) or hybrid
      teacher:                     # one of three forms:
        checkpoint: PATH           #   a classification checkpoint of ours,
        # experiment: FILE.yaml    #   or an experiment trained first in RUN/teacher/ (with `set: [...]`),
        # model: resnet38          #   or a registry model with official weights:
        # weights: ResNet38_mAP=0.434.pth
        # features: {type: logmel, preset: pann}
        # labels: class_labels_indices.csv   (or num_classes: 527)
      baselines: [mels]            # also train these losses, in RUN/cnn-<loss>/, against the same teacher
      chunk_seconds: 1.0           # the authors' 1 s chunks
      train_chunks: null           # chunks drawn per clip per epoch (null: all)
      init_from: null              # a baseline (e.g. mels): start from RUN/cnn-<loss>/checkpoints/best.ckpt

``features`` is the third-octave analysis (``type: third_octave``, preset ``cense``); ``model``
the transcoder (``transcoder_cnn``); the target Mel is the teacher's front-end. The data are
split like classification data (``data.test_folds``, ``data.val_folds``...). Defaults follow the
authors: Adam, lr 1e-3, no weight decay, a constant rate, batch 64 (``data.batch_size``), the
checkpoint with the lowest validation loss.

Results: ``metrics.json`` holds ``test_ptopa_fc``, ``test_kl``, ``test_mel_mse`` and the PINV
baseline's ``pinv_test_*``; ``eval/test.json`` (and every ``evaluate`` entry) holds
``{"ptopa_fc", "kl", "mel_mse", "n", ...}`` for the transcoder and the same keys under
``"pinv"``; the run's test split also lists the baselines' sub-runs under ``"baselines"``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from pydantic import Field, model_validator

from audiolens._internal.config import Config, PositiveFloat, PositiveInt
from audiolens._internal.errors import DataError, ParameterError, unknown_choice
from audiolens._internal.paths import atomic_open
from audiolens.datasets import create_dataset, list_datasets
from audiolens.models import is_model, list_models, model_default_cfg, model_input_kinds
from audiolens.training.data import build_dataset, dataset_targets, decode_all, split_indices
from audiolens.training.evaluate import EvaluateEntry, select_split
from audiolens.training.tasks import SubRun, TaskPlugin, read_checkpoint, register_task
from audiolens.training.transcoder import (
    Teacher,
    TranscoderData,
    TranscoderTask,
    clip_outputs,
    downstream_scores,
    mel_examples,
    prepare_chunks,
    transcoder_metrics,
    transcoder_outputs,
    warn_if_upsampled,
)

__all__ = ["TeacherConfig", "TranscoderConfig", "TranscoderPlugin"]

Loss = Literal["logits", "mels", "hybrid"]


class TeacherConfig(Config):
    """``task.teacher``: the frozen classifier whose outputs the transcoder must preserve (one form).

    Attributes:
        checkpoint: A classification checkpoint of ours (``RUN/checkpoints/best.ckpt``).
        experiment: An experiment file, trained first in the sub-run ``RUN/teacher/`` (read once:
            a resumed run uses ``RUN/teacher/config.yaml``).
        set: ``key=value`` overrides of ``experiment``.
        sibling: The teacher trained in the sibling sub-run ``RUN/../<sibling>/`` (what the
            baselines' sub-runs ``RUN/cnn-<loss>/`` get: ``teacher``; a path-free reference, so a
            run folder can move).
        model: A registry classifier on log-Mel (``resnet38``, ``cnn14``, ``yamnet``) ...
        weights: ... with its official weights (``model.init_checkpoint`` rules, ``strict``).
        features: The model's log-Mel front-end (default: the model's preset, ``{type: logmel,
            preset: yamnet}`` for YAMNet, ``pann`` for the others).
        labels: A CSV of class names (AudioSet's ``class_labels_indices.csv``: the
            ``display_name`` column; otherwise the first column), or ...
        num_classes: ... the number of classes (names ``class_0`` ...).
        multilabel: Sigmoid outputs (official AudioSet models) rather than softmax.
    """

    checkpoint: str | None = None
    experiment: str | None = None
    set: list[str] = []
    sibling: str | None = None
    model: str | None = None
    weights: str | None = None
    features: dict[str, Any] | None = None
    labels: str | None = None
    num_classes: PositiveInt | None = None
    multilabel: bool = True

    @model_validator(mode="after")
    def _one_form(self) -> TeacherConfig:
        forms = [k for k in ("checkpoint", "experiment", "sibling", "model") if getattr(self, k)]
        if len(forms) != 1:
            raise ParameterError(
                "task.teacher needs exactly one of checkpoint (a classification checkpoint), experiment (trained "
                f"first in RUN/teacher/) or model + weights (official weights); got {forms or 'none'}"
            )
        if self.set and not self.experiment:
            raise ParameterError("task.teacher.set overrides task.teacher.experiment; give the experiment")
        if self.model and not self.weights:
            raise ParameterError(
                f"task.teacher.model {self.model!r} needs task.teacher.weights (the official weights file)"
            )
        if self.model and not (self.labels or self.num_classes):
            raise ParameterError("task.teacher.model needs labels (a class-names CSV) or num_classes")
        return self


class TranscoderConfig(Config):
    """The ``task`` section of ``type: transcoder`` (see the module doc).

    Attributes:
        type: ``transcoder``.
        teacher: The frozen teacher (:class:`TeacherConfig`).
        loss: ``logits``, ``mels`` or ``hybrid``.
        hybrid_p: ``p`` of the hybrid loss ``(1 - p) mels + p * logit_scale * logits``.
        logit_scale: ``k_logit / p``; ``null``: the teacher model's ``transcoder_logit_scale``
            (:func:`default_logit_scale`: the authors' 10 for ``yamnet``, 1500 for PANN and others).
        baselines: Other losses trained as sub-runs ``RUN/cnn-<loss>/`` with the same teacher.
        chunk_seconds: Chunk length in seconds.
        train_chunks: Chunks drawn per clip per training epoch (``null``: all).
        monitor: ``val_loss`` (min), ``val_mel_mse`` (min) or ``val_bce`` (min; not with ``mels``).
        init_from: A loss of ``baselines`` whose sub-run's best checkpoint initialises this run's
            transcoder (``model.init_checkpoint`` set to ``RUN/cnn-<loss>/checkpoints/best.ckpt``
            at fit time); ``null``: from scratch, as the authors.
    """

    type: Literal["transcoder"] = "transcoder"
    teacher: TeacherConfig
    loss: Loss = "logits"
    hybrid_p: float = Field(0.5, ge=0.0, le=1.0)
    logit_scale: PositiveFloat | None = None
    baselines: list[Loss] = []
    chunk_seconds: PositiveFloat = 1.0
    train_chunks: PositiveInt | None = None
    monitor: str = "val_loss"
    init_from: Loss | None = None


def default_logit_scale(model: str) -> float:
    """The hybrid loss' ``k_logit / p`` for a teacher model: its registry ``transcoder_logit_scale``, else 1500.

    The authors use 1500 for PANN and 10 for YAMNet (``../shared/design/transcoder-and-frontends.md``).
    """
    return float(model_default_cfg(model).get("transcoder_logit_scale", 1500.0))


def _class_names(teacher: TeacherConfig) -> list[str]:
    if teacher.labels is None:
        return [f"class_{k}" for k in range(int(teacher.num_classes))]
    path = Path(teacher.labels)
    if not path.is_file():
        raise DataError(f"task.teacher.labels: {path} not found; give the class-names CSV or num_classes")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"task.teacher.labels: {path} is empty")
    header = [h.strip() for h in rows[0]]
    if "display_name" in header:
        column = header.index("display_name")
        return [row[column] for row in rows[1:] if row]
    return [row[0] for row in rows if row]


@register_task("transcoder")
class TranscoderPlugin(TaskPlugin):
    """Teacher-student transcoder training (see the module doc)."""

    config = TranscoderConfig
    module_class = TranscoderTask
    optim_defaults = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0, "schedule": "constant", "warmup_epochs": 0}
    trainer_defaults = {"max_epochs": 200}
    metric_modes = {"val_loss": "min", "val_mel_mse": "min", "val_bce": "min"}
    headline = ("test_ptopa_fc", "test_kl", "test_mel_mse", "pinv_test_ptopa_fc")

    # ------------------------------------------------------------------ configuration
    def check(self, exp: Any) -> None:
        """The transcoder model, the third-octave input, the teacher's form and names, the monitor."""
        super().check(exp)
        task = exp.task
        if task.monitor == "val_bce" and task.loss == "mels":
            raise ParameterError("task.monitor val_bce needs task.loss logits or hybrid (mels logs no BCE)")
        if not is_model(exp.model.name):
            raise unknown_choice("model", exp.model.name, list_models())
        if "third_octave" not in model_input_kinds(exp.model.name):
            raise ParameterError(
                f"model {exp.model.name!r} is not a transcoder (it does not take third-octave levels); "
                "use transcoder_cnn"
            )
        if exp.features.kind != "third_octave":
            raise ParameterError(f"task.type transcoder needs features.type: third_octave, got {exp.features.type!r}")
        if task.teacher.model is not None and not is_model(task.teacher.model):
            raise unknown_choice("task.teacher.model", task.teacher.model, list_models())
        if exp.data.name not in list_datasets():
            raise unknown_choice("dataset", exp.data.name, list_datasets())
        if task.loss in task.baselines:
            raise ParameterError(f"task.baselines repeats the run's own loss {task.loss!r}")
        if task.init_from is not None and task.init_from not in task.baselines:
            raise ParameterError(
                f"task.init_from {task.init_from!r} is not a trained baseline; add it to task.baselines "
                f"(now {task.baselines})"
            )
        if task.init_from is not None and exp.model.init_checkpoint:
            raise ParameterError("set either task.init_from or model.init_checkpoint, not both")

    def check_evaluate(self, entry: EvaluateEntry) -> None:
        """A registered dataset."""
        if entry.name not in list_datasets():
            raise unknown_choice("evaluate dataset", entry.name, list_datasets())

    def teacher_checkpoint(self, exp: Any, run_dir: Path) -> Path | None:
        """The teacher's checkpoint file (``RUN/teacher/checkpoints/best.ckpt`` for the experiment form)."""
        teacher = exp.task.teacher
        if teacher.experiment:
            return Path(run_dir) / "teacher" / "checkpoints" / "best.ckpt"
        if teacher.sibling:
            return Path(run_dir).parent / teacher.sibling / "checkpoints" / "best.ckpt"
        return Path(teacher.checkpoint) if teacher.checkpoint else None

    def _pinned(self, exp: Any, run_dir: Path) -> Any:
        """``exp`` with a sub-run teacher replaced by its trained checkpoint (at fit and evaluation time only)."""
        if not (exp.task.teacher.experiment or exp.task.teacher.sibling):
            return exp
        teacher = TeacherConfig(checkpoint=str(self.teacher_checkpoint(exp, run_dir)))
        return exp.model_copy(update={"task": exp.task.model_copy(update={"teacher": teacher})})

    def _initialised(self, exp: Any, run_dir: Path) -> Any:
        """``exp`` with ``task.init_from`` turned into ``model.init_checkpoint`` (the baseline's best checkpoint)."""
        if exp.task.init_from is None:
            return exp
        path = Path(run_dir) / f"cnn-{exp.task.init_from}" / "checkpoints" / "best.ckpt"
        if not path.is_file():
            raise DataError(
                f"task.init_from {exp.task.init_from!r}: {path} not found; the subruns stage trains it first"
            )
        return exp.model_copy(update={"model": exp.model.model_copy(update={"init_checkpoint": str(path)})})

    def subruns(self, exp: Any, run_dir: Path) -> list[SubRun]:
        """``teacher/`` (experiment form), then ``cnn-<loss>/`` for every baseline loss."""
        runs = []
        teacher = exp.task.teacher
        if teacher.experiment:
            runs.append(SubRun("teacher", path=teacher.experiment, overrides=tuple(teacher.set), origin="task.teacher"))
            shared = TeacherConfig(sibling="teacher")
        else:
            shared = teacher
        for loss in exp.task.baselines:
            task = exp.task.model_copy(update={"loss": loss, "baselines": [], "teacher": shared, "init_from": None})
            if task.monitor == "val_bce" and loss == "mels":
                task = task.model_copy(update={"monitor": "val_loss"})
            runs.append(SubRun(f"cnn-{loss}", experiment=exp.model_copy(update={"task": task})))
        return runs

    def check_subrun(self, exp: Any, name: str, sub: Any) -> None:
        """The teacher sub-run: one classification run on log-Mel that never trains on this run's test clips."""
        if name != "teacher":
            return
        where = "task.teacher.experiment"
        if sub.task.type != "classification":
            raise ParameterError(f"{where}: the teacher must be a classification experiment, got {sub.task.type!r}")
        if sub.features.kind != "logmel":
            raise ParameterError(
                f"{where}: the teacher must classify log-Mel (features.type: logmel), got {sub.features.type!r}"
            )
        if _is_cross_validation(sub):
            raise ParameterError(f"{where}: the teacher must be one run, not a cross-validation; set one test fold")
        same_data = (sub.data.name, sub.data.root, sub.data.kwargs) == (exp.data.name, exp.data.root, exp.data.kwargs)
        if same_data and (sub.data.test_folds or None) != (exp.data.test_folds or None):
            raise ParameterError(
                f"{where}: the teacher holds out data.test_folds={sub.data.test_folds} but this run tests on "
                f"{exp.data.test_folds}; a teacher trained on the transcoder's test clips would flatter it. Use the "
                "same test folds"
            )

    # ------------------------------------------------------------------ training
    def teacher(self, exp: Any) -> Teacher:
        """The frozen teacher of ``exp`` (checkpoint or official-weights form).

        Raises:
            DataError: A missing or unreadable file.
            ParameterError: A checkpoint of another task; weights with a missing or renamed key.
        """
        config = exp.task.teacher
        if config.checkpoint:
            return Teacher.from_checkpoint(read_checkpoint(config.checkpoint), config.checkpoint)
        if config.experiment or config.sibling:
            raise ParameterError("a sub-run teacher must be trained first (the subruns stage does it)")
        preset = model_default_cfg(config.model).get("preset", "pann")
        return Teacher.from_weights(
            config.model,
            config.weights,
            features=config.features or {"type": "logmel", "preset": preset},
            class_names=_class_names(config),
            multilabel=config.multilabel,
        )

    def datamodule(self, exp: Any, teacher: Teacher, device: str | None = None) -> TranscoderData:
        """Clips decoded at the analysis' rate, split by the ``data`` section's protocol.

        ``device``: where the chunks are computed (default: the training device).
        """
        analysis = exp.features.frontend()
        dataset = build_dataset(exp.data, analysis.sample_rate)
        paths = [r.path for r in dataset.records]
        native = warn_if_upsampled(paths, analysis.sample_rate, f"dataset {dataset.name!r}")
        indices = split_indices(
            dataset,
            test_folds=exp.data.test_folds,
            val_folds=exp.data.val_folds,
            val_fraction=exp.data.val_fraction,
            test_fraction=exp.data.test_fraction,
            seed=exp.seed,
        )
        waves, _ = decode_all(dataset)
        split = {name: [waves[i] for i in idx] for name, idx in indices.items()}
        targets = {name: _targets(dataset, idx) for name, idx in indices.items()}
        data = TranscoderData(
            split,
            analysis.sample_rate,
            analysis,
            teacher,
            chunk_seconds=exp.task.chunk_seconds,
            duration=exp.data.duration,
            train_chunks=exp.task.train_chunks,
            batch_size=exp.data.batch_size,
            seed=exp.seed,
            device=device or _device(exp),
        )
        data.indices, data.targets, data.native_rate = indices, targets, native
        return data

    def build(self, exp: Any) -> tuple[L.LightningModule, L.LightningDataModule]:
        """A :class:`TranscoderTask` (teacher weights loaded) and its :class:`TranscoderData`."""
        teacher = self.teacher(exp)
        module = TranscoderTask(
            teacher=teacher.spec,
            model=exp.model.name,
            model_kwargs=exp.model.kwargs,
            features=exp.features.to_dict(),
            loss=exp.task.loss,
            hybrid_p=exp.task.hybrid_p,
            logit_scale=exp.task.logit_scale or default_logit_scale(teacher.spec["model"]),
            optim=exp.optim.to_dict(),
            seed=exp.seed,
            chunk_seconds=exp.task.chunk_seconds,
        )
        module.teacher.load_state_dict(teacher.state_dict())
        return module, self.datamodule(exp, module.teacher)

    def fit(self, exp: Any, run_dir: Path, *, resume: bool, callbacks: list[L.Callback]) -> Any:
        """Train against the teacher (an experiment-form teacher: the one trained in ``RUN/teacher/``)."""
        return super().fit(
            self._initialised(self._pinned(exp, run_dir), run_dir), run_dir, resume=resume, callbacks=callbacks
        )

    def has_test(self, datamodule: TranscoderData) -> bool:
        """Whether the split holds test clips."""
        return bool(datamodule.waves.get("test"))

    def sizes(self, datamodule: TranscoderData) -> dict[str, int]:
        """Clips per split."""
        return {split: len(datamodule.waves.get(split, [])) for split in ("train", "val", "test")}

    def after_fit(self, module: TranscoderTask, datamodule: TranscoderData, fitted: Any) -> dict:
        """PtoPa-FC, KL and Mel MSE of the best checkpoint and of PINV on the test clips."""
        if not datamodule.waves.get("test"):
            return {}
        scores = _scores(module.to(fitted.trainer.strategy.root_device), datamodule.split("test"))
        final = {f"test_{k}": v for k, v in scores.items() if k in ("ptopa_fc", "kl", "mel_mse")}
        final.update({f"pinv_test_{k}": v for k, v in scores["pinv"].items() if k in ("ptopa_fc", "kl", "mel_mse")})
        return final

    # ------------------------------------------------------------------ evaluation
    def evaluate_test(self, exp: Any, run_dir: Path, device: str) -> dict[str, Any] | None:
        """``best.ckpt`` and PINV on the run's test clips; the baselines' sub-runs under ``"baselines"``."""
        from audiolens.training.tasks import load_checkpoint

        best = Path(run_dir) / "checkpoints" / "best.ckpt"
        module = load_checkpoint(best, device)
        data = self.datamodule(self._pinned(exp, run_dir), module.teacher, device)
        if not data.waves.get("test"):
            return None
        result = {
            **_scores(module, data.split("test")),
            "loss": module.loss_name,
            **_rates(data.native_rate, data.sample_rate),
            "checkpoints": [str(best)],
            "dataset": exp.data.name,
            "split": "test",
        }
        baselines, others = {}, {}
        for loss in exp.task.baselines:
            sub = Path(run_dir) / f"cnn-{loss}"
            if (sub / "eval" / "test.json").is_file():
                scores = json.loads((sub / "eval" / "test.json").read_text())
                baselines[loss] = {k: v for k, v in scores.items() if k not in ("pinv", "entry", "mel_examples")}
                others[f"cnn-{loss}"] = load_checkpoint(sub / "checkpoints" / "best.ckpt", device)
        if baselines:
            result["baselines"] = baselines
        if data.targets["test"] is not None:
            result["downstream"] = _downstream(module, others, data, exp.seed)
        examples = mel_examples(module, data.split("test"), others)
        with atomic_open(Path(run_dir) / "eval" / "test-mels.npz") as handle:
            np.savez_compressed(handle, **examples)
        result["mel_examples"] = "eval/test-mels.npz"
        return result

    def evaluate(self, checkpoints: list[Path], entry: EvaluateEntry, device: str) -> dict[str, Any]:
        """One transcoder checkpoint and PINV on the entry's dataset and split (whole clips, in chunks).

        With ``split: all`` on labelled data, also the downstream head by the dataset's protocol
        (folds: leave one fold out, e.g. UrbanSound8K's 10 folds; official splits: train -> test,
        e.g. SONYC-UST, as the paper's 4.4), under ``"downstream"``.

        Raises:
            ParameterError: Several checkpoints (transcoders are not ensembled).
        """
        from audiolens.training.tasks import load_checkpoint

        if len(checkpoints) != 1:
            raise ParameterError(f"evaluate one transcoder checkpoint at a time, got {len(checkpoints)}")
        module = load_checkpoint(checkpoints[0], device)
        rate = module.analysis.sample_rate
        dataset = create_dataset(entry.name, entry.root, sample_rate=rate, **entry.kwargs)
        indices = select_split(dataset, entry.split)
        if not indices:
            raise DataError(f"split {entry.split!r} of {entry.name!r} has no clips")
        native = warn_if_upsampled([dataset.records[i].path for i in indices], rate, f"dataset {entry.name!r}")
        waves = [dataset.load_waveform(i)[0] for i in indices]
        chunks = prepare_chunks(
            waves, rate, module.analysis, module.teacher, chunk_seconds=module.hparams.chunk_seconds, device=device
        )
        extra = {}
        targets = _targets(dataset, indices)
        if entry.split == "all" and targets is not None:
            records = [dataset.records[i] for i in indices]
            downstream = _downstream_dataset(module, chunks, targets, records, seed=0)
            if downstream is not None:
                extra["downstream"] = downstream
        return {
            **_scores(module, chunks),
            **extra,
            **_rates(native, rate),
            "loss": module.loss_name,
            "checkpoints": [str(c) for c in checkpoints],
            "dataset": entry.name,
            "data_root": entry.root,
            "split": entry.split,
        }


def _is_cross_validation(sub: Any) -> bool:
    """Whether the classification experiment ``sub`` is a cross-validation (several folds or LOSO)."""
    from audiolens.training.tasks import TASKS

    return bool(TASKS.get(sub.task.type)().cv_folds(sub))


def _rates(native: int | None, analysis: int) -> dict[str, Any]:
    """``{"stored_sample_rate", "analysis_sample_rate"}``: the report's caveat for audio resampled up."""
    return {"stored_sample_rate": native, "analysis_sample_rate": analysis}


def _targets(dataset: Any, indices: list[int]) -> torch.Tensor | None:
    """Targets of ``indices`` (:func:`~audiolens.training.data.dataset_targets`; ``None``: unlabelled data)."""
    return None if dataset.target_type == "none" else dataset_targets(dataset, indices)


_HEAD = "Linear(n_classes, 100) - ReLU - Linear(100, K) on clip-averaged teacher outputs"


def _kind_features(module: TranscoderTask, others: dict[str, TranscoderTask], chunks: Any) -> dict[str, torch.Tensor]:
    """Clip-averaged teacher outputs ``(n_clips, n_classes)`` from true, PINV and every transcoder's Mel."""
    kinds: dict[str, Any] = {"true": None, "pinv": module, f"cnn-{module.loss_name}": module, **others}
    features = {}
    for kind, transcoder in kinds.items():
        if transcoder is None:
            probs = chunks.probs
        else:
            probs = transcoder_outputs(transcoder, chunks, pinv=kind == "pinv")[0]
        features[kind] = clip_outputs(probs, chunks)
    return features


def _downstream(module: TranscoderTask, others: dict[str, TranscoderTask], data: Any, seed: int) -> dict[str, Any]:
    """The downstream head (table 3 analog) per teacher input.

    Trained on the run's training and validation clips, scored on its test clips.
    """
    splits = [s for s in ("train", "val", "test") if data.waves.get(s)]
    features = {split: _kind_features(module, others, data.split(split)) for split in splits}
    train = [s for s in ("train", "val") if s in features]
    scores: dict[str, Any] = {}
    for kind in features["test"]:
        scores[kind] = downstream_scores(
            torch.cat([features[s][kind] for s in train]),
            torch.cat([data.targets[s] for s in train]),
            features["test"][kind],
            data.targets["test"],
            seed=seed,
        )
    scores["head"] = _HEAD
    return scores


def _downstream_dataset(
    module: TranscoderTask, chunks: Any, targets: torch.Tensor, records: list[Any], seed: int
) -> dict[str, Any] | None:
    """The downstream head on a whole dataset, by its protocol (``None`` when it has none).

    Folds (UrbanSound8K): leave one fold out, the mean over folds (and each fold's score);
    official splits (SONYC-UST): trained on the train split, scored on test (the paper's 4.4).
    """
    features = _kind_features(module, {}, chunks)
    folds = [r.fold for r in records]
    splits = [r.split for r in records]
    scores: dict[str, Any] = {}
    if None not in folds and len(set(folds)) > 1:
        fold_ids = torch.tensor(folds)
        for kind, x in features.items():
            per_fold = {}
            for fold in sorted(set(folds)):
                test = fold_ids == fold
                per_fold[fold] = downstream_scores(x[~test], targets[~test], x[test], targets[test], seed=seed)
            names = per_fold[min(per_fold)]
            scores[kind] = {m: float(np.mean([v[m] for v in per_fold.values()])) for m in names}
            scores[kind]["per_fold"] = {str(k): v for k, v in per_fold.items()}
        scores["protocol"] = f"leave one fold out over folds {sorted(set(folds))}"
    elif "test" in splits and "train" in splits:
        test = torch.tensor([s == "test" for s in splits])
        train = torch.tensor([s == "train" for s in splits])
        for kind, x in features.items():
            scores[kind] = downstream_scores(x[train], targets[train], x[test], targets[test], seed=seed)
        scores["protocol"] = "trained on the train split, scored on the test split"
    else:
        return None
    scores["head"] = _HEAD
    return scores


def _scores(module: TranscoderTask, chunks: Any) -> dict[str, Any]:
    """The transcoder's metrics with the PINV baseline's under ``"pinv"``."""
    module.eval()
    names = module.teacher.class_names
    cnn = transcoder_metrics(*transcoder_outputs(module, chunks), chunks, names)
    pinv = transcoder_metrics(*transcoder_outputs(module, chunks, pinv=True), chunks, names)
    return {**cnn, "pinv": pinv}


def _device(exp: Any) -> str:
    """Where the chunks are computed: the GPU when training runs on one."""
    accelerator = str(getattr(exp.trainer, "accelerator", "auto"))
    return "cuda" if torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda") else "cpu"
