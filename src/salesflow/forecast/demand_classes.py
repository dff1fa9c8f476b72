"""Demand classes (Syntetos-Boylan): how often a product sells and how much the sizes vary.

ADI, the average interval between days with a sale, and CV², the squared coefficient of
variation of the sizes on those days, split products into four classes with the usual cut-offs
(ADI 1.32, CV² 0.49): *smooth* (frequent, steady), *erratic* (frequent, sizes vary), *intermittent*
(rare, steady) and *lumpy* (rare, sizes vary). A real catalogue is mostly intermittent and lumpy,
where one global model's WAPE hides what happens to most products; the backtest reports each
class apart. Computed on the training history only (up to the first backtest origin), so the
class of a product is known before anything it is scored on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ADI_CUT, CV2_CUT = 1.32, 0.49
CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


def classify(history: pd.DataFrame) -> pd.Series:
    """``history``: product_id, target_date, target (units per product and day, dense from the
    product's first sale). Returns the class per product_id; a product that never sold is lumpy."""
    sold = history[history["target"] > 0]
    days = history.groupby("product_id")["target_date"].nunique()
    selling = sold.groupby("product_id")["target"]
    count, mean, std = selling.count(), selling.mean(), selling.std(ddof=0)
    adi = (days / count).reindex(days.index).fillna(np.inf)
    cv2 = ((std / mean) ** 2).reindex(days.index).fillna(np.inf)  # never sold: no size to speak of
    return pd.Series(label(adi.to_numpy(), cv2.to_numpy()), index=days.index, name="demand_class")


def label(adi: np.ndarray, cv2: np.ndarray) -> np.ndarray:
    """The class of each (ADI, CV²) pair; infinite ADI (never sold) is lumpy."""
    frequent, steady = adi < ADI_CUT, cv2 < CV2_CUT
    return np.select([frequent & steady, frequent & ~steady, ~frequent & steady], list(CLASSES[:3]), CLASSES[3])


UNSEEN_CLASS = "lumpy"
"""The class of a product the classification did not see (no history before the first origin)."""


def class_of(product_ids: pd.Series, classes: pd.Series | dict[str, str]) -> pd.Series:
    """Each product's demand class, UNSEEN_CLASS for one ``classes`` does not know."""
    return product_ids.map(classes).fillna(UNSEEN_CLASS)


def choose(predictions: pd.DataFrame, classes: pd.Series) -> dict[str, str]:
    """Per demand class, the model with the lowest WAPE over every fold and horizon of the backtest
    (``predictions``: model, product_id, actual, predicted)."""
    of = class_of(predictions["product_id"], classes)
    error = (predictions["actual"] - predictions["predicted"]).abs()
    frame = pd.DataFrame({"cls": of, "model": predictions["model"], "error": error,
                          "actual": predictions["actual"].abs()})
    sums = frame.groupby(["cls", "model"])[["error", "actual"]].sum()
    wape = (sums["error"] / sums["actual"].where(sums["actual"] > 0)).fillna(sums["error"])
    return {str(cls): str(part.droplevel(0).idxmin()) for cls, part in wape.groupby(level=0)}


def by_class_predictions(predictions: pd.DataFrame, classes: pd.Series, choice: dict[str, str],
                         name: str) -> pd.DataFrame:
    """The backtest rows of each class's chosen model, as the model ``name``."""
    of = class_of(predictions["product_id"], classes)
    chosen = predictions["model"] == of.map(choice)
    return predictions[chosen].assign(model=name)
