"""The student copies the integration tests read, and how a timing cell is marked."""

from helpers.release.build import ROOT

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
"""File names of the student notebooks (``notebooks/*.ipynb``)."""

TIMING = "# NBVAL_IGNORE_OUTPUT"
"""First line of a cell whose outputs are machine-dependent measurements: they are not judged
(``test_leaks.seen``), and a figure such a cell draws plots timings (``test_answer_cells``)."""
