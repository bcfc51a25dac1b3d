"""The floor for a search page over HTTP: one hand-written SQL statement that builds the page's
JSON (events with their files and metadata, and the count) inside the database, for SQLite
(json1) and PostgreSQL. A minimal Flask app returns its text as it comes."""

from __future__ import annotations

from meteorpi_fdb import schema

_MD5 = schema.t_file.c.md5hex.name


def _sqlite_meta(table: str, owner: str, owner_ref: str) -> str:
    return (f"(SELECT json_group_array(json(item)) FROM (SELECT json_object('type', CASE "
            "WHEN m.datevalue IS NOT NULL THEN 'date' WHEN m.floatvalue IS NOT NULL THEN 'number' "
            "ELSE 'string' END, 'key', m.metakey, 'value', COALESCE(m.datevalue, m.floatvalue, m.stringvalue)) "
            f"AS item FROM {table} m WHERE m.{owner} = {owner_ref} ORDER BY m.metaindex))")


def _postgresql_meta(table: str, owner: str, owner_ref: str) -> str:
    return ("(SELECT COALESCE(json_agg(json_build_object('type', CASE WHEN m.datevalue IS NOT NULL "
            "THEN 'date' WHEN m.floatvalue IS NOT NULL THEN 'number' ELSE 'string' END, 'key', m.metakey, "
            "'value', CASE WHEN m.datevalue IS NOT NULL THEN to_json(m.datevalue) WHEN m.floatvalue IS NOT NULL "
            "THEN to_json(m.floatvalue) ELSE to_json(m.stringvalue) END) ORDER BY m.metaindex), '[]') "
            f"FROM {table} m WHERE m.{owner} = {owner_ref})")


def page_sql(backend: str, limit: int) -> str:
    """The statement for the newest ``limit`` events (``{"events": [...], "count": N}``)."""
    if backend == "sqlite":
        meta, obj = _sqlite_meta, "json_object"
        files = ("(SELECT json_group_array(json(item)) FROM (SELECT json_object('file_id', f.fileid, "
                 "'camera_id', f.cameraid, 'mime_type', f.mimetype, 'file_name', f.filename, "
                 "'semantic_type', f.semantictype, 'file_time', f.filetime, 'file_size', f.filesize, "
                 f"'status_id', fs.statusid, 'md5', f.{_MD5}, 'meta', json({meta('t_filemeta', 'fileid', 'f.internalid')})) "
                 "AS item FROM t_event_to_file l JOIN t_file f ON f.internalid = l.fileid "
                 "JOIN t_camerastatus fs ON fs.internalid = f.statusid WHERE l.eventid = e.internalid "
                 "ORDER BY l.sequencenumber))")
        event = (f"{obj}('event_id', e.eventid, 'camera_id', e.cameraid, 'event_time', e.eventtime, "
                 f"'event_type', e.eventtype, 'status_id', s.statusid, 'files', json({files}), "
                 f"'meta', json({meta('t_eventmeta', 'eventid', 'e.internalid')}))")
        return (f"SELECT json_object('events', (SELECT json_group_array(json(item)) FROM (SELECT {event} AS item "
                "FROM t_event e JOIN t_camerastatus s ON s.internalid = e.statusid "
                f"ORDER BY e.eventtime DESC, e.internalid DESC LIMIT {limit})), "
                "'count', (SELECT COUNT(*) FROM t_event))")
    meta = _postgresql_meta
    files = ("(SELECT COALESCE(json_agg(json_build_object('file_id', f.fileid, 'camera_id', f.cameraid, "
             "'mime_type', f.mimetype, 'file_name', f.filename, 'semantic_type', f.semantictype, "
             "'file_time', f.filetime, 'file_size', f.filesize, 'status_id', fs.statusid, "
             f"'md5', f.{_MD5}, 'meta', {meta('t_filemeta', 'fileid', 'f.internalid')}) ORDER BY l.sequencenumber), '[]') "
             "FROM t_event_to_file l JOIN t_file f ON f.internalid = l.fileid "
             "JOIN t_camerastatus fs ON fs.internalid = f.statusid WHERE l.eventid = e.internalid)")
    event = ("json_build_object('event_id', e.eventid, 'camera_id', e.cameraid, 'event_time', e.eventtime, "
             f"'event_type', e.eventtype, 'status_id', s.statusid, 'files', {files}, "
             f"'meta', {meta('t_eventmeta', 'eventid', 'e.internalid')})")
    return (f"SELECT json_build_object('events', (SELECT COALESCE(json_agg(item), '[]') FROM (SELECT {event} AS item "
            "FROM t_event e JOIN t_camerastatus s ON s.internalid = e.statusid "
            f"ORDER BY e.eventtime DESC, e.internalid DESC LIMIT {limit}) page), "
            "'count', (SELECT COUNT(*) FROM t_event))::text")
