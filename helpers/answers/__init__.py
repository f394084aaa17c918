"""Answers: the student's ``check``, judging against the key, and the key's hashed forms.

- :mod:`~helpers.answers.checking`: ``check`` (print, record or emit a value) and the
  kernel-to-grader protocol constants (``RECORD_ENV``, ``MODE_ENV``, ``MIME``).
- :mod:`~helpers.answers.judge`: ``judge`` a value against a key entry; ``load_key``.
- :mod:`~helpers.answers.keying`: canonical forms and salted digests; ``make_entry``.
- :mod:`~helpers.answers.unlock`: explanations sealed under the correct answer.
- :mod:`~helpers.answers.serial`: JSON encoding of recorded values.
"""

from helpers.answers.checking import KEY_PATH, MIME, MODE_ENV, RECORD_ENV, Verdict, check, judge, load_key, make_entry

__all__ = ["check", "judge", "load_key", "make_entry", "Verdict", "KEY_PATH", "RECORD_ENV", "MODE_ENV", "MIME"]
