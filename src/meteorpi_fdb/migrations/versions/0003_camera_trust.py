"""Cameras belong to users; pending uploads are tracked (issue 11).

``t_usercamera`` binds import users to the camera ids they may write for; ``t_pendingupload``
records content uploaded through the import API whose record has not arrived yet (who, when,
how many bytes), so that quotas and expiry work across server processes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('t_usercamera',
    sa.Column('userid', sa.Integer(), nullable=False),
    sa.Column('cameraid', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['userid'], ['t_user.internalid'], name=op.f('fk_usercamera_userid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('userid', 'cameraid', name=op.f('pk_t_usercamera'))
    )
    op.create_index(op.f('ix_usercamera_cameraid'), 't_usercamera', ['cameraid'], unique=False)
    op.create_table('t_pendingupload',
    sa.Column('fileid', sa.String(length=32), nullable=False),
    sa.Column('importuser', sa.String(length=255), nullable=False),
    sa.Column('uploadtime', sa.BigInteger(), nullable=False),
    sa.Column('filesize', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('fileid', name=op.f('pk_t_pendingupload'))
    )
    op.create_index(op.f('ix_pendingupload_importuser'), 't_pendingupload', ['importuser'], unique=False)
    op.create_index(op.f('ix_pendingupload_uploadtime'), 't_pendingupload', ['uploadtime'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_pendingupload_uploadtime'), table_name='t_pendingupload')
    op.drop_index(op.f('ix_pendingupload_importuser'), table_name='t_pendingupload')
    op.drop_table('t_pendingupload')
    op.drop_index(op.f('ix_usercamera_cameraid'), table_name='t_usercamera')
    op.drop_table('t_usercamera')
