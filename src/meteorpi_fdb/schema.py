"""The relational schema, declared once with SQLAlchemy Core.

Table and column names are the 2015 names in lower case. SQLAlchemy emits lower-case names
unquoted, so each backend folds them its own way (PostgreSQL to lower case, Firebird to upper)
and raw mixed-case SQL written against the seed's examples (``t_cameraStatus s``,
``e.statusID = s.internalID``) finds them on every backend. Every name stays within Firebird 3's
31-character limit.

Times are BIGINT milliseconds since the Unix epoch (UTC); offsets are INTEGER seconds since the
previous noon; external ids are 32-character lower-case UUID hex strings.

This module is the live definition of the schema. Migrations under ``migrations/versions`` hold
frozen snapshots of each step; ``tests/test_migrations.py`` checks that the two agree.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

MAX_IDENTIFIER_LENGTH = 31  # Firebird 3


def _short_name(kind: str):
    """A naming-convention token that keeps constraint names within Firebird's limit."""

    def name(constraint, table) -> str:
        columns = "_".join(column.name for column in constraint.columns)
        full = f"{kind}_{table.name.removeprefix('t_')}_{columns}"
        return full[:MAX_IDENTIFIER_LENGTH]

    return name


NAMING_CONVENTION = {
    "ix_short": _short_name("ix"),
    "uq_short": _short_name("uq"),
    "fk_short": _short_name("fk"),
    "ix": "%(ix_short)s",
    "uq": "%(uq_short)s",
    "fk": "%(fk_short)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID_LENGTH = 32
CAMERA_ID_LENGTH = 64
NAME_LENGTH = 255
META_KEY_LENGTH = 128
META_STRING_LENGTH = 255
URL_LENGTH = 1024


def _internal_id() -> Column:
    return Column("internalid", Integer, primary_key=True, autoincrement=True)


def _cascade(target: str) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE")


t_user = Table(
    "t_user",
    metadata,
    _internal_id(),
    Column("userid", String(NAME_LENGTH), nullable=False, unique=True),
    Column("pwhash", String(NAME_LENGTH), nullable=False),
    Column("rolemask", Integer, nullable=False, default=0),
)

t_highwatermark = Table(
    "t_highwatermark",
    metadata,
    _internal_id(),
    Column("cameraid", String(CAMERA_ID_LENGTH), nullable=False, unique=True),
    Column("mark", BigInteger, nullable=False),
)

t_camerastatus = Table(
    "t_camerastatus",
    metadata,
    _internal_id(),
    Column("statusid", String(ID_LENGTH), nullable=False, unique=True),
    Column("cameraid", String(CAMERA_ID_LENGTH), nullable=False),
    Column("validfrom", BigInteger, nullable=False),
    Column("softwareversion", Integer, nullable=False, default=1),
    Column("lens", String(NAME_LENGTH), nullable=False),
    Column("sensor", String(NAME_LENGTH), nullable=False),
    Column("insturl", String(URL_LENGTH), nullable=False),
    Column("instname", String(NAME_LENGTH), nullable=False),
    Column("locationlatitude", Double, nullable=False),
    Column("locationlongitude", Double, nullable=False),
    Column("locationgps", Boolean, nullable=False),
    Column("locationerror", Double, nullable=False),
    Column("orientationaltitude", Double, nullable=False),
    Column("orientationazimuth", Double, nullable=False),
    Column("orientationerror", Double, nullable=False),
    Column("orientationrotation", Double, nullable=False),
    Column("widthoffield", Double, nullable=False),
    Index(None, "cameraid", "validfrom"),
)

t_visibleregions = Table(
    "t_visibleregions",
    metadata,
    Column("camerastatusid", Integer, _cascade("t_camerastatus.internalid"), primary_key=True),
    Column("region", Integer, primary_key=True),
    Column("pointorder", Integer, primary_key=True),
    Column("x", Integer, nullable=False),
    Column("y", Integer, nullable=False),
)

t_event = Table(
    "t_event",
    metadata,
    _internal_id(),
    Column("eventid", String(ID_LENGTH), nullable=False, unique=True),
    Column("cameraid", String(CAMERA_ID_LENGTH), nullable=False),
    Column("eventtime", BigInteger, nullable=False),
    Column("eventoffset", Integer, nullable=False),
    Column("eventtype", String(NAME_LENGTH), nullable=False),
    Column("statusid", Integer, _cascade("t_camerastatus.internalid"), nullable=False),
    Index(None, "eventtime", "internalid"),
    Index(None, "cameraid", "eventtime"),
    Index(None, "eventtype", "eventtime"),
    Index(None, "eventoffset"),
    Index(None, "cameraid", "eventoffset"),  # revision 0008: time-of-night counts per camera
    Index(None, "statusid"),
)

t_eventmeta = Table(
    "t_eventmeta",
    metadata,
    _internal_id(),
    Column("eventid", Integer, _cascade("t_event.internalid"), nullable=False),
    Column("metaindex", Integer, nullable=False),
    Column("metakey", String(META_KEY_LENGTH), nullable=False),
    Column("stringvalue", String(META_STRING_LENGTH)),
    Column("floatvalue", Double),
    Column("datevalue", BigInteger),
    Index(None, "eventid", "metaindex"),
    # Covering (revision 0008): a metadata constraint is answered from the index alone.
    Index("ix_eventmeta_key_string_event", "metakey", "stringvalue", "eventid"),
    Index("ix_eventmeta_key_float_event", "metakey", "floatvalue", "eventid"),
    Index("ix_eventmeta_key_date_event", "metakey", "datevalue", "eventid"),
)

t_file = Table(
    "t_file",
    metadata,
    _internal_id(),
    Column("fileid", String(ID_LENGTH), nullable=False, unique=True),
    Column("cameraid", String(CAMERA_ID_LENGTH), nullable=False),
    Column("mimetype", String(NAME_LENGTH), nullable=False),
    Column("semantictype", String(NAME_LENGTH), nullable=False),
    Column("filetime", BigInteger, nullable=False),
    Column("fileoffset", Integer, nullable=False),
    Column("filesize", BigInteger, nullable=False),
    Column("filename", String(NAME_LENGTH)),
    Column("md5hex", String(ID_LENGTH)),  # the 2015 name md5Hex (SPEC section 9)
    Column("statusid", Integer, _cascade("t_camerastatus.internalid"), nullable=False),
    Index(None, "filetime", "internalid"),
    Index(None, "cameraid", "filetime"),
    Index(None, "semantictype", "filetime"),
    Index(None, "mimetype", "filetime"),
    Index(None, "fileoffset"),
    Index(None, "cameraid", "fileoffset"),  # revision 0008: time-of-night counts per camera
    Index(None, "statusid"),
)

t_filemeta = Table(
    "t_filemeta",
    metadata,
    _internal_id(),
    Column("fileid", Integer, _cascade("t_file.internalid"), nullable=False),
    Column("metaindex", Integer, nullable=False),
    Column("metakey", String(META_KEY_LENGTH), nullable=False),
    Column("stringvalue", String(META_STRING_LENGTH)),
    Column("floatvalue", Double),
    Column("datevalue", BigInteger),
    Index(None, "fileid", "metaindex"),
    # Covering (revision 0008): a metadata constraint is answered from the index alone.
    Index("ix_filemeta_key_string_file", "metakey", "stringvalue", "fileid"),
    Index("ix_filemeta_key_float_file", "metakey", "floatvalue", "fileid"),
    Index("ix_filemeta_key_date_file", "metakey", "datevalue", "fileid"),
)

t_event_to_file = Table(
    "t_event_to_file",
    metadata,
    Column("eventid", Integer, _cascade("t_event.internalid"), primary_key=True),
    Column("fileid", Integer, _cascade("t_file.internalid"), primary_key=True),
    Column("sequencenumber", Integer, nullable=False),
    Index(None, "fileid"),
)

t_exportconfig = Table(
    "t_exportconfig",
    metadata,
    _internal_id(),
    Column("exportconfigid", String(ID_LENGTH), nullable=False, unique=True),
    Column("exporttype", String(16), nullable=False),
    Column("searchstring", Text, nullable=False),
    Column("targeturl", String(URL_LENGTH), nullable=False),
    Column("targetuser", String(NAME_LENGTH), nullable=False),
    Column("targetpassword", String(NAME_LENGTH), nullable=False),
    Column("exportname", String(NAME_LENGTH), nullable=False),
    Column("description", String(URL_LENGTH), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("cabundle", String(URL_LENGTH)),
    Column("failurecount", Integer, nullable=False, default=0),
)


# Per-configuration replication settings (migration 0004): kept beside t_exportConfig so the
# 2015 configuration and its wire form stay as they were. A missing row means every default.
t_exportsettings = Table(
    "t_exportsettings",
    metadata,
    Column("exportconfig", Integer, _cascade("t_exportconfig.internalid"), primary_key=True),
    Column("protocol", String(8)),
    Column("bwlimit", BigInteger),
    Column("windowstart", Integer),
    Column("windowend", Integer),
    Column("batchentities", Integer),
    Column("batchbytes", BigInteger),
    Column("verifyhours", Integer),
    Column("lastverified", BigInteger),
)


def _export_queue(name: str, entity_column: str, entity_table: str) -> Table:
    """An export queue: one row per (entity, configuration); state 0 = complete."""
    return Table(
        name,
        metadata,
        Column(
            entity_column, Integer, _cascade(f"{entity_table}.internalid"), primary_key=True
        ),
        Column(
            "exportconfig", Integer, _cascade("t_exportconfig.internalid"), primary_key=True
        ),
        Column("exporttime", BigInteger, nullable=False),
        Column("exportstate", Integer, nullable=False),
        Index(None, "exportstate", "exporttime"),
        # Serves "due tasks of one configuration, soonest first" as one index range scan.
        Index(None, "exportconfig", "exportstate", "exporttime"),
    )


def _import_log(name: str, entity_column: str, entity_table: str) -> Table:
    """Which rows arrived through the import API, from whom and when."""
    return Table(
        name,
        metadata,
        Column(
            entity_column, Integer, _cascade(f"{entity_table}.internalid"), primary_key=True
        ),
        Column("importuser", String(NAME_LENGTH), nullable=False),
        Column("importtime", BigInteger, nullable=False),
    )


#: Which cameras an import user may write for (issue 11: cameras belong to users).
t_usercamera = Table(
    "t_usercamera",
    metadata,
    Column("userid", Integer, _cascade("t_user.internalid"), primary_key=True),
    Column("cameraid", String(CAMERA_ID_LENGTH), primary_key=True),
    Index(None, "cameraid"),
)

#: Content uploaded through the import API whose record has not arrived yet.
t_pendingupload = Table(
    "t_pendingupload",
    metadata,
    Column("fileid", String(ID_LENGTH), primary_key=True),
    Column("importuser", String(NAME_LENGTH), nullable=False),
    Column("uploadtime", BigInteger, nullable=False),
    Column("filesize", BigInteger, nullable=False),
    Index(None, "importuser"),
    Index(None, "uploadtime"),
)

#: One row: a counter every write transaction bumps (revision 0008), so that a cached search
#: result is known stale whichever process or host wrote. ``epoch`` is random per database, so
#: counters of two databases (or of one recreated) never look alike. See ``_changes``.
t_changecounter = Table(
    "t_changecounter",
    metadata,
    Column("internalid", Integer, primary_key=True, autoincrement=False),
    Column("counter", BigInteger, nullable=False),
    Column("epoch", String(ID_LENGTH), nullable=False),
)

#: Each event's wire-format JSON (``Event.as_dict()`` as compact JSON text), kept by the write
#: path so that a search page is a read of ready text (revision 0009; see ``_event_wire``).
t_eventwire = Table(
    "t_eventwire",
    metadata,
    Column("eventid", Integer, _cascade("t_event.internalid"), primary_key=True),
    Column("body", Text, nullable=False),
)

#: Events whose wire JSON must be (re)built: marked by triggers on every table the JSON is made
#: of, drained by the end of each write transaction. No foreign key: an event deleted in the
#: same transaction leaves a mark that the drain drops.
t_eventwirestale = Table(
    "t_eventwirestale",
    metadata,
    Column("eventid", Integer, primary_key=True, autoincrement=False),
)

#: Files whose content was removed by housekeeping (``meteorpi prune``): the t_file row stays
#: searchable (size and MD5 kept); the row here says the content is gone on purpose and when.
t_prunedfile = Table(
    "t_prunedfile",
    metadata,
    Column("fileid", Integer, _cascade("t_file.internalid"), primary_key=True),
    Column("prunedtime", BigInteger, nullable=False),
)

t_eventexport = _export_queue("t_eventexport", "eventid", "t_event")
t_fileexport = _export_queue("t_fileexport", "fileid", "t_file")
t_eventimport = _import_log("t_eventimport", "eventid", "t_event")
t_fileimport = _import_log("t_fileimport", "fileid", "t_file")

# -- multi-station meteors (migration 0005) ---------------------------------------------------

t_coincidence = Table(
    "t_coincidence",
    metadata,
    _internal_id(),
    Column("groupid", String(ID_LENGTH), nullable=False, unique=True),
    # md5 of the sorted member event ids: the same members are the same group on every run
    Column("groupkey", String(ID_LENGTH), nullable=False, unique=True),
    Column("firsttime", BigInteger, nullable=False),
    Column("lasttime", BigInteger, nullable=False),
    Column("computed", BigInteger, nullable=False),
    Column("stations", Integer, nullable=False),
    Index(None, "firsttime", "internalid"),
)

t_coincidencemember = Table(
    "t_coincidencemember",
    metadata,
    Column("coincidence", Integer, _cascade("t_coincidence.internalid"), primary_key=True),
    Column("eventid", Integer, _cascade("t_event.internalid"), primary_key=True),
    Index(None, "eventid", unique=True),  # an event belongs to one group at most
)

t_trajectory = Table(
    "t_trajectory",
    metadata,
    Column("coincidence", Integer, _cascade("t_coincidence.internalid"), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("reason", String(NAME_LENGTH)),
    Column("stations", Integer, nullable=False),
    *(Column(name, Double) for name in (
        "convergence", "beginlat", "beginlon", "beginheight", "endlat", "endlon", "endheight",
        "radiantra", "radiantdec", "radiantaz", "radiantel", "speed", "residual", "quality",
        "length")),
)

#: progress of incremental coincidence runs: the highest event internal id already considered
t_coincidencestate = Table(
    "t_coincidencestate",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("lastevent", Integer, nullable=False),
    Column("updated", BigInteger, nullable=False),
)


ALL_TABLES = tuple(metadata.sorted_tables)
