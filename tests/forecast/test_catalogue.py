"""A catalogue larger than the feature panel: the panel is a sample stratified by demand class,
every product is still forecast, and the per-class pick serves each product by its class."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from salesflow.config import load_settings
from salesflow.forecast.registry import Registry
from salesflow.jobs.forecast import predict, train
from salesflow.lake.delta import Lake
from salesflow.lake.tables import GOLD_DAILY_SALES, GOLD_DEMAND_PREDICTIONS

START = date(2026, 1, 1)


def catalogue(products: int, days: int, seed: int = 3) -> pa.Table:
    """Some products sell every day, most now and then; a fifth start mid-way (no rows before)."""
    rng = np.random.default_rng(seed)
    rate = np.where(np.arange(products) % 4 == 0, rng.uniform(3, 9, products), rng.uniform(0.05, 0.5, products))
    launch = np.where(np.arange(products) % 5 == 1, days // 2, 0)
    units = rng.poisson(rate[:, None] * np.ones(days)) * (np.arange(days)[None, :] >= launch[:, None])
    units[-1, 30:] = 0  # the last product is delisted a third of the way in
    units[-1, 29] = 3
    p, d = np.nonzero(units)
    dates = [START + timedelta(days=int(x)) for x in d]
    return pa.table({"event_date": pa.array(dates, pa.date32()), "product_id": [f"p{i:03d}" for i in p],
                     "category": [f"c{i % 3}" for i in p], "units": pa.array(units[p, d].astype(np.int64)),
                     "revenue": pa.array(units[p, d] * 2.5), "avg_unit_price": pa.array(np.full(len(p), 2.5)),
                     "discount_rate": pa.array(np.zeros(len(p)))})


def test_a_sampled_panel_still_forecasts_every_product(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", forecast={"folds": 2, "max_panel_series": 24,
                                                                "delisted_after_days": 40})
    table = catalogue(80, 90)
    last_sales = table.group_by("product_id").aggregate([("event_date", "max")]).to_pydict()
    active = {p for p, d in zip(last_sales["product_id"], last_sales["event_date_max"], strict=True)
              if (START + timedelta(days=89) - d).days <= 40}
    assert "p079" not in active and len(active) >= 70
    Lake(settings.lake_root).replace_rows(GOLD_DAILY_SALES, table, "true")
    result = train(settings, kinds=("seasonal_naive", "lightgbm", "tsb"))
    backtest = result.backtest
    assert "sample of 24 of them, stratified by demand class" in backtest.selection
    scored = set(backtest.predictions["product_id"])
    assert len(scored) == 24  # every kind scored on the same sampled series
    sampled_classes = set(backtest.classes.reindex(sorted(scored)))
    assert sampled_classes == set(backtest.classes)  # each class of the catalogue is in the sample
    manifests = {m["kind"]: m for m in Registry(settings.registry_dir).manifests()}
    assert result.promoted == min(result.versions.values(), key=lambda v: backtest.wape(v.split("-")[1]))
    manifest = manifests["by_class"]
    assert len(manifest["products"]) == 80

    made = predict(settings, result.versions["by_class"])
    gold = Lake(settings.lake_root).read(GOLD_DEMAND_PREDICTIONS)
    # Every active product, not only the sample; the delisted one gets no forecast.
    assert gold is not None and made.rows == gold.num_rows == len(active) * 7
    assert set(gold["product_id"].to_pylist()) == active
    late = gold.filter(pa.compute.equal(gold["product_id"], "p001")).to_pandas()  # launched on day 45
    assert len(late) == 7 and (late["predicted_units"] >= 0).all()
    # Each product gets the prediction of the kind its class picked, as that kind's own version gives it.
    by_class = gold.to_pandas().set_index(["product_id", "target_date"])["predicted_units"]
    for kind in set(manifest["params"]["choice"].values()):
        own = predict(settings, result.versions[kind]).table.to_pandas().set_index(["product_id", "target_date"])
        classes = manifest["demand_classes"]
        mine = [p for p in own.index.get_level_values(0).unique()
                if manifest["params"]["choice"].get(classes.get(p, "lumpy")) == kind]
        assert mine
        assert np.allclose(by_class.loc[mine].sort_index(), own.loc[mine, "predicted_units"].sort_index())
