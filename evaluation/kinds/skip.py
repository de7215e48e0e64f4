"""Why a physician could not judge a unit ("cannot judge", issue 22): the stored codes, one
definition for every study kind. Display labels live in the UI only (app/ui), like the judgment
codes of evaluation/kinds/pairwise.py."""

from __future__ import annotations

from enum import StrEnum


class SkipReason(StrEnum):
    outside_expertise = "outside_expertise"
    answer_unreadable = "answer_unreadable"
    question_unclear = "question_unclear"
    other = "other"  # the physician says why in a note (required)


MAX_SKIP_NOTE_CHARS = 1_000
