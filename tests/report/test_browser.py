"""Generated reports in a real browser (Debian's headless Chromium, driven by selenium).

Every kind of report the engine writes is opened at 1280 px and 390 px: images loaded, audio
playable, no console error, links resolving, no sideways scrolling; screenshots are saved (to
``$AUDIOLENS_SCREENSHOTS`` when set). ``make test`` installs Chromium when it is missing; CI sets
``AUDIOLENS_REQUIRE_BROWSER=1`` so that a missing browser fails instead of skipping.
"""

import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf
import yaml

from audiolens.cli.main import main
from audiolens.testing.browser import browser_available, check_report, chromium, serve

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--set", "trainer.enable_progress_bar=false", "--set", "trainer.enable_model_summary=false"]
TINY = {
    "data": {"name": "synthetic", "kwargs": {"n_per_class": 6, "duration": 0.5, "seed": 0}, "batch_size": 16},
    "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
    "model": {"name": "small_cnn_tiny"},
    "trainer": {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False},
    "seed": 0,
}


@pytest.fixture(scope="module")
def driver():
    missing = browser_available()
    if missing:
        if os.environ.get("AUDIOLENS_REQUIRE_BROWSER"):
            pytest.fail(f"AUDIOLENS_REQUIRE_BROWSER is set and the browser checks lack {missing}")
        pytest.skip(f"no browser here ({missing}); `make test` installs Debian's chromium and chromium-driver")
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("AUDIOLENS_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


def _run(args, cwd=None):
    previous = os.getcwd()
    os.chdir(cwd or previous)
    try:
        assert main(args) == 0
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The reports of a quick start, a cross-validation, a transcoder and a sweep, and their index."""
    root = tmp_path_factory.mktemp("runs")
    _run(["run", str(REPO / "configs" / "quickstart.yaml"), "--out", str(root / "quickstart"), *QUIET]
         + ["--set", "trainer.max_epochs=2", "--set", "data.kwargs.n_per_class=8"])  # fmt: skip
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    _run(["run", str(root / "tiny.yaml"), "--out", str(root / "cv"), "--set", "data.test_folds=[4, 5]"])
    teacher = {**TINY, "features": {"preset": "pann", "sample_rate": 32000, "n_mels": 32}}
    (root / "teacher.yaml").write_text(yaml.safe_dump(teacher))
    transcoder = {
        **TINY,
        "data": {**TINY["data"], "kwargs": {**TINY["data"]["kwargs"], "duration": 1.0}, "test_folds": [5]},
        "features": {"type": "third_octave"},
        "model": {"name": "transcoder_cnn", "kwargs": {"channels": 8, "n_layers": 2}},
        "task": {"type": "transcoder", "teacher": {"experiment": "teacher.yaml"}},
    }
    (root / "transcoder.yaml").write_text(yaml.safe_dump(transcoder))
    _run(["run", "transcoder.yaml", "--out", "transcoder"], cwd=root)
    sweep = {"experiment": "tiny.yaml", "variants": {"a": [], "b": ["optim.lr=0.01"]}, "seeds": [0, 1]}
    (root / "sweep.yaml").write_text(yaml.safe_dump({**sweep, "metric": "final.test_accuracy"}))
    _run(["sweep", "sweep.yaml", "--out", "sweep"], cwd=root)
    _run(["report", "--index", str(root), "--out", str(root / "index.html")])
    return root


def _check(driver, root, page, shots, name):
    with serve(root) as base:
        found = check_report(driver, base + quote(page), screenshots=shots, name=name)
    assert not found.problems, "\n".join(found.problems)
    assert all(p.is_file() and p.stat().st_size > 1000 for p in found.screenshots) and len(found.screenshots) == 2
    return found


@pytest.mark.parametrize(
    "page,least_images",
    [("quickstart/report.html", 2), ("cv/report.html", 1), ("transcoder/report.html", 1), ("sweep/report.html", 1)],
)
def test_reports_pass_in_chromium(driver, runs, shots, page, least_images):
    found = _check(driver, runs, page, shots, page.split("/")[0])
    assert found.images >= least_images


def test_the_index_links_every_report_and_they_resolve(driver, runs, shots):
    found = _check(driver, runs, "index.html", shots, "index")
    assert found.links >= 4  # quickstart, cv, transcoder, sweep (cells belong to the sweep)
    index = (runs / "index.html").read_text()
    assert index.count("<td data-v='complete'>complete</td>") == 4 and "class='bad'" not in index
    sweep_row = index[index.index("<td data-v='sweep'>") :].split("</tr>")[0]
    assert "<td>small_cnn_tiny</td><td>synthetic</td>" in sweep_row and "highest mean over seeds: variant" in sweep_row


@pytest.mark.slow
def test_fsdd_full_scaled_down_passes_with_players(driver, shots, tmp_path):
    """configs/fsdd-full.yaml itself on the real FSDD (1 epoch, few clips): every section, audio included."""
    data = Path(os.environ.get("AUDIOLENS_DATA", REPO.parent / "shared" / "data"))
    if not (data / "fsdd" / "recordings").is_dir() or not (data / "esc50" / "meta").is_dir():
        pytest.skip("FSDD and ESC-50 are not under AUDIOLENS_DATA")
    probe = f"[{{name: esc50, root: {data}/esc50, kwargs: {{subset: esc10}}, test_folds: [1], id: esc10}}]"
    sets = ["trainer.max_epochs=1", "checkpoint.every_n_epochs=1", "sonify.n_inputs=3", f"probe={probe}"]
    _run(["run", str(REPO / "configs" / "fsdd-full.yaml"), "--out", str(tmp_path / "full"), *QUIET]
         + [a for s in sets for a in ("--set", s)])  # fmt: skip
    found = _check(driver, tmp_path, "full/report.html", shots, "fsdd-full-scaled")
    assert found.audio >= 6 and found.images >= 8  # input + sonification players; every section's plots
    html = (tmp_path / "full" / "report.html").read_text()
    for heading in ("Evaluation", "Information plane", "Sonification", "Probes of the frozen encoder"):
        assert f"<h2>{heading}" in html, heading


def test_the_checks_catch_what_is_broken(driver, tmp_path):
    """A page with one of each fault fails every check (the checks can fail)."""
    sf.write(tmp_path / "ok.wav", np.zeros(800, dtype=np.float32), 8000)
    (tmp_path / "noise.wav").write_bytes(b"not a wav file at all" * 10)
    (tmp_path / "bad.html").write_text(
        "<!doctype html><html><head><link rel='icon' href='data:,'></head><body>"
        "<img src='missing.png' alt='x'><img src='ok.wav'>"
        "<audio controls src='ok.wav'></audio><audio controls src='noise.wav'></audio>"
        "<a href='nowhere.html'>x</a><a href='ok.wav'>ok</a>"
        "<details><summary>s</summary><pre style='width:2000px'>wide</pre></details>"
        "<script>undefinedFunction()</script></body></html>"
    )
    with serve(tmp_path) as base:
        found = check_report(driver, base + "bad.html")
    assert found.broken_images == [f"{src} ({w} px)" for w in (1280, 390) for src in ("missing.png", "ok.wav")]
    assert found.missing_alt == ["ok.wav"]
    assert len(found.broken_audio) == 1 and "/noise.wav: canPlayType" in found.broken_audio[0] and found.audio == 2
    assert found.broken_links == ["nowhere.html: HTTP 404"] and found.links == 2
    assert any("undefinedFunction" in e for e in found.console_errors)
    assert any("missing.png" in e for e in found.console_errors)
    assert [o.split(":")[0] for o in found.overflow] == ["1280 px", "390 px"]
