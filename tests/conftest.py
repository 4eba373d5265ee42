"""Shared fixtures: real-data locations (skipped when absent) and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes caches into its own temporary folder unless AUDIOLENS_CACHE is shared."""
    if "AUDIOLENS_TEST_SHARED_CACHE" not in os.environ:
        monkeypatch.setenv("AUDIOLENS_CACHE", str(tmp_path_factory.mktemp("cache")))


def _real(name: str) -> Path:
    root = os.environ.get("AUDIOLENS_DATA")
    if not root or not (Path(root) / name).is_dir():
        pytest.skip(f"real data {name!r} not available (set AUDIOLENS_DATA)")
    return Path(root) / name


@pytest.fixture
def fsdd_root() -> Path:
    """The real FSDD copy (folder holding recordings/)."""
    return _real("fsdd")


@pytest.fixture
def esc50_root() -> Path:
    """The real ESC-50 copy (folder holding meta/ and audio/)."""
    return _real("esc50")


@pytest.fixture
def planetoid_root() -> Path:
    """The real read-only Planetoid copy (folder holding Cora/raw/ and CiteSeer/raw/)."""
    root = os.environ.get("AUDIOLENS_DATA")
    if not root or not (Path(root) / "planetoid" / "Cora" / "raw").is_dir():
        pytest.skip("real data 'planetoid' not available (set AUDIOLENS_DATA)")
    return Path(root) / "planetoid"
