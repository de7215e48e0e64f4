"""Plain functions that read and write the tables in app/models.py, by concern.

Gradio callbacks and the command line call these; nothing else runs SQL. Every function takes
an open Session and leaves committing to `transaction()`, so one call is one transaction.
"""

from app.storage.assignment import (
    assignment_by_token,
    eligible_units,
    next_assignment,
    open_assignment,
    owned_assignment,
    study_of,
)
from app.storage.base import AccessDenied, StorageError, as_utc, fold, transaction
from app.storage.judgments import (
    AlreadyJudged,
    HistoryEntry,
    Progress,
    WorkView,
    judgment_as_shown,
    judgment_history,
    last_judged_assignment,
    progress,
    revise_judgment,
    show_unit,
    skip_assignment,
    submit_judgment,
)
from app.storage.membership import add_members, may_judge, studies_for, study_members
from app.storage.studies import (
    create_study,
    get_study,
    list_studies,
    parse_comparisons,
    study_comparisons,
    study_rubric,
)
from app.storage.users import (
    add_user,
    authenticate,
    get_user,
    list_users,
    require_role,
    require_user,
    set_disabled,
    set_password,
)
from app.storage.views import export_judgments, study_counts, study_progress, study_settings

__all__ = [
    "add_members", "may_judge", "studies_for", "study_members",
    "AccessDenied", "AlreadyJudged", "HistoryEntry", "Progress", "StorageError", "WorkView", "add_user", "as_utc",
    "assignment_by_token", "authenticate", "create_study", "eligible_units", "export_judgments", "fold", "get_study",
    "get_user", "judgment_as_shown", "judgment_history", "last_judged_assignment", "list_studies", "list_users", "next_assignment",
    "open_assignment", "owned_assignment", "parse_comparisons", "progress", "require_role", "require_user",
    "revise_judgment", "set_disabled", "set_password", "show_unit", "skip_assignment", "study_comparisons", "study_counts", "study_of",
    "study_progress", "study_rubric", "study_settings", "submit_judgment", "transaction",
]
