"""Closed days and a partial last day are not demand: left out of training and scoring, reported."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from salesflow.bronze.file_ingest import FileIngestor
from salesflow.config import load_settings
from salesflow.jobs import run_batch
from salesflow.jobs.forecast import evaluate, predict, train
from tests.sources.test_partner_files import SHOP

FIRST, CLOSED, DAYS = date(2026, 7, 1), date(2026, 8, 5), 42  # the closure falls in a scored fold
LAST = FIRST + timedelta(days=DAYS - 1)


def test_a_closure_and_a_partial_last_day_are_left_out_and_reported(tmp_path: Path) -> None:
    lines = ["Bestellung;Kunde;Datum;Artikel;Menge;Preis"]
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        if day == CLOSED:
            continue  # the shop was closed: not one sale
        hours = (9,) if day == LAST else (9, 14, 20)  # the last day's data stops in the morning
        for hour in hours:
            for product in ("P1", "P2", "P3"):
                lines.append(f"{day}{hour}{product};K{n % 4};{day:%d.%m.%Y} {hour:02d}:00;{product};{1 + n % 3};5,00")
    history = tmp_path / "history.csv"
    history.write_text("\n".join(lines) + "\n")
    settings = load_settings(data_dir=tmp_path / "d", files={"shop": SHOP},
                             forecast={"folds": 2, "fold_days": 7, "min_train_days": 14})
    run_batch(settings, bronze=lambda lake, engine: FileIngestor(lake, engine, settings, "shop", [history]))

    backtest = evaluate(settings, ("seasonal_naive", "ridge"))
    assert f"closed days (no sale in the whole shop, not scored): {CLOSED}" in backtest.calendar
    assert f"the last day {LAST} is partial and left out" in backtest.calendar
    scored = set(backtest.predictions["target_date"])
    assert min(scored) < CLOSED < max(scored)  # inside the scored days, and still not scored
    assert CLOSED not in scored and LAST not in scored
    assert max(scored) == LAST - timedelta(days=1)  # the history ends the day before the partial one

    train(settings, ("seasonal_naive", "ridge"))
    forecast = predict(settings)
    assert forecast.forecast_date == LAST - timedelta(days=1)
    assert min(forecast.table["target_date"].to_pylist()) == LAST  # the partial day is forecast, not learned from
