"""The bundled example inventory (a copy of ``examples/inventory.csv`` inside the package)."""

from __future__ import annotations

from importlib import resources

import pandas as pd


def example_inventory() -> pd.DataFrame:
    """A few holdings, including a cross-hedge (SOL with BTC contracts)."""
    with resources.files("xlhedge").joinpath("data/example_inventory.csv").open("rb") as handle:
        return pd.read_csv(handle)
