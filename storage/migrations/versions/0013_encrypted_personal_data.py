"""personal data encrypted at rest: wider columns and the ID number's HMAC

身份证号, 现居住地 and phone numbers become ciphertext ("v1:<key id>:<base64>",
storage/crypto.py), longer than the old String lengths: the columns become
Text. The ID number is no longer unique itself (every encryption differs);
its HMAC is, in ``member.id_number_hmac``. Existing rows are encrypted by the
bot at its next start or by ``paicha rotate-key`` (the key is not known here).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_constraint("uq_member_id_number", type_="unique")
        batch_op.alter_column(
            "id_number", existing_type=sa.String(length=18), type_=sa.Text(), existing_nullable=True
        )
        batch_op.alter_column(
            "residence",
            existing_type=sa.String(length=100),
            type_=sa.Text(),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "phone", existing_type=sa.String(length=20), type_=sa.Text(), existing_nullable=True
        )
        batch_op.add_column(sa.Column("id_number_hmac", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_member_id_number_hmac"), ["id_number_hmac"], unique=True
        )
    with op.batch_alter_table("family_member", schema=None) as batch_op:
        batch_op.alter_column(
            "phone", existing_type=sa.String(length=20), type_=sa.Text(), existing_nullable=True
        )
    with op.batch_alter_table("mobile_record", schema=None) as batch_op:
        batch_op.alter_column(
            "reported_phone",
            existing_type=sa.String(length=20),
            type_=sa.Text(),
            existing_nullable=True,
        )


def downgrade() -> None:
    # Only for a database whose values are plaintext again (none is encrypted).
    with op.batch_alter_table("mobile_record", schema=None) as batch_op:
        batch_op.alter_column(
            "reported_phone",
            existing_type=sa.Text(),
            type_=sa.String(length=20),
            existing_nullable=True,
        )
    with op.batch_alter_table("family_member", schema=None) as batch_op:
        batch_op.alter_column(
            "phone", existing_type=sa.Text(), type_=sa.String(length=20), existing_nullable=True
        )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_id_number_hmac"))
        batch_op.drop_column("id_number_hmac")
        batch_op.alter_column(
            "phone", existing_type=sa.Text(), type_=sa.String(length=20), existing_nullable=True
        )
        batch_op.alter_column(
            "residence",
            existing_type=sa.Text(),
            type_=sa.String(length=100),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "id_number", existing_type=sa.Text(), type_=sa.String(length=18), existing_nullable=True
        )
        batch_op.create_unique_constraint("uq_member_id_number", ["id_number"])
