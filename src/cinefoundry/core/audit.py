"""Append-only, hash-chained audit log of every catalog, rights and consent change.

Every flush that inserts, updates or deletes a row of an `Audited` table appends one entry per row, in the
same transaction, with who, when, before and after. Each entry's hash covers its content and the previous
entry's hash, so `verify` finds any row altered, removed or reordered after the fact.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, Text, event, insert, inspect, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from cinefoundry.core.db import Base, utcnow

GENESIS = "0" * 64
# Key of the PostgreSQL advisory lock that serialises appends, so concurrent writers cannot fork the chain.
PG_AUDIT_LOCK = 0x6369_6E65_6175_6474 & 0x7FFF_FFFF_FFFF_FFFF


class Audited:
    """Mixin: every change to rows of this table is written to the audit log."""


class AuditEntry(Base):
    """One change: who did what to which row, its state before and after, and the chain hashes."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Text, not a timestamp type: the hash must read the same bytes back on every backend.
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    op: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(100), index=True)
    entity_id: Mapped[str] = mapped_column(String(200), index=True)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "op": self.op,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "before": json.loads(self.before) if self.before else None,
            "after": json.loads(self.after) if self.after else None,
            "hash": self.hash,
        }


def canonical_json(value: Any) -> str:
    """Stable JSON (sorted keys, no spaces) so the same content always hashes the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """Hash of one entry: its fields in a fixed order plus the previous entry's hash."""
    parts = [fields[k] for k in ("seq", "at", "actor", "action", "op", "entity", "entity_id", "before", "after")]
    return hashlib.sha256(canonical_json([*parts, prev_hash]).encode("utf-8")).hexdigest()


def snapshot(obj: Any, before: bool = False) -> dict[str, Any]:
    """Column values of an ORM object; with `before`, the values as they were before this flush's changes."""
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        value = state.dict.get(attr.key)
        if before:
            hist = state.attrs[attr.key].history
            if hist.deleted:
                value = hist.deleted[0]
        out[attr.key] = _jsonable(value)
    return out


def install_audit_hook(factory: sessionmaker) -> None:
    """Make every session from `factory` append audit entries for changes to `Audited` tables."""
    event.listen(factory, "after_flush", _record_flush)


def _record_flush(session: Session, _flush_context: Any) -> None:
    changes: list[tuple[str, Any, dict | None, dict | None]] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            changes.append(("insert", obj, None, snapshot(obj)))
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            changes.append(("update", obj, snapshot(obj, before=True), snapshot(obj)))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            changes.append(("delete", obj, snapshot(obj, before=True), None))
    if not changes:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_AUDIT_LOCK})
    last = conn.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    at = utcnow().isoformat(timespec="microseconds")
    actor = str(session.info.get("actor", "unknown"))
    action = str(session.info.get("action", "change"))
    rows = []
    for op, obj, before, after in changes:
        seq += 1
        state = inspect(obj)
        row = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "op": op,
            "entity": state.mapper.persist_selectable.name,
            "entity_id": "|".join(str(v) for v in state.mapper.primary_key_from_instance(obj)),
            "before": canonical_json(before) if before is not None else None,
            "after": canonical_json(after) if after is not None else None,
        }
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row, row["prev_hash"])
        rows.append(row)
    conn.execute(insert(AuditEntry.__table__), rows)


@dataclass
class AuditReport:
    """Result of `verify`: whether the chain is intact, its length and head, and each problem found."""

    ok: bool
    entries: int
    head: str
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head": self.head, "problems": self.problems}


def verify(session: Session, expect_head: str | None = None) -> AuditReport:
    """Recompute the chain; report gaps in sequence, broken links and rows whose content no longer hashes."""
    problems: list[dict[str, Any]] = []
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(1000):
        count += 1
        if entry.seq != expected_seq:
            problems.append({"seq": entry.seq, "problem": f"entries {expected_seq}..{entry.seq - 1} are missing"})
        if entry.prev_hash != prev:
            problems.append({"seq": entry.seq, "problem": "does not link to the previous entry's hash"})
        fields = {k: getattr(entry, k) for k in ("seq", "at", "actor", "action", "op", "entity", "entity_id")}
        fields |= {"before": entry.before, "after": entry.after}
        if entry_hash(fields, entry.prev_hash) != entry.hash:
            problems.append({"seq": entry.seq, "problem": "content was altered: hash does not match"})
        prev, expected_seq = entry.hash, entry.seq + 1
    if expect_head is not None and expect_head != prev:
        problems.append({"seq": expected_seq - 1, "problem": f"head is {prev}, expected {expect_head}"})
    return AuditReport(ok=not problems, entries=count, head=prev, problems=problems)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
