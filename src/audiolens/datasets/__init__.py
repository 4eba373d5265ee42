"""Audio classification datasets: FSDD, ESC-50, UrbanSound8K, Speech Commands, folder, synthetic.

Build one by name with :func:`create_dataset` (names from :func:`list_datasets`; loaders
register with :func:`register_dataset`); each is an :class:`AudioDataset` of :class:`Record`
entries whose items decode to :class:`AudioItem` (single-label, multi-label or unlabelled).
:func:`concat_datasets` joins several (``data.sources``).
:func:`download_dataset` fetches the official archives of the public ones.

Graph data (one :class:`torch_geometric.data.Data` per data set, not in :func:`create_dataset`):
:func:`load_planetoid` (Cora, CiteSeer; names from :func:`list_planetoid`) and
:func:`load_ogbn_arxiv`.
"""

from audiolens.datasets.base import NO_TARGET, TARGET_TYPES, AudioDataset, AudioItem, Record, find_audio
from audiolens.datasets.concat import ConcatAudioDataset, concat_datasets, select_folds
from audiolens.datasets.download import download_dataset
from audiolens.datasets.esc50 import load_esc50
from audiolens.datasets.folder import load_folder
from audiolens.datasets.fsdd import load_fsdd
from audiolens.datasets.planetoid import list_planetoid, load_ogbn_arxiv, load_planetoid
from audiolens.datasets.registry import DATASETS, create_dataset, dataset_options, list_datasets, register_dataset
from audiolens.datasets.speech_commands import load_speech_commands
from audiolens.datasets.synthetic import SYNTHETIC_CLASSES, SyntheticDataset, load_synthetic
from audiolens.datasets.urbansound8k import load_urbansound8k

__all__ = [
    "DATASETS",
    "NO_TARGET",
    "SYNTHETIC_CLASSES",
    "TARGET_TYPES",
    "AudioDataset",
    "AudioItem",
    "ConcatAudioDataset",
    "Record",
    "SyntheticDataset",
    "concat_datasets",
    "create_dataset",
    "dataset_options",
    "download_dataset",
    "find_audio",
    "list_datasets",
    "list_planetoid",
    "load_esc50",
    "load_folder",
    "load_fsdd",
    "load_ogbn_arxiv",
    "load_planetoid",
    "load_speech_commands",
    "load_synthetic",
    "load_urbansound8k",
    "register_dataset",
    "select_folds",
]
