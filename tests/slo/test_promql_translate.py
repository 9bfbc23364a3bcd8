"""PromQL shapes of OpenSLO and Sloth queries translated to native objectives (pure functions)."""

from __future__ import annotations

import pytest

from redline.kernel.errors import ConfigError
from redline.kernel.labels import Matcher, Selector
from redline.slo.promql_translate import (
    PromQLShapeError,
    syntax_problem,
    translate_counter,
    translate_error_ratio,
    translate_freshness,
    translate_ratio,
)
from redline.slo.spec import LatencySLI, RatioSLI


@pytest.mark.parametrize(
    "query",
    [
        'sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))',
        'sum( rate( http_requests_total{ job = "api" , code =~ "5.." }[ {{ .window }} ] ) )',
        'sum by (code) (rate(http_requests_total{job="api",code=~"5.."}[5m]))',
        'sum(increase(http_requests_total{job="api",code=~"5.."}[1h])) by (code, instance)',
        "sum without (instance) (rate(http_requests_total{job='api',code=~'5..'}[30s]))",
        'sum(rate({__name__="http_requests_total",job="api",code=~"5.."}[5m]))',
    ],
)
def test_counter_spellings_all_become_the_same_selector(query: str) -> None:
    sel = translate_counter(query)
    assert sel.metric == "http_requests_total"
    assert sorted(sel.matchers, key=lambda m: m.name) == [Matcher("code", "=~", "5.."), Matcher("job", "=", "api")]


def test_escaped_quotes_and_regex_backslashes_are_unescaped_once() -> None:
    sel = translate_counter(r'sum(rate(x{path="/a\"b",le=~"0\\.25|1"}[5m]))')
    assert sel.matchers == (Matcher("path", "=", '/a"b'), Matcher("le", "=~", r"0\.25|1"))


def test_backtick_strings_are_raw() -> None:
    assert translate_counter(r"sum(rate(x{re=~`a\.b`}[5m]))").matchers == (Matcher("re", "=~", r"a\.b"),)


def test_a_plain_sum_is_a_counter_only_when_declared_so() -> None:
    assert translate_counter('sum(x_total{a="b"})', counter=True) == Selector("x_total", (Matcher("a", "=", "b"),))
    assert translate_counter("x_total", counter=True) == Selector("x_total")
    with pytest.raises(PromQLShapeError, match=r"PromQL query sum\(x_total\) is not a shape"):
        translate_counter("sum(x_total)")


@pytest.mark.parametrize(
    "query",
    [
        "histogram_quantile(0.99, sum(rate(x_bucket[5m])) by (le))",
        "sum(irate(x[5m]))",
        "rate(x[5m])",
        "avg(rate(x[5m]))",
        'sum(rate(x[5m] offset 1h))',
        "sum(rate(x[5m])) * 2",
    ],
)
def test_other_queries_are_config_errors_naming_the_query(query: str) -> None:
    with pytest.raises(ConfigError) as err:
        translate_counter(query)
    assert repr(query) in str(err.value) or query in str(err.value)


def test_unbalanced_query_is_an_error_naming_it() -> None:
    expected = r"cannot read PromQL query sum\(rate\(x\[5m\]\): unclosed left parenthesis at column 4$"
    with pytest.raises(PromQLShapeError, match=expected):
        translate_counter("sum(rate(x[5m])")


def test_bucket_over_count_is_a_latency_objective() -> None:
    sli = translate_ratio(
        'sum(rate(lat_seconds_bucket{job="a",le="0.25"}[5m]))', 'sum(rate(lat_seconds_count{job="a"}[5m]))', good=True
    )
    assert sli == LatencySLI(histogram=Selector("lat_seconds", (Matcher("job", "=", "a"),)), threshold=0.25)


def test_bucket_over_inf_bucket_is_a_latency_objective() -> None:
    sli = translate_ratio(
        'sum(rate(lat_bucket{le="1.0"}[5m]))', 'sum(rate(lat_bucket{le="+Inf"}[5m]))', good=True
    )
    assert sli == LatencySLI(histogram=Selector("lat"), threshold=1.0)


def test_bucket_over_a_different_job_stays_a_plain_ratio() -> None:
    sli = translate_ratio(
        'sum(rate(lat_bucket{job="a",le="0.5"}[5m]))', 'sum(rate(lat_count{job="b"}[5m]))', good=True
    )
    assert isinstance(sli, RatioSLI)
    assert str(sli.good) == 'lat_bucket{job="a",le="0.5"}'


def test_count_minus_bucket_errors_are_a_latency_objective() -> None:
    sli = translate_ratio(
        "sum(rate(lat_count[{{.window}}])) - sum(rate(lat_bucket{le=\"0.3\"}[{{.window}}]))",
        "sum(rate(lat_count[{{.window}}]))",
        good=False,
    )
    assert sli == LatencySLI(histogram=Selector("lat"), threshold=0.3)


@pytest.mark.parametrize(
    "query",
    [
        '1 - (sum(rate(lat_bucket{le="0.25"}[{{.window}}])) / sum(rate(lat_count[{{.window}}])))',
        '1-sum(rate(lat_bucket{le="0.25"}[5m]))/sum(rate(lat_count[5m]))',
        '1 - (\n  sum(rate(lat_bucket{le="0.25"}[5m]))\n  /\n  sum(rate(lat_count[5m]))\n)',
    ],
)
def test_raw_latency_error_ratio_forms(query: str) -> None:
    assert translate_error_ratio(query) == LatencySLI(histogram=Selector("lat"), threshold=0.25)


def test_raw_errors_over_total_is_a_ratio() -> None:
    sli = translate_error_ratio('sum(rate(r{code=~"5.."}[5m])) / sum(rate(r[5m]))')
    assert isinstance(sli, RatioSLI)
    assert (str(sli.errors), str(sli.total)) == ('r{code=~"5.."}', "r")


@pytest.mark.parametrize(
    "query",
    [
        'time() - etl_last_success_timestamp_seconds{table="orders"}',
        'time() - max(etl_last_success_timestamp_seconds{table="orders"})',
        '(time() - min by (table) (etl_last_success_timestamp_seconds{table="orders"}))',
    ],
)
def test_freshness_forms(query: str) -> None:
    sli = translate_freshness(query, 7200.0, 300.0)
    assert str(sli.last_success) == 'etl_last_success_timestamp_seconds{table="orders"}'
    assert (sli.max_age, sli.slice) == (7200.0, 300.0)


def test_freshness_of_something_else_is_an_error_naming_the_query() -> None:
    with pytest.raises(PromQLShapeError, match="PromQL query max_over_time"):
        translate_freshness("max_over_time(age_seconds[5m])", 60.0)


@pytest.mark.parametrize(
    "query",
    [
        "sum(rate(x_total[5m] @ end()))",  # valid PromQL, but evaluated at another time
        "sum(rate(x_total[5m] offset 1h))",
        "sum(rate(x_total[1h:1m]))",  # a subquery
        'sum(label_replace(rate(x_total[5m]), "a", "$1", "b", "(.*)"))',
    ],
)
def test_any_valid_promql_is_read_and_named_when_it_is_no_known_shape(query: str) -> None:
    assert syntax_problem(query) is None
    with pytest.raises(PromQLShapeError) as err:
        translate_counter(query)
    assert str(err.value).startswith(("PromQL query sum(", "cannot read PromQL query sum(")), str(err.value)
    assert "offset and @ are not supported" in str(err.value) or "is not a shape" in str(err.value)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("sum(rate(x[5m])", "unclosed left parenthesis at column 4"),
        ("rate(x[5q])", "bad number or duration syntax: 5q at column 8"),
        ("1 - histogram_share(0.2, rate(x[{{.window}}]))", "unknown function with name 'histogram_share' at column 5"),
        ("sum(rate(x[{{.window}}]))", None),
        ('sum(rate(x{re=~`a\\.b`}[5m]))', None),
    ],
)
def test_a_syntax_error_names_the_parsers_complaint_and_the_column(query: str, problem: str | None) -> None:
    assert syntax_problem(query) == problem
