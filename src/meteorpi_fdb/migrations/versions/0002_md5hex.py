"""Rename t_file.md5 back to the 2015 name md5Hex (lower case, as every identifier; SPEC section 9).

An in-place column rename on every backend, so existing rows keep their MD5s. SQLite is not put
through Alembic's batch mode: that copies and drops the table, and dropping t_file would cascade
to its metadata, links and queue rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "firebird":
        op.execute(f"ALTER TABLE t_file ALTER COLUMN {old} TO {new}")
    else:  # PostgreSQL, and SQLite 3.25 or later
        op.execute(f"ALTER TABLE t_file RENAME COLUMN {old} TO {new}")


def upgrade() -> None:
    _rename("md5", "md5hex")


def downgrade() -> None:
    _rename("md5hex", "md5")
