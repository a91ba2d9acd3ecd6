"""member abroad block (出国（境）情况, seed 001 附件1 note 7)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = (
    ("abroad_date", 10),
    ("abroad_reason", 10),
    ("abroad_contact", 10),
    ("abroad_party_status", 12),
    ("return_date", 10),
    ("org_life_restored", 10),
)


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        for name, length in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
