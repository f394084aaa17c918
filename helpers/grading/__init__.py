"""Grading a class: ``python -m helpers grade``.

- :mod:`~helpers.grading.grade`: the run: each submission to a row, outputs.
- :mod:`~helpers.grading.released`: what is graded against: the key and the released notebooks.
- :mod:`~helpers.grading.collect`: finding submissions (renamed copies, resubmissions, missing).
- :mod:`~helpers.grading.restore`: the release's locked cells back, the student's answers and cells kept.
- :mod:`~helpers.grading.jail`: the bubblewrap sandbox (or the loud in-process fallback).
- :mod:`~helpers.grading.sandbox`: running one notebook there, with limits; reading its reports.
- :mod:`~helpers.grading.runner`: what runs inside the sandbox.
- :mod:`~helpers.grading.reports`: CSV, Canvas CSV, feedback pages, summary and progress.
- :mod:`~helpers.grading.manual`: written answers graded by hand: review page, points sheet, merge.
"""
