"""Per-layer cost tables with totals: the aggregation step between walk and display.

Examples
--------
>>> s = summary("alexnet")
>>> s.rows[0].name, s.rows[0].output, s.rows[0].params
('conv1', (96, 55, 55), 34944)
>>> s.totals["params"]
62378344
>>> s.totals["params"] == sum(r.params for r in s.rows)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from helpers import zoo
from helpers.conventions import BYTES_PER_ELEM
from helpers.formulas import flops, to_bytes
from helpers.model import check_input_shape, walk

__all__ = ["Summary", "summary"]

COLUMNS = ("params", "macs", "activations")
IN_PLACE = ("ReLU", "Dropout", "Flatten")
"""Kinds whose output is stored in their input's memory at inference (in-place
activation, identity, a view), as PyTorch's ``inplace=True`` and ``view`` do."""


@dataclass(frozen=True, repr=False)
class Summary:
    """A model's per-layer rows for one input shape and batch, with totals.

    Prints as an aligned text table and renders as an HTML table in Jupyter.
    """

    model: str
    input: tuple
    batch: int
    rows: tuple
    bytes_per_elem: int = BYTES_PER_ELEM

    @property
    def totals(self):
        """Sums of the leaf rows: ``{"params", "macs", "activations"}``."""
        return {c: sum(getattr(r, c) for r in self.rows) for c in COLUMNS}

    @property
    def flops(self):
        """FLOPs of the whole batch (2 per MAC)."""
        return flops(self.totals["macs"])

    def row(self, name):
        """The row called ``name`` (``KeyError`` listing close names if absent)."""
        for r in self.rows:
            if r.name == name:
                return r
        near = [r.name for r in self.rows if name.split(".")[0] in r.name][:8]
        raise KeyError(f"no layer {name!r} in {self.model}; similar: {near}")

    def select(self, kind):
        """Rows of one kind, e.g. ``"Conv2d"``."""
        return [r for r in self.rows if r.kind == kind]

    def weight_bytes(self):
        """Bytes of all parameters."""
        return to_bytes(self.totals["params"], self.bytes_per_elem)

    def stored_values(self, include_input=True):
        """Values held in every layer output, skipping in-place kinds (``IN_PLACE``),
        plus the input image if asked: the reading of the classic VGG memory table.

        Examples
        --------
        >>> summary("vgg16").stored_values()
        15237608
        """
        values = sum(r.activations for r in self.rows if r.kind not in IN_PLACE)
        if include_input:
            values += prod(self.input) * self.batch
        return values

    def group_totals(self, depth=1):
        """Totals per name prefix of ``depth`` parts, in order of first appearance.

        Examples
        --------
        >>> list(summary("inception-reduced").group_totals())
        ['1x1', '3x3', '5x5', 'pool']
        """
        groups = {}
        for r in self.rows:
            key = ".".join(r.name.split(".")[:depth])
            group = groups.setdefault(key, dict.fromkeys(COLUMNS, 0))
            for c in COLUMNS:
                group[c] += getattr(r, c)
        return groups

    def to_dict(self):
        """The JSON form printed by ``python -m helpers summary MODEL --json``."""
        return {"model": self.model, "input": list(self.input), "batch": self.batch,
                "layers": [{"name": r.name, "kind": r.kind, "output": list(r.output),
                            "params": r.params, "macs": r.macs, "activations": r.activations}
                           for r in self.rows],
                "totals": self.totals}

    def __str__(self):
        from helpers.tables import text_table
        return text_table(self)

    __repr__ = __str__

    def _repr_html_(self):
        from helpers.tables import html_table
        return html_table(self)


def summary(model, input_shape=None, batch=1, bytes_per_elem=BYTES_PER_ELEM):
    """Cost table of a zoo model (by name) or of a spec tree.

    Parameters
    ----------
    model : str or spec
        A name from :func:`helpers.zoo.names` or a Layer/Sequential/Parallel.
    input_shape : tuple of int, optional
        ``(C, H, W)``; defaults to the zoo entry's input (required for a spec).
    batch : int, optional
    bytes_per_elem : int, optional
        Element size for the byte columns (fp32: 4).
    """
    if isinstance(model, str):
        entry = zoo.entry(model)
        name, spec = entry.name, entry.build()
        input_shape = entry.input_shape if input_shape is None else input_shape
    else:
        name, spec = type(model).__name__, model
        if input_shape is None:
            raise ValueError("input_shape is required for a model that is not in the zoo")
    input_shape = check_input_shape(input_shape)
    return Summary(name, input_shape, batch, tuple(walk(spec, input_shape, batch)), bytes_per_elem)
