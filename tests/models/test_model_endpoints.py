"""Several endpoints for one model, against real HTTP servers on 127.0.0.1: least outstanding
requests first, a failing endpoint backed off while the run goes on, counters per endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.models.chat_fault_server import FaultyChatServer, status
from tests.models.model_helpers import free_port
from verimath.caching import StoreCachedModel
from verimath.cli import cli
from verimath.errors import ConfigError, ModelConnectionError, ModelResponseError
from verimath.models import GenerateConfig, Message, RetryPolicy, resolve_model
from verimath.models.endpoints import EndpointPoolModel, endpoint_stats
from verimath.models.openai_compat import OpenAIModel

FAST = RetryPolicy(max_attempts=6, base_delay_s=0.2, max_delay_s=2.0)


def pool(*urls: str, **options: object) -> EndpointPoolModel:
    options = {"retry": FAST, "timeout_s": 10.0, **options}
    model = resolve_model(f"openai:tiny@{','.join(urls)}", **options)
    assert isinstance(model, EndpointPoolModel)
    return model


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


async def ask(model: EndpointPoolModel, i: int) -> str:
    [completion] = await model.generate([Message("user", f"q{i}")], GenerateConfig())
    return completion.message.content


def test_spec_with_several_base_urls_is_a_pool() -> None:
    model = resolve_model("openai:m@http://a:8000/v1/, http://b:8000/v1")
    assert isinstance(model, EndpointPoolModel)
    assert model.name == "openai:m@http://a:8000/v1,http://b:8000/v1"
    assert [s.base_url for s in model.stats()] == ["http://a:8000/v1", "http://b:8000/v1"]
    single = resolve_model("openai:m@http://a:8000/v1")
    assert type(single) is OpenAIModel and endpoint_stats(single) == []


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("openai:m@http://a/v1,", "every endpoint must be an http"),
        ("openai:m@http://a/v1,b:8000/v1", "'b:8000/v1'"),
        ("openai:m@http://a/v1,http://a/v1/", "the same endpoint twice"),
    ],
)
def test_bad_endpoint_lists_are_config_errors(spec: str, text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        resolve_model(spec)


async def test_idle_endpoints_take_requests_in_turn() -> None:
    with FaultyChatServer() as a, FaultyChatServer() as b:
        async with pool(a.base_url, b.base_url) as model:
            answers = [await ask(model, i) for i in range(10)]
            stats = model.stats()
    assert answers == [f"echo: q{i}" for i in range(10)]
    assert len(a.seen) == len(b.seen) == 5
    assert [(s.requests, s.failures, s.in_flight, s.out) for s in stats] == [(5, 0, 0, False)] * 2


async def test_a_burst_is_split_evenly() -> None:
    with FaultyChatServer(delay_s=0.2) as a, FaultyChatServer(delay_s=0.2) as b:
        async with pool(a.base_url, b.base_url) as model:
            answers = await asyncio.gather(*(ask(model, i) for i in range(40)))
            after = model.stats()
    assert answers == [f"echo: q{i}" for i in range(40)]
    # 20 and 20, give or take a retry after a connection the loaded machine dropped
    assert [s.requests - s.failures for s in after] in ([20, 20], [19, 21], [21, 19])
    assert [s.in_flight for s in after] == [0, 0]


async def test_the_faster_endpoint_gets_more_requests() -> None:
    async def client(model: EndpointPoolModel, deadline: float) -> None:
        i = 0
        while time.monotonic() < deadline:
            await ask(model, i)
            i += 1

    with FaultyChatServer(delay_s=0.5) as slow, FaultyChatServer(delay_s=0.01) as fast:
        async with pool(slow.base_url, fast.base_url) as model:
            deadline = time.monotonic() + 1.2
            await asyncio.gather(*(client(model, deadline) for _ in range(4)))
    # four clients in a loop, in flight two and two: the fast one answers far more often
    assert slow.max_in_flight == 2
    assert len(fast.seen) >= 3 * len(slow.seen)


async def test_a_dead_endpoint_is_backed_off_and_the_run_goes_on() -> None:
    down = dead_url()
    with FaultyChatServer() as up:
        async with pool(down, up.base_url) as model:
            answers = await asyncio.gather(*(ask(model, i) for i in range(20)))
            answers += [await ask(model, i) for i in range(20, 30)]
            dead, live = model.stats()
    assert answers == [f"echo: q{i}" for i in range(30)]
    assert live.requests - live.failures == 30 <= len(up.seen) <= live.requests
    assert not live.out
    # the dead endpoint took its share of the first burst, then only rare probes
    assert dead.failures == dead.requests <= 12
    assert dead.out and dead.base_url == down


async def test_an_endpoint_comes_back_after_its_backoff() -> None:
    flaky_faults = [status(503), status(503)]
    retry = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)
    with FaultyChatServer(flaky_faults) as flaky, FaultyChatServer() as steady:
        async with pool(flaky.base_url, steady.base_url, retry=retry) as model:
            for i in range(4):
                await ask(model, i)
            await asyncio.sleep(0.5)
            for i in range(4, 10):
                await ask(model, i)
            first, _ = model.stats()
    assert first.failures == 2 and not first.out
    assert len(flaky.seen) >= 4, "the endpoint must be used again once it recovered"


async def test_retry_after_keeps_the_endpoint_out_that_long() -> None:
    with FaultyChatServer([status(429, retry_after="1")]) as busy, FaultyChatServer() as free:
        async with pool(busy.base_url, free.base_url) as model:
            deadline = time.monotonic() + 1.6
            i = 0
            while time.monotonic() < deadline:
                await ask(model, i)
                await asyncio.sleep(0.05)
                i += 1
    refused_at = busy.seen[0].at
    later = [s.at - refused_at for s in busy.seen[1:]]
    assert later, "the endpoint must come back after the time it asked for"
    assert min(later) >= 0.95


async def test_an_error_of_the_request_is_raised_not_failed_over() -> None:
    with FaultyChatServer([status(400)]) as a, FaultyChatServer([status(400)]) as b:
        async with pool(a.base_url, b.base_url) as model:
            with pytest.raises(ModelResponseError, match="rejected the request"):
                await ask(model, 0)
            stats = model.stats()
    assert len(a.seen) + len(b.seen) == 1
    assert sum(s.failures for s in stats) == 0 and not any(s.out for s in stats)


async def test_when_every_endpoint_fails_the_request_gives_up_clearly() -> None:
    retry = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)
    first, second = dead_url(), dead_url()
    async with pool(first, second, retry=retry) as model:
        with pytest.raises(ModelConnectionError) as caught:
            await ask(model, 0)
        stats = model.stats()
    assert f"no endpoint of openai:tiny@{first},{second} answered after 3 attempts" in str(
        caught.value
    )
    assert [s.requests for s in stats] == [2, 1]


async def test_counters_are_found_through_wrappers() -> None:
    with FaultyChatServer() as a, FaultyChatServer() as b:
        wrapped = StoreCachedModel(pool(a.base_url, b.base_url), None, concurrency=4)
        await wrapped.generate([Message("user", "q")], GenerateConfig())
        stats = endpoint_stats(wrapped)
        await wrapped.aclose()
    assert sum(s.requests for s in stats) == 1 and len(stats) == 2


def write_problems(path: Path, count: int) -> Path:
    """A GSM8K-style JSONL file of ``count`` small problems."""
    lines = [
        json.dumps({"question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"})
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eval_reports_the_counts_of_each_endpoint(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "gsm8k.jsonl", 6)
    down = dead_url()
    with FaultyChatServer() as up:
        spec = f"openai:tiny@{down},{up.base_url}"
        args = ["eval", str(data), "--model", spec, "-k", "2", "--run", str(tmp_path / "r.sqlite")]
        result = CliRunner().invoke(cli, [*args, "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        text = CliRunner().invoke(cli, [*args, "--new"])
    assert summary["samples"] == 12 and summary["failures"] == 0
    endpoints = {e["base_url"]: e for e in summary["endpoints"]}
    assert endpoints[up.base_url]["requests"] == 12
    assert endpoints[down]["failures"] == endpoints[down]["requests"] >= 1
    assert text.exit_code == 0, text.output
    assert f"endpoint {up.base_url}: 12 requests, 0 failures, 0 in flight" in text.stdout
    assert f"endpoint {down}: " in text.stdout
