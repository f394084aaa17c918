"""The exercise pipeline's authoring side: from ``solutions/`` to student notebooks and key.

- :mod:`~helpers.release.notebooks`: reading notebooks and finding their parts (``check``
  calls, answer stubs, given/manual/unlock cells, the helpers they import), one way.
- :mod:`~helpers.release.build`: ``python -m helpers release`` (and ``--check``).
- :mod:`~helpers.release.blank`: blanking solution regions into a student copy.
- :mod:`~helpers.release.handout`: the student hand-out, a small project of its own.
- :mod:`~helpers.release.html`: the worked solutions as offline HTML pages.
"""
