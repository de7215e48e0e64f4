"""Rubrics: the shipped ones load; every validation error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.records import DataError
from evaluation.rubric import Binary, Choice, Likert, Rubric, load_rubric

RUBRICS = Path(__file__).resolve().parents[2] / "configs" / "rubrics"

GOOD = """\
name: t
criteria:
  - id: quality
    question: How good?
    scale: {type: likert, points: 3, anchors: {1: bad, 2: fair, 3: good}}
"""


def write(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_summary_quality_is_the_papers_five_point_grade():
    rubric = load_rubric(RUBRICS / "summary-quality.yaml")
    assert [c.id for c in rubric.criteria] == ["quality"]
    quality = rubric.criterion("quality")
    assert isinstance(quality.scale, Likert) and quality.scale.points == 5
    assert quality.scale_code == "likert-5" and quality.higher_is_better
    assert all(quality.scale.anchors[p].strip() for p in range(1, 6))
    assert rubric.check({"quality": 4}) == {"quality": 4}


def test_clinical_axes_cover_the_med_palm_axes_with_directions():
    rubric = load_rubric(RUBRICS / "clinical-axes.yaml")
    ids = [c.id for c in rubric.criteria]
    assert ids == ["consensus", "comprehension", "recall", "reasoning", "inaccurate_content", "omission", "bias",
                   "harm_extent", "harm_likelihood"]
    worse_when_higher = {c.id for c in rubric.criteria if not c.higher_is_better}
    assert worse_when_higher == {"inaccurate_content", "omission", "bias", "harm_extent", "harm_likelihood"}
    assert isinstance(rubric.criterion("consensus").scale, Choice)
    # The binary labels are the YAML keys `yes:` / `no:`; YAML 1.1 would have read them as booleans.
    comprehension = rubric.criterion("comprehension").scale
    assert isinstance(comprehension, Binary) and comprehension.yes.startswith("Yes")
    assert rubric.criterion("harm_extent").scale_code == "likert-3"
    assert rubric.criterion("harm_extent").scale.anchors[3] == "Death or severe harm"
    # Every shipped rubric survives the JSON round trip a study stores it in.
    assert Rubric.from_json(rubric.to_json()) == rubric


def test_a_good_rubric_loads(tmp_path):
    rubric = load_rubric(write(tmp_path, GOOD))
    assert rubric.criterion("quality").options()[0] == (1, "1: bad")


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (GOOD.replace("name: t", "name: t\nauthor: me"), "author", "unknown key"),
        (GOOD.replace("    question: How good?", "    question: How good?\n    colour: red"), "criteria.0.colour",
         "unknown key"),
        (GOOD.replace("3: good}", "3: good}, shade: 2"), "criteria.0.scale.shade", "unknown key"),
        (GOOD.replace(", 3: good", ""), "criteria.0.scale.anchors", "missing [3]"),
        (GOOD.replace("3: good", "3: good, 4: great"), "criteria.0.scale.anchors", "not on the scale [4]"),
        (GOOD + GOOD.split("criteria:\n", 1)[1], "criteria", "repeated: quality"),
        (GOOD.replace("id: quality", "id: Quality Score"), "criteria.0.id", "lower-case"),
        (GOOD.replace("type: likert", "type: stars"), "criteria.0.scale", "likert"),
        (GOOD.replace("    question: How good?\n", ""), "criteria.0.question", "required"),
        ("name: t\ncriteria: []\n", "criteria", "at least 1"),
    ],
    ids=["unknown-top", "unknown-criterion-key", "unknown-scale-key", "missing-anchor", "extra-anchor",
         "duplicate-id", "bad-id", "bad-scale-type", "missing-question", "no-criteria"],
)
def test_validation_errors_name_file_and_key(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        load_rubric(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(path) in str(caught.value) and field in str(caught.value)


def test_not_yaml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "name: t\ncriteria: [\n  - id: q\n")
    with pytest.raises(DataError, match="not valid YAML") as caught:
        load_rubric(path)
    assert caught.value.file == str(path) and caught.value.line == 3


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a sentence\n", ""])
def test_not_a_mapping(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match="a rubric is a mapping") as caught:
        load_rubric(path)
    assert caught.value.file == str(path)


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_rubric(tmp_path / "absent.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("bad", "m\xe9diocre").encode("latin-1"))
    with pytest.raises(DataError, match="not valid YAML") as caught:
        load_rubric(path)
    assert caught.value.file == str(path)


def test_yes_and_no_are_text_but_true_and_false_stay_booleans(tmp_path):
    text = ("name: t\ncriteria:\n  - id: agree\n    question: Agree?\n    required: false\n"
            "    scale: {type: binary, yes: Agree, no: Disagree}\n")
    criterion = load_rubric(write(tmp_path, text)).criterion("agree")
    assert criterion.scale.yes == "Agree" and criterion.scale.no == "Disagree"
    assert criterion.required is False
    assert criterion.options() == [(1, "Agree"), (0, "Disagree")]


def test_more_criteria_than_one_screen_shows_is_refused(tmp_path):
    from evaluation.rubric import MAX_CRITERIA

    criteria = "".join(f"  - {{id: c{i}, question: 'Q{i}', scale: {{type: binary}}}}\n" for i in range(MAX_CRITERIA + 1))
    path = tmp_path / "long.yaml"
    path.write_text(f"name: long\ncriteria:\n{criteria}")
    with pytest.raises(DataError, match="long.yaml: field 'criteria'"):
        load_rubric(path)
