"""Demand forecasting: leakage-free features in SQL, three models, rolling-origin backtests, a registry."""
