"""Grading a class: ``python -m helpers grade``.

- :mod:`~helpers.grading.grade`: finding submissions, running them, the CSV.
- :mod:`~helpers.grading.restore`: putting the released (locked) cells back.
- :mod:`~helpers.grading.sandbox`: running one notebook in a guarded kernel.
- :mod:`~helpers.grading.reports`: CSV, feedback pages, summary and progress.
"""
