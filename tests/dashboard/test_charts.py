"""Charts read at a glance: values on the bars, legends where there is more than one series."""

from __future__ import annotations

from typing import Any

import polars as pl

from redline.dashboard.charts import burn_rate_chart, spend_chart


def layers(chart: Any) -> list[dict[str, Any]]:
    spec = chart.to_dict()
    datasets = spec.get("datasets", {})
    out = []
    for layer in spec["layer"]:
        data = layer.get("data", {})
        layer = {**layer, "rows": datasets.get(data.get("name"), data.get("values", []))}
        out.append(layer)
    return out


def test_each_burn_rate_bar_carries_its_value_and_a_window_without_data_none() -> None:
    chart = burn_rate_chart({"5m": 12.34, "1h": 0.5, "6h": None}, 30 * 86400)
    text = next(layer for layer in layers(chart) if layer["mark"]["type"] == "text" and "dy" in layer["mark"]
                and layer["mark"]["dy"] == -6)
    assert [(r["window"], r["label"]) for r in text["rows"]] == [("5m", "12.3×"), ("1h", "0.5×")]


def test_the_spend_chart_has_a_legend_for_spend_forecast_and_limit() -> None:
    frame = pl.DataFrame({"timestamp": [0, 3_600_000], "spend": [0.0, 10.0]}).with_columns(
        pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    )
    chart = spend_chart(frame, 100.0, (3_600_000, 10.0, 7_200_000, 20.0), "USD")
    colours = [layer["encoding"]["color"] for layer in layers(chart) if "color" in layer.get("encoding", {})]
    assert {c["field"] for c in colours} == {"series"}
    assert colours[0]["scale"]["domain"] == ["spent", "run-rate forecast", "limit"]
    assert colours[0]["legend"] == {"orient": "top"}
    limit_text = [layer for layer in layers(chart) if layer["mark"]["type"] == "text"]
    assert limit_text[0]["rows"] == [{"y": 100.0, "label": "limit $100", "series": "limit"}]
