"""CNN Cost Workbook helpers: counts, symbols, plots and tools for the notebooks.

Importing ``helpers`` is cheap: sympy and matplotlib load only in the
modules that need them (:mod:`helpers.symbols`, :mod:`helpers.plots`).
"""

__version__ = "0.1.0"

from .answers import check  # noqa: E402  (the one function every notebook uses)

__all__ = ["check"]
