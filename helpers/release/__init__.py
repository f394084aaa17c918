"""The exercise pipeline's authoring side: from ``solutions/`` to student notebooks and key.

- :mod:`~helpers.release.build`: ``python -m helpers release`` (and ``--check``).
- :mod:`~helpers.release.blank`: blanking solution regions into a student copy.
- :mod:`~helpers.release.publish`: the student handout and the HTML answer pages.
"""
