"""Helpers for tests: write tiny datasets in the official layouts into a temporary folder."""

from audiolens.testing.checkpoints import save_checkpoint, seeded_classifier
from audiolens.testing.fixtures import (
    ESC10_TARGETS,
    ESC50_CATEGORIES,
    SONYC_UST_TAXONOMY,
    URBANSOUND8K_CLASSES,
    class_frequency,
    make_esc50,
    make_folder,
    make_fsdd,
    make_multilabel_folder,
    make_sonyc_ust,
    make_speech_commands,
    make_urbansound8k,
    tree_snapshot,
    write_tone,
)

__all__ = [
    "ESC10_TARGETS",
    "ESC50_CATEGORIES",
    "SONYC_UST_TAXONOMY",
    "URBANSOUND8K_CLASSES",
    "class_frequency",
    "make_esc50",
    "make_folder",
    "make_fsdd",
    "make_multilabel_folder",
    "make_sonyc_ust",
    "make_speech_commands",
    "make_urbansound8k",
    "save_checkpoint",
    "seeded_classifier",
    "tree_snapshot",
    "write_tone",
]
