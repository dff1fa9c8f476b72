"""``salesflow forecast``: rendering of backtests, training runs, predictions and the registry."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from salesflow.cli.output import console, handle_errors, to_json
from salesflow.cli.params import run_context

if TYPE_CHECKING:  # the forecasters (pandas, LightGBM) load when a forecast command runs, not for every command
    from salesflow.context import RunContext
    from salesflow.forecast.backtest import Backtest
    from salesflow.forecast.registry import Registry
    from salesflow.jobs.forecast import PredictResult, TrainResult

_MODELS_OPTION = click.option("--models", help="Comma-separated subset of: seasonal_naive, ridge, lightgbm, croston, "
                              "sba, tsb (with two or more, by_class picks the best per demand class).")


def _selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Which products to forecast; each overrides its ``forecast.*`` setting for this run."""
    for option in reversed((
        click.option("--level", type=click.Choice(["product", "category", "store-category"]),
                     help="One series per product, per category, or per store and category (forecast.level)."),
        click.option("--top", "top_n", type=click.IntRange(min=1), help="Only the N best sellers (forecast.top_n)."),
        click.option("--by", "rank_by", type=click.Choice(["revenue", "units"]),
                     help="What --top ranks by (forecast.rank_by, default revenue)."),
        click.option("--min-history-days", type=click.IntRange(min=0),
                     help="Leave out products first sold fewer days before the last day (forecast.min_history_days)."),
        click.option("--products", "products_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="A file of product ids, one per line (forecast.products_file)."),
    )):
        command = option(command)
    return command


@contextmanager
def _progress() -> Iterator[None]:
    """The forecast's progress lines (series, features, folds, rows/s) on stderr, also without -v:
    a catalogue's backtest runs for minutes. With -v the log already shows them."""
    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("forecast: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("salesflow.forecast", "salesflow.jobs.forecast")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def _chosen(ctx: click.Context, **picked: object) -> RunContext:
    """The run context with the command line's product selection over the config's."""
    job = run_context(ctx)
    update = {k: str(v) if isinstance(v, Path) else v for k, v in picked.items() if v is not None}
    if not update:
        return job
    return job.with_settings(job.settings.model_copy(
        update={"forecast": job.settings.forecast.model_copy(update=update)}))


@click.group()
def forecast() -> None:
    """Demand forecasts: backtest, train and register models, predict into gold and the warehouse."""


@forecast.command("evaluate")
@_MODELS_OPTION
@_selection_options
@click.option("--plot", type=click.Path(path_type=Path), help="Write actual vs predicted per category (PNG).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_evaluate(ctx: click.Context, models: str | None, plot: Path | None, as_json: bool,
                      **selection: object) -> None:
    """Rolling-origin backtest: MAE, RMSE, WAPE, MASE, R2 per model and horizon."""
    from salesflow.forecast.training import plot_backtest
    from salesflow.jobs.forecast import evaluate

    kinds = parse_kinds(models)
    with _progress():
        backtest = evaluate(_chosen(ctx, **selection), kinds)
    if plot is not None:
        plot_backtest(backtest, min(kinds, key=lambda k: backtest.wape(k)), plot)
    print_evaluation(backtest, plot, as_json)


@forecast.command("train")
@_MODELS_OPTION
@_selection_options
@click.option("--promote", "promote", default="best", show_default=True,
              help="'best' (lowest WAPE), a model kind, or 'none' to register without promoting.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_train(ctx: click.Context, models: str | None, promote: str, as_json: bool, **selection: object) -> None:
    """Backtest, fit on all data, register each model, promote the best."""
    from salesflow.jobs.forecast import train

    with _progress():
        result = train(_chosen(ctx, **selection), parse_kinds(models), None if promote == "none" else promote)
    print_training(result, as_json)


@forecast.command("predict")
@click.option("--version", help="A registered version (default: the promoted one).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_predict(ctx: click.Context, version: str | None, as_json: bool) -> None:
    """Next-day and next-7-day demand per product, with intervals, into gold.demand_predictions."""
    from salesflow.jobs.forecast import predict

    with _progress():
        result = predict(run_context(ctx), version)
    print_prediction(result, as_json)


@forecast.command("models")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def forecast_models(ctx: click.Context, as_json: bool) -> None:
    """The model registry: versions, data ranges, backtest WAPE, which one is promoted."""
    from salesflow.jobs.forecast import registered_models

    print_models(registered_models(run_context(ctx)), as_json)


@forecast.command("promote")
@click.argument("version")
@click.pass_context
@handle_errors
def forecast_promote(ctx: click.Context, version: str) -> None:
    """Make VERSION the model `forecast predict` uses."""
    from salesflow.jobs.forecast import promote

    promote(run_context(ctx), version)
    console.print(f"promoted {version}")


def parse_kinds(models: str | None) -> tuple[str, ...]:
    from salesflow.forecast.kinds import KINDS

    if not models:
        return KINDS
    kinds = tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise click.BadParameter(f"unknown model(s) {unknown}; known: {', '.join(KINDS)}", param_hint="--models")
    return kinds


def metrics_table(backtest: Backtest, title: str) -> Table:
    table = Table(title=title)
    for column in ("horizon", "model", "MAE", "RMSE", "WAPE", "MASE", "R2", "interval coverage",
                   "80% band", "95% band"):
        table.add_column(column, justify="left" if column in ("horizon", "model") else "right")
    for row in backtest.metrics.to_dict(orient="records"):
        horizon = {"1": "1 day", "7": "7 days", "all": "overall"}[row["horizon"]]
        table.add_row(horizon, row["model"], *(_fmt(row[k]) for k in ("mae", "rmse", "wape", "mase", "r2")),
                      *(_share(row.get(k, math.nan)) for k in ("coverage", "coverage_80", "coverage_95")))
    return table


def class_table(backtest: Backtest) -> Table | None:
    """Overall WAPE and MASE per demand class and model: most of a real catalogue is intermittent
    or lumpy, which one overall figure hides."""
    if backtest.by_class.empty:
        return None
    table = Table(title="By demand class (Syntetos-Boylan: ADI 1.32, CV² 0.49), all horizons")
    for column in ("class", "products", "model", "WAPE", "MASE", "80% band", "95% band"):
        table.add_column(column, justify="left" if column in ("class", "model") else "right")
    for row in backtest.by_class[backtest.by_class["horizon"] == "all"].to_dict(orient="records"):
        table.add_row(row["demand_class"], f"{row['products']:,}", row["model"], _fmt(row["wape"]), _fmt(row["mase"]),
                      _share(row.get("coverage_80", math.nan)), _share(row.get("coverage_95", math.nan)))
    return table


def hierarchy_table(backtest: Backtest) -> Table | None:
    """WAPE per level (product, category, total) of each reconciliation, and the one used."""
    tree = backtest.hierarchy
    if tree is None or tree.scores.empty:
        return None
    table = Table(title=f"Forecasts that add up: {tree.method} is used (levels from folds 2..; upper models "
                        f"{', '.join(f'{k}: {v}' for k, v in tree.upper_kinds.items())})")
    for column in ("method", "horizon", "product WAPE", "category WAPE", "total WAPE"):
        table.add_column(column, justify="left" if column in ("method", "horizon") else "right")
    wide = tree.scores.pivot_table(index=["method", "horizon"], columns="level", values="wape")
    for (method, horizon), row in wide.iterrows():
        table.add_row(str(method), f"{horizon} day{'s' if horizon != '1' else ''}",
                      *(_fmt(row.get(level, math.nan)) for level in ("product", "category", "total")))
    return table


def _share(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.0%}"


def _fmt(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def backtest_facts(backtest: Backtest) -> dict[str, object]:
    return {"origins": [c.isoformat() for c in backtest.cutoffs], "mase_scale": backtest.mase_scale,
            "selection": backtest.selection, "calendar": backtest.calendar,
            "by_class": backtest.by_class.to_dict(orient="records"), "choice": backtest.choice,
            "reconciliation": None if backtest.hierarchy is None else backtest.hierarchy.facts(),
            "metrics": backtest.metrics.to_dict(orient="records")}


def print_evaluation(backtest: Backtest, plot: Path | None, as_json: bool) -> None:
    if as_json:
        click.echo(to_json(backtest_facts(backtest)))
        return
    origins = ", ".join(c.isoformat() for c in backtest.cutoffs)
    console.print(metrics_table(backtest, f"Rolling-origin backtest, origins {origins}"))
    classes = class_table(backtest)
    if classes is not None:
        console.print(classes)
    tree = hierarchy_table(backtest)
    if tree is not None:
        console.print(tree)
    if backtest.choice:
        picked = ", ".join(f"{cls}: {kind}" for cls, kind in backtest.choice.items())
        console.print(f"by_class uses, per demand class, the model with the lowest WAPE there: {picked}",
                      highlight=False)
    console.print(f"forecast: {backtest.selection}; {backtest.calendar}", highlight=False)
    if plot is not None:
        console.print(f"plot: {plot}")


def print_training(result: TrainResult, as_json: bool) -> None:
    if as_json:
        click.echo(to_json({"versions": result.versions, "promoted": result.promoted,
                            "seconds": result.seconds, **backtest_facts(result.backtest)}))
        return
    console.print(metrics_table(result.backtest, "Backtest of the models trained"))
    console.print(f"forecast: {result.backtest.selection}; {result.backtest.calendar}", highlight=False)
    for kind, version in result.versions.items():
        mark = "  [green](promoted)[/]" if version == result.promoted else ""
        console.print(f"{kind}: {version}{mark}")
    console.print(f"features {result.seconds['features']:.1f} s, backtest {result.seconds['backtest']:.1f} s, "
                  f"final fit {result.seconds['fit']:.1f} s")


def print_prediction(result: PredictResult, as_json: bool) -> None:
    table = result.table.to_pandas()
    by_day = table.groupby("target_date")[["predicted_units", "lower_units", "upper_units"]].sum()
    if as_json:
        click.echo(to_json({"version": result.version, "forecast_date": result.forecast_date.isoformat(),
                            "rows": result.rows,
                            "by_day": {str(d): r for d, r in by_day.to_dict(orient="index").items()}}))
        return
    out = Table(title=f"Demand forecast from {result.forecast_date} ({result.version}) -> gold.demand_predictions")
    for column in ("day", "predicted units", "interval (sum of bounds)"):
        out.add_column(column, justify="right")
    for day, row in by_day.iterrows():
        out.add_row(str(day), f"{row['predicted_units']:,.0f}",
                    f"{row['lower_units']:,.0f} - {row['upper_units']:,.0f}")
    console.print(out)
    console.print(f"{result.rows:,} product-day rows written; `salesflow warehouse load` publishes them")


def print_models(registry: Registry, as_json: bool) -> None:
    manifests = registry.manifests()
    if as_json:
        keep = ("version", "kind", "trained_at", "data_from", "data_to", "data_fingerprint", "params", "metrics",
                "promoted")
        click.echo(to_json([{k: m.get(k) for k in keep} for m in manifests]))
        return
    table = Table(title=f"Models in {registry.root.parent}")
    for column in ("version", "kind", "data", "WAPE 1d", "WAPE 7d", "promoted"):
        table.add_column(column)
    for m in manifests:
        wape = {r["horizon"]: r["wape"] for r in m["metrics"]}
        table.add_row(m["version"], m["kind"], f"{m['data_from']} .. {m['data_to']}", _fmt(wape.get("1", math.nan)),
                      _fmt(wape.get("7", math.nan)), "yes" if m["promoted"] else "")
    console.print(table)
