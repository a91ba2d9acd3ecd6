"""audit events by organisation, newest first (/audit, issue 18 point 4)

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_org", "audit_event", ["org_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_event_org", table_name="audit_event")
