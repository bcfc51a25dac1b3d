"""Initial schema: a frozen snapshot of schema.py as it was at revision 0001.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('t_camerastatus',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('statusid', sa.String(length=32), nullable=False),
    sa.Column('cameraid', sa.String(length=64), nullable=False),
    sa.Column('validfrom', sa.BigInteger(), nullable=False),
    sa.Column('softwareversion', sa.Integer(), nullable=False),
    sa.Column('lens', sa.String(length=255), nullable=False),
    sa.Column('sensor', sa.String(length=255), nullable=False),
    sa.Column('insturl', sa.String(length=1024), nullable=False),
    sa.Column('instname', sa.String(length=255), nullable=False),
    sa.Column('locationlatitude', sa.Double(), nullable=False),
    sa.Column('locationlongitude', sa.Double(), nullable=False),
    sa.Column('locationgps', sa.Boolean(), nullable=False),
    sa.Column('locationerror', sa.Double(), nullable=False),
    sa.Column('orientationaltitude', sa.Double(), nullable=False),
    sa.Column('orientationazimuth', sa.Double(), nullable=False),
    sa.Column('orientationerror', sa.Double(), nullable=False),
    sa.Column('orientationrotation', sa.Double(), nullable=False),
    sa.Column('widthoffield', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_camerastatus')),
    sa.UniqueConstraint('statusid', name=op.f('uq_camerastatus_statusid'))
    )
    op.create_index(op.f('ix_camerastatus_cameraid_validf'), 't_camerastatus', ['cameraid', 'validfrom'], unique=False)
    op.create_table('t_exportconfig',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('exportconfigid', sa.String(length=32), nullable=False),
    sa.Column('exporttype', sa.String(length=16), nullable=False),
    sa.Column('searchstring', sa.Text(), nullable=False),
    sa.Column('targeturl', sa.String(length=1024), nullable=False),
    sa.Column('targetuser', sa.String(length=255), nullable=False),
    sa.Column('targetpassword', sa.String(length=255), nullable=False),
    sa.Column('exportname', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=1024), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('cabundle', sa.String(length=1024), nullable=True),
    sa.Column('failurecount', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_exportconfig')),
    sa.UniqueConstraint('exportconfigid', name=op.f('uq_exportconfig_exportconfigid'))
    )
    op.create_table('t_highwatermark',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('cameraid', sa.String(length=64), nullable=False),
    sa.Column('mark', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_highwatermark')),
    sa.UniqueConstraint('cameraid', name=op.f('uq_highwatermark_cameraid'))
    )
    op.create_table('t_user',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('userid', sa.String(length=255), nullable=False),
    sa.Column('pwhash', sa.String(length=255), nullable=False),
    sa.Column('rolemask', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_user')),
    sa.UniqueConstraint('userid', name=op.f('uq_user_userid'))
    )
    op.create_table('t_event',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('eventid', sa.String(length=32), nullable=False),
    sa.Column('cameraid', sa.String(length=64), nullable=False),
    sa.Column('eventtime', sa.BigInteger(), nullable=False),
    sa.Column('eventoffset', sa.Integer(), nullable=False),
    sa.Column('eventtype', sa.String(length=255), nullable=False),
    sa.Column('statusid', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['statusid'], ['t_camerastatus.internalid'], name=op.f('fk_event_statusid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_event')),
    sa.UniqueConstraint('eventid', name=op.f('uq_event_eventid'))
    )
    op.create_index(op.f('ix_event_cameraid_eventtime'), 't_event', ['cameraid', 'eventtime'], unique=False)
    op.create_index(op.f('ix_event_eventoffset'), 't_event', ['eventoffset'], unique=False)
    op.create_index(op.f('ix_event_eventtime_internalid'), 't_event', ['eventtime', 'internalid'], unique=False)
    op.create_index(op.f('ix_event_eventtype_eventtime'), 't_event', ['eventtype', 'eventtime'], unique=False)
    op.create_index(op.f('ix_event_statusid'), 't_event', ['statusid'], unique=False)
    op.create_table('t_file',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fileid', sa.String(length=32), nullable=False),
    sa.Column('cameraid', sa.String(length=64), nullable=False),
    sa.Column('mimetype', sa.String(length=255), nullable=False),
    sa.Column('semantictype', sa.String(length=255), nullable=False),
    sa.Column('filetime', sa.BigInteger(), nullable=False),
    sa.Column('fileoffset', sa.Integer(), nullable=False),
    sa.Column('filesize', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('md5', sa.String(length=32), nullable=True),
    sa.Column('statusid', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['statusid'], ['t_camerastatus.internalid'], name=op.f('fk_file_statusid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_file')),
    sa.UniqueConstraint('fileid', name=op.f('uq_file_fileid'))
    )
    op.create_index(op.f('ix_file_cameraid_filetime'), 't_file', ['cameraid', 'filetime'], unique=False)
    op.create_index(op.f('ix_file_fileoffset'), 't_file', ['fileoffset'], unique=False)
    op.create_index(op.f('ix_file_filetime_internalid'), 't_file', ['filetime', 'internalid'], unique=False)
    op.create_index(op.f('ix_file_mimetype_filetime'), 't_file', ['mimetype', 'filetime'], unique=False)
    op.create_index(op.f('ix_file_semantictype_filetime'), 't_file', ['semantictype', 'filetime'], unique=False)
    op.create_index(op.f('ix_file_statusid'), 't_file', ['statusid'], unique=False)
    op.create_table('t_visibleregions',
    sa.Column('camerastatusid', sa.Integer(), nullable=False),
    sa.Column('region', sa.Integer(), nullable=False),
    sa.Column('pointorder', sa.Integer(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['camerastatusid'], ['t_camerastatus.internalid'], name=op.f('fk_visibleregions_camerastatusi'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('camerastatusid', 'region', 'pointorder', name=op.f('pk_t_visibleregions'))
    )
    op.create_table('t_event_to_file',
    sa.Column('eventid', sa.Integer(), nullable=False),
    sa.Column('fileid', sa.Integer(), nullable=False),
    sa.Column('sequencenumber', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['eventid'], ['t_event.internalid'], name=op.f('fk_event_to_file_eventid'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['fileid'], ['t_file.internalid'], name=op.f('fk_event_to_file_fileid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('eventid', 'fileid', name=op.f('pk_t_event_to_file'))
    )
    op.create_index(op.f('ix_event_to_file_fileid'), 't_event_to_file', ['fileid'], unique=False)
    op.create_table('t_eventexport',
    sa.Column('eventid', sa.Integer(), nullable=False),
    sa.Column('exportconfig', sa.Integer(), nullable=False),
    sa.Column('exporttime', sa.BigInteger(), nullable=False),
    sa.Column('exportstate', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['eventid'], ['t_event.internalid'], name=op.f('fk_eventexport_eventid'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['exportconfig'], ['t_exportconfig.internalid'], name=op.f('fk_eventexport_exportconfig'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('eventid', 'exportconfig', name=op.f('pk_t_eventexport'))
    )
    op.create_index(op.f('ix_eventexport_exportconfig_exp'), 't_eventexport', ['exportconfig', 'exportstate', 'exporttime'], unique=False)
    op.create_index(op.f('ix_eventexport_exportstate_expo'), 't_eventexport', ['exportstate', 'exporttime'], unique=False)
    op.create_table('t_eventimport',
    sa.Column('eventid', sa.Integer(), nullable=False),
    sa.Column('importuser', sa.String(length=255), nullable=False),
    sa.Column('importtime', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['eventid'], ['t_event.internalid'], name=op.f('fk_eventimport_eventid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('eventid', name=op.f('pk_t_eventimport'))
    )
    op.create_table('t_eventmeta',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('eventid', sa.Integer(), nullable=False),
    sa.Column('metaindex', sa.Integer(), nullable=False),
    sa.Column('metakey', sa.String(length=128), nullable=False),
    sa.Column('stringvalue', sa.String(length=255), nullable=True),
    sa.Column('floatvalue', sa.Double(), nullable=True),
    sa.Column('datevalue', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['eventid'], ['t_event.internalid'], name=op.f('fk_eventmeta_eventid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_eventmeta'))
    )
    op.create_index(op.f('ix_eventmeta_eventid_metaindex'), 't_eventmeta', ['eventid', 'metaindex'], unique=False)
    op.create_index(op.f('ix_eventmeta_metakey_datevalue'), 't_eventmeta', ['metakey', 'datevalue'], unique=False)
    op.create_index(op.f('ix_eventmeta_metakey_floatvalue'), 't_eventmeta', ['metakey', 'floatvalue'], unique=False)
    op.create_index(op.f('ix_eventmeta_metakey_stringvalu'), 't_eventmeta', ['metakey', 'stringvalue'], unique=False)
    op.create_table('t_fileexport',
    sa.Column('fileid', sa.Integer(), nullable=False),
    sa.Column('exportconfig', sa.Integer(), nullable=False),
    sa.Column('exporttime', sa.BigInteger(), nullable=False),
    sa.Column('exportstate', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['exportconfig'], ['t_exportconfig.internalid'], name=op.f('fk_fileexport_exportconfig'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['fileid'], ['t_file.internalid'], name=op.f('fk_fileexport_fileid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fileid', 'exportconfig', name=op.f('pk_t_fileexport'))
    )
    op.create_index(op.f('ix_fileexport_exportconfig_expo'), 't_fileexport', ['exportconfig', 'exportstate', 'exporttime'], unique=False)
    op.create_index(op.f('ix_fileexport_exportstate_expor'), 't_fileexport', ['exportstate', 'exporttime'], unique=False)
    op.create_table('t_fileimport',
    sa.Column('fileid', sa.Integer(), nullable=False),
    sa.Column('importuser', sa.String(length=255), nullable=False),
    sa.Column('importtime', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['fileid'], ['t_file.internalid'], name=op.f('fk_fileimport_fileid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fileid', name=op.f('pk_t_fileimport'))
    )
    op.create_table('t_filemeta',
    sa.Column('internalid', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fileid', sa.Integer(), nullable=False),
    sa.Column('metaindex', sa.Integer(), nullable=False),
    sa.Column('metakey', sa.String(length=128), nullable=False),
    sa.Column('stringvalue', sa.String(length=255), nullable=True),
    sa.Column('floatvalue', sa.Double(), nullable=True),
    sa.Column('datevalue', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['fileid'], ['t_file.internalid'], name=op.f('fk_filemeta_fileid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('internalid', name=op.f('pk_t_filemeta'))
    )
    op.create_index(op.f('ix_filemeta_fileid_metaindex'), 't_filemeta', ['fileid', 'metaindex'], unique=False)
    op.create_index(op.f('ix_filemeta_metakey_datevalue'), 't_filemeta', ['metakey', 'datevalue'], unique=False)
    op.create_index(op.f('ix_filemeta_metakey_floatvalue'), 't_filemeta', ['metakey', 'floatvalue'], unique=False)
    op.create_index(op.f('ix_filemeta_metakey_stringvalue'), 't_filemeta', ['metakey', 'stringvalue'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_filemeta_metakey_stringvalue'), table_name='t_filemeta')
    op.drop_index(op.f('ix_filemeta_metakey_floatvalue'), table_name='t_filemeta')
    op.drop_index(op.f('ix_filemeta_metakey_datevalue'), table_name='t_filemeta')
    op.drop_index(op.f('ix_filemeta_fileid_metaindex'), table_name='t_filemeta')
    op.drop_table('t_filemeta')
    op.drop_table('t_fileimport')
    op.drop_index(op.f('ix_fileexport_exportstate_expor'), table_name='t_fileexport')
    op.drop_index(op.f('ix_fileexport_exportconfig_expo'), table_name='t_fileexport')
    op.drop_table('t_fileexport')
    op.drop_index(op.f('ix_eventmeta_metakey_stringvalu'), table_name='t_eventmeta')
    op.drop_index(op.f('ix_eventmeta_metakey_floatvalue'), table_name='t_eventmeta')
    op.drop_index(op.f('ix_eventmeta_metakey_datevalue'), table_name='t_eventmeta')
    op.drop_index(op.f('ix_eventmeta_eventid_metaindex'), table_name='t_eventmeta')
    op.drop_table('t_eventmeta')
    op.drop_table('t_eventimport')
    op.drop_index(op.f('ix_eventexport_exportstate_expo'), table_name='t_eventexport')
    op.drop_index(op.f('ix_eventexport_exportconfig_exp'), table_name='t_eventexport')
    op.drop_table('t_eventexport')
    op.drop_index(op.f('ix_event_to_file_fileid'), table_name='t_event_to_file')
    op.drop_table('t_event_to_file')
    op.drop_table('t_visibleregions')
    op.drop_index(op.f('ix_file_statusid'), table_name='t_file')
    op.drop_index(op.f('ix_file_semantictype_filetime'), table_name='t_file')
    op.drop_index(op.f('ix_file_mimetype_filetime'), table_name='t_file')
    op.drop_index(op.f('ix_file_filetime_internalid'), table_name='t_file')
    op.drop_index(op.f('ix_file_fileoffset'), table_name='t_file')
    op.drop_index(op.f('ix_file_cameraid_filetime'), table_name='t_file')
    op.drop_table('t_file')
    op.drop_index(op.f('ix_event_statusid'), table_name='t_event')
    op.drop_index(op.f('ix_event_eventtype_eventtime'), table_name='t_event')
    op.drop_index(op.f('ix_event_eventtime_internalid'), table_name='t_event')
    op.drop_index(op.f('ix_event_eventoffset'), table_name='t_event')
    op.drop_index(op.f('ix_event_cameraid_eventtime'), table_name='t_event')
    op.drop_table('t_event')
    op.drop_table('t_user')
    op.drop_table('t_highwatermark')
    op.drop_table('t_exportconfig')
    op.drop_index(op.f('ix_camerastatus_cameraid_validf'), table_name='t_camerastatus')
    op.drop_table('t_camerastatus')
