"""The rate-card collector against a real HTTP server on 127.0.0.1 serving real-shaped pages: vLLM's
/metrics, the OpenTelemetry Prometheus exporter's GenAI token histogram, and the DCGM exporter (no GPU
or model server runs here; the pages are fixtures in tests/fixtures/spend/)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.rate_card import RateCardCollector, RateCardConfig
from redline.kernel.labels import format_labels
from tests.collectors.context import context
from tests.collectors.http_target import send, serve

FIXTURES = Path(__file__).parent.parent / "fixtures" / "spend"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "sources-spend.yaml"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
T0 = 1_725_148_800.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Page:
    """Serves ``body`` (replaceable between collections) as text exposition 0.0.4."""

    def __init__(self, name: str) -> None:
        self.body = (FIXTURES / name).read_bytes()
        self.status = 200

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        send(handler, self.status, self.body, "text/plain; version=0.0.4; charset=utf-8")


def make(client: httpx.Client, clock: Clock, **fields: object) -> RateCardCollector:
    cfg = RateCardConfig.model_validate({"name": "rates", "kind": "rate_card", **fields})
    return RateCardCollector(cfg, context(clock, http=client))


def values(frame: pl.DataFrame, metric: str = "redline_spend_usd_total") -> dict[str, float]:
    rows = frame.filter(pl.col("metric") == metric)
    return {lb: round(v, 9) for lb, v in zip(rows["labels"], rows["value"], strict=True)}


def lb(**labels: str) -> str:
    return format_labels({**labels, "source": "rates"})


def test_vllm_token_counters_times_model_prices_give_exact_usd(client: httpx.Client) -> None:
    page = Page("vllm_metrics.prom")
    prices = {LLAMA: {"input_per_million_usd": 0.10, "output_per_million_usd": 0.30}}
    with serve(page) as url:
        collector = make(client, Clock(T0), tokens_url=f"{url}/metrics", token_prices=prices)
        result = collector.collect()
        assert result.health.ok, result.health.error
        assert values(result.samples) == {
            lb(model=LLAMA, token_type="input"): 0.1234567,  # 1,234,567 prompt tokens × $0.10/M
            lb(model=LLAMA, token_type="output"): 0.1037034,  # 345,678 generation tokens × $0.30/M
        }
        assert set(result.samples["timestamp"]) == {int(T0 * 1000)}
        # vLLM restarted: the token counter reset, and the spend follows it down
        page.body = page.body.replace(b"} 1.234567e+06", b"} 1000.0")
        after = collector.collect()
        assert values(after.samples)[lb(model=LLAMA, token_type="input")] == 0.0001


def test_opentelemetry_genai_token_histogram_sums_are_priced_and_an_unpriced_model_is_a_problem(
    client: httpx.Client,
) -> None:
    prices = {"gpt-4o-mini": {"input_per_million_usd": 0.15, "output_per_million_usd": 0.60}}
    with serve(Page("otel_genai_metrics.prom")) as url:
        result = make(client, Clock(T0), tokens_url=f"{url}/metrics", token_prices=prices).collect()
    assert result.health.ok
    assert values(result.samples) == {
        lb(model="gpt-4o-mini", token_type="input"): 0.3,  # 2,000,000 × $0.15/M
        lb(model="gpt-4o-mini", token_type="output"): 0.3,  # 500,000 × $0.60/M
    }
    assert result.health.problems == ("model 'o3-mini' has no price in token_prices; its tokens are not costed",)


def test_a_line_that_is_not_utf8_is_skipped_and_named_while_the_tokens_are_still_priced(client: httpx.Client) -> None:
    page = Page("vllm_metrics.prom")
    assert page.body.endswith(b"\n")
    bad_line = page.body.count(b"\n") + 1
    page.body += b"junk_total\xff 1\n"
    prices = {LLAMA: {"input_per_million_usd": 0.10, "output_per_million_usd": 0.30}}
    with serve(page) as url:
        result = make(client, Clock(T0), tokens_url=f"{url}/metrics", token_prices=prices).collect()
    assert result.health.ok, result.health.error
    assert values(result.samples) == {
        lb(model=LLAMA, token_type="input"): 0.1234567,
        lb(model=LLAMA, token_type="output"): 0.1037034,
    }
    assert result.health.problems == (
        f"line {bad_line}: not valid UTF-8 at byte 11, line skipped: 'junk_total\ufffd 1'",
    )


def test_no_priced_model_at_all_is_an_error_naming_the_model(client: httpx.Client) -> None:
    prices = {"mistral-7b": {"input_per_million_usd": 0.1, "output_per_million_usd": 0.1}}
    with serve(Page("vllm_metrics.prom")) as url:
        result = make(client, Clock(T0), tokens_url=f"{url}/metrics", token_prices=prices).collect()
    assert result.health.error == (
        f"source 'rates' ({url}/metrics): no sample could be read; model '{LLAMA}' has no price in token_prices; "
        "its tokens are not costed"
    )
    assert result.samples.is_empty()


def test_a_page_without_token_counters_is_an_error(client: httpx.Client) -> None:
    prices = {LLAMA: {"input_per_million_usd": 0.1, "output_per_million_usd": 0.1}}
    with serve(Page("dcgm_exporter_metrics.prom")) as url:
        result = make(client, Clock(T0), tokens_url=f"{url}/metrics", token_prices=prices).collect()
    assert result.health.error == (
        f"source 'rates' ({url}/metrics): no token counters on the page (looked for vllm:prompt_tokens_total, "
        "vllm:generation_tokens_total, gen_ai_client_token_usage_sum)"
    )


def test_gpu_hours_from_dcgm_series_count_first_collection_zero_then_previous_count_times_elapsed(
    client: httpx.Client,
) -> None:
    page = Page("dcgm_exporter_metrics.prom")
    clock = Clock(T0)
    with serve(page) as url:
        collector = make(
            client, clock, gpu_hour_usd=2.49, count_url=f"{url}/metrics", count_selector="DCGM_FI_DEV_GPU_UTIL"
        )
        first = collector.collect()
        assert values(first.samples) == {lb(resource="gpu"): 0.0}
        assert values(first.samples, "redline_rate_card_units") == {lb(resource="gpu"): 2.0}
        clock.now += 1800  # half an hour at 2 GPUs
        page.body = b"\n".join(
            line for line in page.body.split(b"\n") if b'gpu="1"' not in line
        )  # one GPU gone
        second = collector.collect()
        assert values(second.samples) == {lb(resource="gpu"): 2.49}
        assert values(second.samples, "redline_rate_card_units") == {lb(resource="gpu"): 1.0}
        clock.now += 3600  # an hour at 1 GPU
        page.status = 503
        failed = collector.collect()
        assert not failed.health.ok and failed.samples.is_empty()
        clock.now += 3600  # the failed read does not move the clock: two hours at the last count
        page.status = 200
        third = collector.collect()
        assert values(third.samples) == {lb(resource="gpu"): round(2.49 + 2 * 2.49, 9)}
        assert set(third.samples["timestamp"]) == {int(clock.now * 1000)}


def test_node_hours_from_a_summed_selector_and_a_fixed_count(client: httpx.Client) -> None:
    body = (
        b'# TYPE kube_node_status_allocatable gauge\n'
        b'kube_node_status_allocatable{node="gpu-1",resource="nvidia_com_gpu",unit="integer"} 8\n'
        b'kube_node_status_allocatable{node="gpu-2",resource="nvidia_com_gpu",unit="integer"} 4\n'
        b'kube_node_status_allocatable{node="gpu-1",resource="cpu",unit="core"} 96\n'
    )
    page = Page("dcgm_exporter_metrics.prom")
    page.body = body
    clock = Clock(T0)
    with serve(page) as url:
        summed = make(client, clock, gpu_hour_usd=1.5, count_url=url, count_aggregate="sum",
                      count_selector='kube_node_status_allocatable{resource="nvidia_com_gpu"}')
        fixed = make(client, clock, node_hour_usd=32.77, count=3)
        summed.collect()
        fixed.collect()
        clock.now += 7200
        assert values(summed.collect().samples) == {lb(resource="gpu"): 36.0}  # 12 GPUs × 2 h × $1.50
        assert values(fixed.collect().samples) == {lb(resource="node"): round(3 * 2 * 32.77, 9)}


def test_a_selector_matching_nothing_is_an_error_not_zero_gpus(client: httpx.Client) -> None:
    with serve(Page("vllm_metrics.prom")) as url:
        collector = make(client, Clock(T0), gpu_hour_usd=2.0, count_url=url, count_selector="DCGM_FI_DEV_GPU_UTIL")
        result = collector.collect()
    assert result.health.error == (
        f"source 'rates' ({url}): no series match DCGM_FI_DEV_GPU_UTIL (nothing to count, not zero)"
    )
    assert result.samples.is_empty()


def test_config_needs_exactly_one_form() -> None:
    base = {"name": "r", "kind": "rate_card"}
    with pytest.raises(ValidationError, match="exactly one of"):
        RateCardConfig.model_validate(base)
    with pytest.raises(ValidationError, match="either a fixed count or count_url"):
        RateCardConfig.model_validate({**base, "gpu_hour_usd": 1.0})
    with pytest.raises(ValidationError, match="need tokens_url"):
        RateCardConfig.model_validate({**base, "token_prices": {"m": {"input_per_million_usd": 1,
                                                                       "output_per_million_usd": 1}}})


@pytest.mark.parametrize("field", ["count_url", "tokens_url"])
@pytest.mark.parametrize("url", ["http:///nohost", "ftp://host/metrics", "host:9400/metrics"])
def test_a_url_without_http_scheme_or_host_is_refused(field: str, url: str) -> None:
    base: dict[str, object] = {"name": "r", "kind": "rate_card"}
    if field == "count_url":
        base |= {"gpu_hour_usd": 1.0, "count_url": url, "count_selector": "DCGM_FI_DEV_GPU_UTIL"}
    else:
        base |= {"tokens_url": url, "token_prices": {"m": {"input_per_million_usd": 1, "output_per_million_usd": 1}}}
    with pytest.raises(ValidationError, match=rf"{field}\n.*expected an http:// or https:// URL with a host"):
        RateCardConfig.model_validate(base)


def test_the_example_config_rate_card_entries_validate() -> None:
    sources = [s for s in yaml.safe_load(EXAMPLE.read_text())["sources"] if s["kind"] == "rate_card"]
    gpu, tokens = (RateCardConfig.model_validate(s) for s in sources)
    assert (gpu.gpu_hour_usd, gpu.resource, str(gpu.count_selector)) == (2.49, "gpu", "DCGM_FI_DEV_GPU_UTIL")
    assert tokens.token_prices[LLAMA].output_per_million_usd == 0.30
