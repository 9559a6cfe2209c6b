"""``verimath.evaluate``: the README's example, the same run as ``verimath eval``, the config
it records (real engine, real sandboxed cells, real grader, real SQLite; the model replays)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import verimath
from tests.shared import SHARED_DATA
from verimath.cli import cli
from verimath.config import RunConfig, SolveOptions
from verimath.errors import ConfigError, RunConfigMismatchError

README = Path(__file__).resolve().parents[1] / "README.md"
MATHCODER_GSM8K = SHARED_DATA / "transcripts" / "mathcoder" / "MathCoder-CL-34b" / "GSM8K"
REPLAY = f"replay:{MATHCODER_GSM8K}"


def readme_evaluate_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if "verimath.evaluate(" in block)


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = readme_evaluate_example().replace("openai:gpt-4o", REPLAY)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, verimath.RunResult)
    assert result.summary.problems == 20 and result.summary.samples == 80
    assert result.path == Path("runs/gsm8k-gpt-4o.sqlite") and result.path.is_file()
    assert 0 < result.summary.accuracy <= 1
    assert result.recorded_accuracy is not None


def test_evaluate_and_the_command_make_the_same_run(tmp_path: Path) -> None:
    library = verimath.evaluate(
        "gsm8k", model=REPLAY, samples=2, limit=12, run_path=tmp_path / "library.sqlite"
    )
    run = str(tmp_path / "command.sqlite")
    command = CliRunner().invoke(
        cli,
        ["eval", "gsm8k", "--model", REPLAY, "-k", "2", "--limit", "12", "--json", "--run", run],
    )
    assert command.exit_code == 0, command.output
    printed = json.loads(command.stdout)
    expected = library.to_dict()
    for data in (printed, expected):
        data.pop("run")
    assert printed == expected
    again = verimath.evaluate(
        "gsm8k", model=REPLAY, samples=2, limit=12, run_path=tmp_path / "library.sqlite"
    )
    assert again.resumed and again.summary == library.summary and again.cache_hits == 0
    with pytest.raises(RunConfigMismatchError, match="samples: 2 -> 3"):
        verimath.evaluate(
            "gsm8k", model=REPLAY, samples=3, limit=12, run_path=tmp_path / "library.sqlite"
        )


def test_options_go_to_the_config_they_belong_to() -> None:
    config = RunConfig.of("gsm8k", model="local", samples=8, temperature=0.0, limit=5)
    assert config.method == SolveOptions(samples=8, generate=config.method.generate)
    assert config.method.generate.temperature == 0.0
    assert (config.limit, config.model) == (5, "local")
    with pytest.raises(ConfigError, match="unknown evaluation option"):
        RunConfig.of("gsm8k", sampels=8)


def test_the_recorded_config_is_what_eval_has_always_recorded() -> None:
    record = RunConfig("gsm8k").record(problem_count=3)
    assert record == {
        "dataset": "gsm8k",
        "model": "local",
        "strategy": "csv",
        "samples": 4,
        "weights": "1,0.5,0.2",
        "tool_style": None,
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": 2048,
        "seed": 0,
        "max_code": 10,
        "revise": 0,
        "enforce_code_rule": False,
        "adaptive": None,
        "wave": 1,
        "threshold": 0.02,
        "limit": None,
        "subject": [],
        "level": [],
        "ids": None,
        "shuffle": False,
        "timeout": 10.0,
        "memory_mb": 2048,
        "max_output": 4000,
        "problem_count": 3,
    }


def test_solve_and_the_command_line_share_the_adaptive_wave() -> None:
    from verimath.adaptive import AdaptivePolicy
    from verimath.cli.eval_cmd import command

    wave = next(p for p in command.params if p.name == "wave")
    assert wave.default == AdaptivePolicy().wave
    samples = next(p for p in command.params if p.name == "samples")
    assert samples.default == SolveOptions().samples
