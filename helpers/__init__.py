"""CNN Cost Workbook helpers: the notebook API.

One line serves a notebook::

    from helpers import check, Conv2d, Sequential, summary, formulas

The package has three parts (see the map in the README):

- the counting core, flat in this folder: formulas written once for ints, arrays
  and sympy symbols (:mod:`~helpers.formulas`), layer specs and models
  (:mod:`~helpers.layers`, :mod:`~helpers.model`, :mod:`~helpers.width`, :mod:`~helpers.zoo`), their
  tables (:mod:`~helpers.summaries`, :mod:`~helpers.tables`), receptive fields,
  rooflines, systolic arrays, lowering and plots;
- :mod:`helpers.engine`: the numpy engine that runs the networks and times them;
- the exercise pipeline: :mod:`helpers.answers` (``check`` and the key),
  :mod:`helpers.release` (student copies) and :mod:`helpers.grading`.

Names load on first use, so ``import helpers`` stays fast: sympy and matplotlib
are imported only by :mod:`~helpers.symbols` and :mod:`~helpers.plots`.
"""

from importlib import import_module

__version__ = "0.1.0"

_MODULES = ("conventions", "formulas", "symbols", "layers", "model", "zoo", "summaries", "tables",
            "receptive", "roofline", "systolic", "lowering", "space_to_depth", "plots",
            "engine", "machines", "width")
_NAMES = {
    "check": "answers.checking",
    **dict.fromkeys(("Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "BatchNorm2d",
                     "ReLU", "Dropout", "Flatten", "LocalResponseNorm", "SpaceToDepth"), "layers"),
    **dict.fromkeys(("Sequential", "Parallel", "walk", "trace"), "model"),
    "scale_width": "width",
    "summary": "summaries",
    **dict.fromkeys(("receptive_field", "final_field"), "receptive"),
}

_SUBMODULES = {"bench": "engine.bench"}     # engine modules a notebook uses by name

__all__ = sorted((*_MODULES, *_NAMES, *_SUBMODULES))


def __getattr__(name):
    if name in _NAMES:
        value = getattr(import_module(f"helpers.{_NAMES[name]}"), name)
    elif name in _MODULES:
        value = import_module(f"helpers.{name}")
    elif name in _SUBMODULES:
        value = import_module(f"helpers.{_SUBMODULES[name]}")
    else:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
