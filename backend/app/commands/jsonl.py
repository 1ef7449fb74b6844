"""The JSON-lines file of ``bahr-db export`` and ``bahr-db import``: one analysis per line.

An exported line carries everything a row needs to come back as it was: ``id``,
``created_at`` (ISO 8601, UTC, ``Z``), the result fields (``confidence`` as a number) and the
owner's ``username``. Import reads the same shape, ``id``, ``created_at`` and ``username``
being optional. So:

* importing a file twice stores it once: a line whose ``id`` is already stored is left
  alone and counted as already there, or with ``update`` its result fields (``pattern``,
  ``detected_meter``, ``confidence``, ``syllable_count``, ``processing_time_ms``,
  ``metadata``) replace the stored ones; the text, owner and ``created_at`` of a stored
  analysis never change;
* export, then import into an empty ``analyses`` table, then export again, gives the same
  bytes (the users named must exist);
* a line naming no known meter is a bad line unless ``allow_unknown_meter`` (for engines
  with labels of their own);
* a UTF-8 byte order mark at the start of the file is ignored.

The whole import is one transaction. A bad line is skipped and reported, or with
``strict`` it stops the import and nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from app.commands.output import BULK_MARK, describe_validation, number, timestamp
from app.db.errors import translated
from app.db.ids import new_id
from app.models.analysis import Analysis
from app.models.user import User
from app.repositories.analysis_repository import COPY_COLUMNS, AnalysisRepository, copy_rows
from app.repositories.user_repository import UserRepository
from app.schemas.analysis import AnalysisCreate
from app.text.arabic import normalize

BOM = b"\xef\xbb\xbf"
_COLUMNS = (*COPY_COLUMNS, "created_at")
_COPY = f"COPY analyses ({', '.join(_COLUMNS)}) FROM STDIN {BULK_MARK}"
_TABLE = cast(Table, Analysis.__table__)
_STORED = select(_TABLE.c.id, _TABLE.c.original_text).where(
    _TABLE.c.id.in_(bindparam("ids", expanding=True))
)
#: What ``--update`` may change: the result, never the text, owner or creation time.
RESULT_FIELDS = (
    "pattern",
    "detected_meter",
    "confidence",
    "syllable_count",
    "processing_time_ms",
    "metadata",
)
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("key"))
    .where(
        or_(
            *(
                _TABLE.c[name].is_distinct_from(
                    bindparam(f"new_{name}", type_=JSONB if name == "metadata" else None)
                )
                for name in RESULT_FIELDS
            ),
            _TABLE.c.meter_id.is_distinct_from(bindparam("new_meter_id")),
        )
    )
    .values(
        {name: bindparam(f"new_{name}") for name in RESULT_FIELDS}
        | {"meter_id": bindparam("new_meter_id")}
    )
)
BATCH = 1_000


#: The longest line read whole. The largest valid analysis, every character written as a
#: ``\\uXXXX`` escape, is far below it; past it a line is refused unread, so one huge line
#: costs neither memory nor normalisation time.
MAX_LINE_BYTES = 1 << 20


def _bounded_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The file's lines, each cut at ``MAX_LINE_BYTES + 1`` bytes (the rest skipped in
    chunks), so memory stays bounded whatever the file holds."""
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


class LineError(ValueError):
    """A line that cannot be stored; the message says why, as a person would."""


@dataclass
class Line:
    number: int
    raw: bytes
    data: AnalysisCreate
    owner: int | None
    id: uuid.UUID | None
    created_at: dt.datetime | None
    meter_id: int | None


@dataclass
class ImportReport:
    lines: int = 0
    stored: int = 0
    updated: int = 0
    #: Lines whose id was stored already and which were left as they are.
    present: int = 0
    #: Lines stored (or updated) with a meter label that names no known meter.
    unknown_meter: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "stored": self.stored,
            "updated": self.updated,
            "already_present": self.present,
            "unknown_meter": self.unknown_meter,
            "skipped": self.skipped,
            "errors": [{"line": n, "error": e} for n, e in self.errors],
        }


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "true or false"}.get(
        type(value), "null" if value is None else "a number"
    )


class Importer:
    """Reads a JSON-lines file and stores it in ``db``'s transaction (see the module)."""

    def __init__(
        self,
        db: Session,
        *,
        strict: bool = False,
        update: bool = False,
        allow_unknown_meter: bool = False,
        rejects: IO[str] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.db = db
        self.strict = strict
        self.update = update
        self.allow_unknown_meter = allow_unknown_meter
        self.rejects = rejects
        self.on_progress = on_progress
        self.report = ImportReport()
        self._owners: dict[str, int | None] = {}
        self._analyses = AnalysisRepository(db)
        self._now: dt.datetime | None = None

    # -- reading --------------------------------------------------------------------------
    def parse(self, raw: bytes) -> Line | None:
        """One line of the file; ``None`` for a blank one. Raises :class:`LineError`."""
        if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            # Refused before decoding, parsing or normalising anything of it.
            raise LineError(f"longer than {MAX_LINE_BYTES:,} bytes")
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise LineError(
                f"not valid UTF-8 (byte {raw[exc.start]:#04x} at byte {exc.start + 1} of the line)"
            ) from None
        if not text.strip():
            return None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LineError(
                f"not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]} at column {exc.colno}"
            ) from None
        if not isinstance(obj, dict):
            raise LineError(f"must be a JSON object, not {_kind(obj)}")
        analysis_id = self._id(obj.pop("id", None))
        created_at = self._created_at(obj.pop("created_at", None))
        owner = self._owner(obj.pop("username", None))
        try:
            data = AnalysisCreate.model_validate(obj)
        except ValidationError as exc:
            raise LineError(describe_validation(exc)) from None
        return Line(0, raw, data, owner, analysis_id, created_at, self._meter(data.detected_meter))

    @staticmethod
    def _id(value: object) -> uuid.UUID | None:
        if value is None:
            return None
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise LineError(f"id must be a UUID, got {value!r}") from None

    @staticmethod
    def _created_at(value: object) -> dt.datetime | None:
        if value is None:
            return None
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise LineError(
                f"created_at must be an ISO 8601 time with its time zone "
                f"(2026-01-31T12:00:00Z), got {value!r}"
            )
        return when

    def _owner(self, username: object) -> int | None:
        if username is None:
            return None
        name = str(username)
        if name not in self._owners:
            user = UserRepository(self.db).get_by_username(name)
            self._owners[name] = None if user is None else user.id
        owner = self._owners[name]
        if owner is None:
            raise LineError(f"username {name!r} names no user (create it with `users create`)")
        return owner

    def _meter(self, label: str | None) -> int | None:
        if label is None:
            return None
        meter_id = self._analyses.meter_id(label)
        if meter_id is None and not self.allow_unknown_meter:
            raise LineError(
                f"detected_meter {label!r} is not a known meter (`bahr-db meters` lists them; "
                "--allow-unknown-meter stores such labels as they are)"
            )
        return meter_id

    # -- the run --------------------------------------------------------------------------
    def run(self, path: Path) -> ImportReport:
        """Import ``path``; commits when done. With ``strict`` the first bad line raises
        :class:`LineError` (``line N: …``) and the caller rolls back."""
        batch: list[Line] = []
        read = 0
        with translated(self.db), path.open("rb") as handle:
            for number, chunk in enumerate(_bounded_lines(handle), start=1):
                read += len(chunk)
                raw = chunk[len(BOM) :] if number == 1 and chunk.startswith(BOM) else chunk
                line = self._line(number, raw)
                if line is not None:
                    batch.append(line)
                if len(batch) >= BATCH:
                    self._store(batch)
                    batch = []
                if self.on_progress is not None and number % 256 == 0:
                    self.on_progress(read, self.report.lines)
            if batch:
                self._store(batch)
            self.db.commit()
        if self.on_progress is not None:
            self.on_progress(read, self.report.lines)
        return self.report

    def _line(self, number: int, raw: bytes) -> Line | None:
        try:
            line = self.parse(raw)
        except LineError as exc:
            self.report.lines += 1
            self._reject(number, raw, str(exc))
            return None
        if line is not None:
            self.report.lines += 1
            line.number = number
        return line

    def _reject(self, number: int, raw: bytes, reason: str) -> None:
        if self.strict:
            raise LineError(f"line {number}: {reason}")
        self.report.errors.append((number, reason))
        if self.rejects is not None:
            text = raw[:MAX_LINE_BYTES].decode("utf-8", errors="replace").rstrip("\r\n")
            entry = {"line": number, "error": reason, "text": text}
            self.rejects.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def _store(self, batch: list[Line]) -> None:
        given = [line.id for line in batch if line.id is not None]
        stored: dict[uuid.UUID, str] = {}
        if given:
            stored = dict(self.db.execute(_STORED, {"ids": given}).all())
        fresh: list[Line] = []
        again: list[Line] = []
        for line in batch:
            if line.id is None or line.id not in stored:
                fresh.append(line)
                if line.id is not None:
                    stored[line.id] = line.data.original_text  # a repeat later in the batch
            elif stored[line.id] != line.data.original_text:
                self._reject(
                    line.number, line.raw, f"id {line.id} is stored already, with another text"
                )
            else:
                again.append(line)
        if fresh:
            self._copy(fresh)
            self.report.stored += len(fresh)
        for line in again:
            if self.update and self._update(line):
                self.report.updated += 1
            else:
                self.report.present += 1
        self.report.unknown_meter += sum(
            1 for line in (*fresh, *again) if line.meter_id is None and line.data.detected_meter
        )

    def _update(self, line: Line) -> bool:
        values = {f"new_{name}": getattr(line.data, name) for name in RESULT_FIELDS}
        result = self.db.execute(_UPDATE, {"key": line.id, "new_meter_id": line.meter_id, **values})
        return bool(cast(Any, result).rowcount)

    def _copy(self, lines: list[Line]) -> None:
        if self._now is None:
            self._now = self.db.scalar(select(func.now()))
        copy_rows(self.db, _COPY, (self._copy_row(line) for line in lines))

    def _copy_row(self, line: Line) -> tuple[Any, ...]:
        data = line.data
        return (
            line.id or new_id(),
            line.owner,
            data.original_text,
            normalize(data.original_text),
            data.pattern,
            data.detected_meter,
            line.meter_id,
            data.confidence,
            data.syllable_count,
            data.processing_time_ms,
            json.dumps(data.metadata, ensure_ascii=False),
            line.created_at or self._now,
        )


def import_lines(db: Session, path: Path, *, strict: bool, **options: Any) -> ImportReport:
    """Import ``path`` into ``db`` (see :class:`Importer` for the options)."""
    return Importer(db, strict=strict, **options).run(path)


_EXPORT = (
    select(Analysis, User.username)
    .outerjoin(User, User.id == Analysis.user_id)
    .order_by(Analysis.created_at, Analysis.id)
    .execution_options(yield_per=1_000)
)


def export_rows(db: Session) -> Iterator[dict[str, Any]]:
    """Every analysis in import shape, oldest first, streamed with a server-side cursor."""
    for analysis, username in db.execute(_EXPORT):
        yield {
            "id": str(analysis.id),
            "created_at": timestamp(analysis.created_at),
            "original_text": analysis.original_text,
            "pattern": analysis.pattern,
            "detected_meter": analysis.detected_meter,
            "confidence": number(analysis.confidence),
            "syllable_count": analysis.syllable_count,
            "processing_time_ms": analysis.processing_time_ms,
            "metadata": analysis.meta,
            "username": username,
        }
        db.expunge(analysis)


def export_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


__all__ = ["BULK_MARK", "ImportReport", "Importer", "LineError", "export_rows", "import_lines"]
