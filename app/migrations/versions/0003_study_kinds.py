"""study kinds: several systems, rating studies, answers and units, choice codes

A study names any number of systems (JSON) and a kind; each system's answer is a row of
`answer`; the work handed out is a `unit` (a pair of answers, or one answer to rate), and
assignments point at units. Judgments store the contract's choice codes ("a", "b", "tie",
"both_bad") instead of the enum names, and ratings as JSON. Users get
`credentials_changed_at`. Existing studies become pairwise studies with one unit per item;
every judgment keeps its assignment, choice and flags.

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Names for the unnamed unique constraints of 0001, so batch mode (SQLite) can drop them.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
OLD_CHOICES = {"a_better": "a", "b_better": "b", "tie": "tie", "both_bad": "both_bad"}


def _rows(sql: str, **params) -> list:
    return list(op.get_bind().execute(sa.text(sql), params))


def _run(sql: str, **params) -> None:
    op.get_bind().execute(sa.text(sql), params)


def _new_tables() -> None:
    op.create_table(
        "answer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("item.id"), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.UniqueConstraint("item_id", "system", name="uq_answer_item_system"),
    )
    op.create_index("ix_answer_item_id", "answer", ["item_id"])
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("item.id"), nullable=False),
        sa.Column("answer_1_id", sa.Integer(), sa.ForeignKey("answer.id"), nullable=False),
        sa.Column("answer_2_id", sa.Integer(), sa.ForeignKey("answer.id"), nullable=True),
        sa.Column("comparison", sa.String(), nullable=False),
        sa.Column("is_gold", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_unit_study_id", "unit", ["study_id"])
    op.create_index("ix_unit_item_id", "unit", ["item_id"])


def _studies_and_items() -> dict[int, int]:
    """Move answers into `answer`, make one unit per item; returns {item id: unit id}."""
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="pairwise"))
        batch.add_column(sa.Column("systems", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("rubric", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("gold_system", sa.String(), nullable=True))
    systems = {}
    for study_id, first, second in _rows("SELECT id, system_1, system_2 FROM study"):
        systems[study_id] = (first, second)
        _run("UPDATE study SET systems = :systems WHERE id = :id", systems=json.dumps([first, second]), id=study_id)
    unit_of_item = {}
    items = _rows("SELECT id, study_id, answer_1, answer_2, is_gold, gold_better FROM item ORDER BY id")
    for item_id, study_id, answer_1, answer_2, is_gold, gold_better in items:
        first, second = systems[study_id]
        if gold_better in (1, 2):
            _run("UPDATE item SET gold_system = :s WHERE id = :id", s=(first, second)[gold_better - 1], id=item_id)
        answer_ids = []
        for system, text in ((first, answer_1), (second, answer_2)):
            _run("INSERT INTO answer (item_id, system, text) VALUES (:i, :s, :t)", i=item_id, s=system, t=text)
            answer_ids.append(_rows("SELECT id FROM answer WHERE item_id = :i AND system = :s", i=item_id, s=system)[0][0])
        _run("INSERT INTO unit (study_id, item_id, answer_1_id, answer_2_id, comparison, is_gold) "
             "VALUES (:st, :i, :a1, :a2, :c, :g)", st=study_id, i=item_id, a1=answer_ids[0], a2=answer_ids[1],
             c=f"{first}:{second}", g=bool(is_gold))
        unit_of_item[item_id] = _rows("SELECT id FROM unit WHERE item_id = :i", i=item_id)[0][0]
    with op.batch_alter_table("study") as batch:
        batch.drop_column("system_1")
        batch.drop_column("system_2")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("answer_1")
        batch.drop_column("answer_2")
        batch.drop_column("gold_better")
    return unit_of_item


def _orders_and_assignments(unit_of_item: dict[int, int]) -> None:
    with op.batch_alter_table("physicianorder") as batch:
        batch.add_column(sa.Column("unit_order", sa.Text(), nullable=False, server_default="[]"))
    for order_id, item_order in _rows("SELECT id, item_order FROM physicianorder"):
        units = [unit_of_item[i] for i in json.loads(item_order) if i in unit_of_item]
        _run("UPDATE physicianorder SET unit_order = :u WHERE id = :id", u=json.dumps(units), id=order_id)
    with op.batch_alter_table("physicianorder") as batch:
        batch.drop_column("item_order")

    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
    for assignment_id, item_id in _rows("SELECT id, item_id FROM assignment"):
        _run("UPDATE assignment SET unit_id = :u WHERE id = :id", u=unit_of_item[item_id], id=assignment_id)
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("assignment", naming_convention=NAMING) as batch:
        if sqlite:  # elsewhere dropping item_id drops the constraints that use it
            batch.drop_constraint("uq_assignment_item_id_slot", type_="unique")
            batch.drop_constraint("uq_assignment_user_id_item_id", type_="unique")
        batch.drop_index("ix_assignment_item_id")
        batch.drop_column("item_id")
        batch.alter_column("unit_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key("fk_assignment_unit_id_unit", "unit", ["unit_id"], ["id"])
        batch.create_unique_constraint("uq_assignment_user_unit", ["user_id", "unit_id"])
        batch.create_unique_constraint("uq_assignment_unit_slot", ["unit_id", "slot"])
        batch.create_index("ix_assignment_unit_id", ["unit_id"])


def _judgments() -> None:
    with op.batch_alter_table("judgment") as batch:
        batch.add_column(sa.Column("choice_code", sa.String(), nullable=True))
        batch.add_column(sa.Column("ratings", sa.Text(), nullable=True))
    for old, new in OLD_CHOICES.items():
        _run("UPDATE judgment SET choice_code = :new WHERE CAST(choice AS VARCHAR) = :old", new=new, old=old)
    with op.batch_alter_table("judgment") as batch:
        batch.drop_column("choice")
        batch.alter_column("choice_code", new_column_name="choice", existing_type=sa.String(), nullable=True)
    if op.get_bind().dialect.name == "postgresql":
        _run("DROP TYPE IF EXISTS choice")


def upgrade() -> None:
    _new_tables()
    unit_of_item = _studies_and_items()
    _orders_and_assignments(unit_of_item)
    _judgments()
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("credentials_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("0003 cannot be undone: restore the backup taken before upgrading")
