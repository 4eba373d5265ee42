"""The CLI only parses arguments: sub-commands come from the engine's registry, errors are one line."""

import subprocess
import sys
from pathlib import Path

from audiolens.cli.main import build_parser, main
from audiolens.engine.commands import COMMANDS
from audiolens.engine.stages import STAGES
from audiolens.training import TASKS

CLI = Path(__file__).resolve().parents[2] / "src" / "audiolens" / "cli"


def test_sub_commands_come_from_the_registry():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert set(choices) == set(COMMANDS.names())
    assert {"run", "evaluate", "config", "report", "sweep", "models", "data"} <= set(choices)


def test_cli_holds_no_task_or_stage_branches():
    source = "\n".join(p.read_text() for p in CLI.glob("*.py"))
    for name in [*TASKS.names(), *STAGES.names(), "infoplane", "node_classification"]:
        assert f'"{name}"' not in source and f"'{name}'" not in source, name


def test_help_imports_no_heavy_library():
    # torch and Lightning are imported lazily, by the commands that need them (the start-up time
    # itself is measured by benchmarks/engine.py)
    assert subprocess.run([sys.executable, "-m", "audiolens", "--help"], capture_output=True).returncode == 0
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, audiolens.cli.main as m; m.build_parser(); "
            "print('torch' in sys.modules, 'lightning' in sys.modules)",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "False False"


def test_bad_input_is_one_line_with_status_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("audiolens: error: experiment file not found") and err.count("\n") == 1
