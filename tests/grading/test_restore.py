"""Restoring a submission onto the release: by id or by content, keeping what the student added."""

import copy

from helpers.grading.restore import CHECK_ALIAS, cells_of, match_score, restore

RELEASE = [
    ("markdown", "# Alpha", "a0", []),
    ("code", "from helpers import check\nbase = 6", "a1", []),
    ("markdown", "## (a)", "a2", []),
    ("code", 'ratio = ...  # your answer\ncheck("fx.ratio", ratio)', "a3", []),
    ("markdown", "## (b)", "a4", []),
    ("code", 'count = ...  # your answer\ncheck("fx.count", count)', "a5", []),
    ("markdown", "Explain.", "a6", []),
    ("markdown", "*Your answer here.*", "a7", ["solution", "manual"]),
    ("code", "print(base)", "a8", []),
]


def answered(ids=True):
    cells = copy.deepcopy(RELEASE)
    cells[3] = ("code", 'ratio = 3 / 256\ncheck("fx.ratio", ratio)', "a3", [])
    cells[5] = ("code", 'count = base * 7\ncheck("fx.count", count)', "a5", [])
    cells[7] = ("markdown", "Because.", "a7", ["solution", "manual"])
    return [(t, s, i if ids else None, g) for t, s, i, g in cells]


def sources(restored):
    return {c["id"]: c["source"] for c in restored.cells}


def test_untouched_answers_keep_their_lines_and_get_the_alias():
    r = restore(RELEASE, answered())
    assert sources(r)[3] == f'ratio = 3 / 256\n{CHECK_ALIAS}("fx.ratio", ratio)'
    assert r.restored == [] and r.added == [] and r.written == {7: "Because."}


def test_without_ids_an_added_or_deleted_markdown_cell_changes_nothing():
    added = answered(ids=False)
    added.insert(3, ("markdown", "My own note.", None, []))
    deleted = answered(ids=False)
    del deleted[4]
    for cells in (added, deleted):
        r = restore(RELEASE, cells)
        assert sources(r) == sources(restore(RELEASE, answered())), cells
        assert r.restored == [] and r.written == {7: "Because."}


def test_pasted_into_a_new_notebook_with_a_scratch_cell():
    pasted = [(t, s, f"new{n}", g) for n, (t, s, _, g) in enumerate(answered())]
    pasted.insert(4, ("code", "scratch = 3 * 48", "new-x", []))
    r = restore(RELEASE, pasted)
    assert r.added == [4] and sources(r)["added 4"] == "scratch = 3 * 48"
    assert sources(r)[5] == f'count = base * 7\n{CHECK_ALIAS}("fx.count", count)'
    assert [c["id"] for c in r.cells] == [1, 3, "added 4", 5, 8]


def test_a_cell_the_student_added_is_kept_where_they_put_it():
    cells = answered()
    cells[3] = ("code", 'ratio = share(3)\ncheck("fx.ratio", ratio)', "a3", [])
    cells.insert(3, ("code", "def share(n):\n    return n / 256", None, []))
    r = restore(RELEASE, cells)
    assert [c["id"] for c in r.cells] == [1, "added 3", 3, 5, 8]
    assert "added" in r.notes[-1]


def test_edited_locked_cells_and_check_lines_come_back_from_the_release():
    cells = answered(ids=False)
    cells[1] = ("code", "from helpers import check\nbase = 600", None, [])
    cells[3] = ("code", 'ratio = 0.5\ncheck("fx.ratio", 3 / 256)', None, [])
    r = restore(RELEASE, cells)
    assert sources(r)[1] == "from helpers import check\nbase = 6"
    assert sources(r)[3] == f'ratio = 0.5\n{CHECK_ALIAS}("fx.ratio", ratio)'
    assert r.restored == [1, 3]


def test_a_missing_answer_cell_is_unanswered_and_a_missing_locked_cell_comes_back():
    cells = answered()
    del cells[5]
    del cells[1]
    r = restore(RELEASE, cells)
    assert sources(r)[1] == "from helpers import check\nbase = 6" and sources(r)[5].startswith("count = ...")
    assert [c["id"] for c in r.cells] == [1, 3, 5, 8]
    assert any("cell 5 (an answer cell) is missing" in n for n in r.notes)


def test_reordered_answer_cells_run_in_the_students_order():
    cells = answered()
    cells[3], cells[5] = cells[5], cells[3]
    r = restore(RELEASE, cells)
    assert [c["id"] for c in r.cells] == [1, 5, 3, 8] and r.restored == []


def test_lenient_reading_and_match_score():
    data = {"cells": [{"cell_type": "markdown", "source": ["# Al", "pha"]}, {"source": 1},
                      {"cell_type": "code", "source": ["from helpers import check\r\n", "base = 6"]}]}
    cells, problems = cells_of(data)
    assert [c[1] for c in cells] == ["# Alpha", "from helpers import check\nbase = 6"]
    assert problems == ["cell 1 has no valid cell type: skipped"]
    assert match_score(RELEASE, cells) == 2 / 6
    assert match_score(RELEASE, answered(ids=False)) == 1.0
