"""Where the ledger keeps its rows: one small interface, three backends.

* :class:`SQLStorage` — SQLAlchemy Core tables in SQLite (default:
  ``$DBRAIN_HOME/dbrain.sqlite``, the data centre's database) or PostgreSQL
  (``postgresql://user@host/db``, driven by pg8000);
* :class:`MemoryStorage` — plain Python objects, for tests and throw-away logs.

Tables (all prefixed ``ledger_`` so they sit beside the data centre's own):

=================  ===============================================================
``ledger_meta``    ``key, value``: ``schema_version`` (the migration marker), ``origin``, ``created``
``ledger_entries`` ``idx, leaf_hash, kind, content_hash, data`` (data = canonical JSON record)
``ledger_nodes``   ``level, idx, hash``: every complete (perfect) subtree, level >= 1
``ledger_heads``   ``tree_size, root_hash, timestamp_ms, key_id, signature``: signed tree heads
``ledger_keys``    ``key_id, public_key, created, retired``: every key that ever signed a head
=================  ===============================================================

Every write happens in one exclusive transaction (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``LOCK TABLE … SHARE ROW EXCLUSIVE``), so concurrent writers
serialise and a crash leaves either the whole append or nothing. Reads happen
in one snapshot (SQLite WAL read transaction, PostgreSQL ``REPEATABLE READ``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from ._errors import LedgerError, LedgerParameterError

__all__ = [
    "SCHEMA_VERSION",
    "EntryRow",
    "HeadRow",
    "KeyRow",
    "StorageReader",
    "StorageWriter",
    "LedgerStorage",
    "MemoryStorage",
    "SQLStorage",
    "open_storage",
    "iter_entries",
    "ledger_metadata",
]

#: Version of the table layout written to ``ledger_meta.schema_version``. A
#: later layout bumps it and migrates (with Alembic, once the data centre has it).
SCHEMA_VERSION = 1


class EntryRow(NamedTuple):
    index: int
    leaf_hash: bytes
    kind: str
    content_hash: str
    data: bytes


class HeadRow(NamedTuple):
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes


class KeyRow(NamedTuple):
    key_id: str
    public_key: bytes
    created: str
    retired: str | None


class StorageReader(ABC):
    """Reads within one consistent snapshot."""

    @abstractmethod
    def meta(self) -> dict[str, str]: ...

    @abstractmethod
    def size(self) -> int:
        """Number of entries (highest index + 1)."""

    @abstractmethod
    def entries(self, start: int, stop: int) -> list[EntryRow]:
        """Entries with ``start <= index < stop``, in index order."""

    @abstractmethod
    def find(self, *, kind: str | None = None, content_hash: str | None = None, limit: int | None = None) -> list[EntryRow]:
        """Entries of a kind and/or content hash, in index order."""

    @abstractmethod
    def find_leaf_hashes(self, hashes: Iterable[bytes]) -> dict[bytes, int]:
        """``{leaf hash: index}`` of those ``hashes`` already in the log."""

    @abstractmethod
    def nodes(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of perfect subtrees ``(level, index)``; level 0 is a leaf hash."""

    @abstractmethod
    def node_rows(self, level: int, start: int, stop: int) -> list[tuple[int, bytes]]:
        """Stored ``(index, hash)`` of ``level`` (>= 1) with ``start <= index < stop``, in order."""

    @abstractmethod
    def node_levels(self) -> list[int]:
        """Levels that have stored nodes."""

    @abstractmethod
    def heads(self) -> list[HeadRow]:
        """All signed tree heads, by size."""

    @abstractmethod
    def head(self, tree_size: int | None = None) -> HeadRow | None:
        """The head at ``tree_size``, or the latest one."""

    @abstractmethod
    def keys(self) -> list[KeyRow]: ...


class StorageWriter(StorageReader):
    """Reads and writes within one exclusive transaction."""

    @abstractmethod
    def insert_entries(self, rows: list[EntryRow]) -> None: ...

    @abstractmethod
    def insert_nodes(self, rows: list[tuple[int, int, bytes]]) -> None: ...

    @abstractmethod
    def insert_head(self, row: HeadRow) -> None: ...

    @abstractmethod
    def insert_key(self, row: KeyRow) -> None: ...

    @abstractmethod
    def retire_key(self, key_id: str, when: str) -> None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...


class LedgerStorage(ABC):
    """A ledger's rows: open a snapshot with :meth:`read`, an exclusive transaction with :meth:`write`."""

    url: str

    @abstractmethod
    def read(self) -> contextlib.AbstractContextManager[StorageReader]: ...

    @abstractmethod
    def write(self) -> contextlib.AbstractContextManager[StorageWriter]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


# --------------------------------------------------------------------------- memory


class _MemoryView(StorageWriter):
    def __init__(self, store: MemoryStorage):
        self.s = store

    def meta(self):
        return {k: row["value"] for k, row in self.s.tables["ledger_meta"].items()}

    def size(self):
        return self.s.n

    def _entry(self, idx):
        row = self.s.tables["ledger_entries"][idx]
        return EntryRow(idx, row["leaf_hash"], row["kind"], row["content_hash"], row["data"])

    def entries(self, start, stop):
        table = self.s.tables["ledger_entries"]
        return [self._entry(i) for i in sorted(table) if start <= i < stop]

    def find(self, *, kind=None, content_hash=None, limit=None):
        out = []
        for i in sorted(self.s.tables["ledger_entries"]):
            e = self._entry(i)
            if (kind is None or e.kind == kind) and (content_hash is None or e.content_hash == content_hash):
                out.append(e)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def find_leaf_hashes(self, hashes):
        index = {row["leaf_hash"]: i for i, row in self.s.tables["ledger_entries"].items()}
        return {h: index[h] for h in hashes if h in index}

    def nodes(self, keys):
        out = {}
        entries, nodes = self.s.tables["ledger_entries"], self.s.tables["ledger_nodes"]
        for level, idx in keys:
            if level == 0:
                if idx in entries:
                    out[(0, idx)] = entries[idx]["leaf_hash"]
            elif (level, idx) in nodes:
                out[(level, idx)] = nodes[(level, idx)]["hash"]
        return out

    def node_rows(self, level, start, stop):
        nodes = self.s.tables["ledger_nodes"]
        return sorted((idx, row["hash"]) for (lv, idx), row in nodes.items() if lv == level and start <= idx < stop)

    def node_levels(self):
        return sorted({lv for lv, _ in self.s.tables["ledger_nodes"]})

    def _head(self, size):
        row = self.s.tables["ledger_heads"][size]
        return HeadRow(size, row["root_hash"], row["timestamp_ms"], row["key_id"], row["signature"])

    def heads(self):
        return [self._head(s) for s in sorted(self.s.tables["ledger_heads"])]

    def head(self, tree_size=None):
        heads = self.s.tables["ledger_heads"]
        if tree_size is None:
            return self._head(max(heads)) if heads else None
        return self._head(tree_size) if tree_size in heads else None

    def keys(self):
        table = self.s.tables["ledger_keys"]
        return [KeyRow(k, r["public_key"], r["created"], r["retired"]) for k, r in sorted(table.items())]

    # writes are staged and applied when the transaction commits
    def insert_entries(self, rows):
        self.s._staged.append(
            (
                "ledger_entries",
                [
                    (r.index, {"leaf_hash": r.leaf_hash, "kind": r.kind, "content_hash": r.content_hash, "data": r.data})
                    for r in rows
                ],
            )
        )

    def insert_nodes(self, rows):
        self.s._staged.append(("ledger_nodes", [((lv, i), {"hash": h}) for lv, i, h in rows]))

    def insert_head(self, row):
        self.s._staged.append(
            (
                "ledger_heads",
                [
                    (
                        row.tree_size,
                        {
                            "root_hash": row.root_hash,
                            "timestamp_ms": row.timestamp_ms,
                            "key_id": row.key_id,
                            "signature": row.signature,
                        },
                    )
                ],
            )
        )

    def insert_key(self, row):
        self.s._staged.append(
            ("ledger_keys", [(row.key_id, {"public_key": row.public_key, "created": row.created, "retired": row.retired})])
        )

    def retire_key(self, key_id, when):
        self.s._staged.append(("retire", [(key_id, when)]))

    def set_meta(self, key, value):
        self.s._staged.append(("ledger_meta", [(key, {"value": value})]))


class MemoryStorage(LedgerStorage):
    """A ledger kept in this process's memory (``memory://``)."""

    def __init__(self, url: str = "memory://"):
        self.url = url
        #: ``{table name: {primary key: {column: value}}}``, the same names as the SQL tables.
        self.tables: dict[str, dict] = {
            t: {} for t in ("ledger_meta", "ledger_entries", "ledger_nodes", "ledger_heads", "ledger_keys")
        }
        self._lock = threading.RLock()
        self._staged: list = []

    @property
    def n(self) -> int:
        entries = self.tables["ledger_entries"]
        return max(entries) + 1 if entries else 0

    @contextlib.contextmanager
    def read(self):
        with self._lock:
            yield _MemoryView(self)

    @contextlib.contextmanager
    def write(self):
        with self._lock:
            self._staged = []
            try:
                yield _MemoryView(self)
            except BaseException:
                self._staged = []
                raise
            for table, rows in self._staged:
                if table == "retire":
                    for key_id, when in rows:
                        self.tables["ledger_keys"][key_id]["retired"] = when
                    continue
                target = self.tables[table]
                for key, row in rows:
                    if table != "ledger_meta" and key in target:
                        raise LedgerError(f"{table} already holds {key!r}")
                    target[key] = row
            self._staged = []


# --------------------------------------------------------------------------- SQL


def _tables():
    from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, SmallInteger, String, Table, Text

    big = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid
    md = MetaData()
    Table("ledger_meta", md, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
    Table(
        "ledger_entries",
        md,
        Column("idx", big, primary_key=True, autoincrement=False),
        Column("leaf_hash", LargeBinary(32), nullable=False, unique=True),
        Column("kind", String(32), nullable=False, index=True),
        Column("content_hash", String(64), nullable=False, index=True),
        Column("data", LargeBinary, nullable=False),
    )
    Table(
        "ledger_nodes",
        md,
        Column("level", SmallInteger, primary_key=True, autoincrement=False),
        Column("idx", BigInteger, primary_key=True, autoincrement=False),
        Column("hash", LargeBinary(32), nullable=False),
        sqlite_with_rowid=False,
    )
    Table(
        "ledger_heads",
        md,
        Column("tree_size", big, primary_key=True, autoincrement=False),
        Column("root_hash", LargeBinary(32), nullable=False),
        Column("timestamp_ms", BigInteger, nullable=False),
        Column("key_id", String(16), nullable=False),
        Column("signature", LargeBinary(64), nullable=False),
    )
    Table(
        "ledger_keys",
        md,
        Column("key_id", String(16), primary_key=True),
        Column("public_key", LargeBinary(32), nullable=False),
        Column("created", String(40), nullable=False),
        Column("retired", String(40), nullable=True),
    )
    return md


_METADATA = None


def ledger_metadata():
    """The SQLAlchemy ``MetaData`` of the ledger tables (for the data centre's migrations)."""
    global _METADATA
    if _METADATA is None:
        _METADATA = _tables()
    return _METADATA


_CHUNK = 500


class _Statements:
    """Statements built once per storage: the append path runs them thousands of times a second."""

    def __init__(self, md, dialect: str):
        from sqlalchemy import bindparam, select

        t = md.tables
        self.meta_t, self.entries_t, self.nodes_t = t["ledger_meta"], t["ledger_entries"], t["ledger_nodes"]
        self.heads_t, self.keys_t = t["ledger_heads"], t["ledger_keys"]
        e, h = self.entries_t.c, self.heads_t.c
        self.find_one = select(e.leaf_hash, e.idx).where(e.leaf_hash == bindparam("h"))
        self.latest_head = (
            select(h.tree_size, h.root_hash, h.timestamp_ms, h.key_id, h.signature).order_by(h.tree_size.desc()).limit(1)
        )
        self.insert_entries = self.entries_t.insert()
        self.insert_nodes = self.nodes_t.insert()
        self.insert_head = self.heads_t.insert()
        self.pg_entries = self.pg_nodes = None
        if dialect == "postgresql":
            from sqlalchemy import text

            self.pg_entries = text(
                "INSERT INTO ledger_entries (idx, leaf_hash, kind, content_hash, data) SELECT * FROM unnest("
                "CAST(:idx AS bigint[]), CAST(:lh AS bytea[]), CAST(:kind AS text[]), CAST(:ch AS text[]), CAST(:data AS bytea[]))"
            )
            self.pg_nodes = text(
                "INSERT INTO ledger_nodes (level, idx, hash) SELECT * FROM unnest("
                "CAST(:level AS smallint[]), CAST(:idx AS bigint[]), CAST(:hash AS bytea[]))"
            )


class _SQLView(StorageWriter):
    def __init__(self, conn, st: _Statements):
        self.c = conn
        self.st = st
        self.meta_t, self.entries_t, self.nodes_t = st.meta_t, st.entries_t, st.nodes_t
        self.heads_t, self.keys_t = st.heads_t, st.keys_t

    def meta(self):
        from sqlalchemy import select

        return {k: v for k, v in self.c.execute(select(self.meta_t.c.key, self.meta_t.c.value))}

    def size(self):
        from sqlalchemy import func, select

        top = self.c.execute(select(func.max(self.entries_t.c.idx))).scalar()
        return 0 if top is None else int(top) + 1

    def _rows(self, query):
        return [EntryRow(int(r[0]), bytes(r[1]), r[2], r[3], bytes(r[4])) for r in self.c.execute(query)]

    def _select_entries(self):
        from sqlalchemy import select

        e = self.entries_t.c
        return select(e.idx, e.leaf_hash, e.kind, e.content_hash, e.data)

    def entries(self, start, stop):
        e = self.entries_t.c
        return self._rows(self._select_entries().where(e.idx >= start, e.idx < stop).order_by(e.idx))

    def find(self, *, kind=None, content_hash=None, limit=None):
        e = self.entries_t.c
        q = self._select_entries()
        if kind is not None:
            q = q.where(e.kind == kind)
        if content_hash is not None:
            q = q.where(e.content_hash == content_hash)
        q = q.order_by(e.idx)
        if limit is not None:
            q = q.limit(limit)
        return self._rows(q)

    def find_leaf_hashes(self, hashes):
        from sqlalchemy import select

        hashes = list(hashes)
        e = self.entries_t.c
        out = {}
        if len(hashes) <= 4:
            for h in hashes:
                row = self.c.execute(self.st.find_one, {"h": h}).first()
                if row is not None:
                    out[bytes(row[0])] = int(row[1])
            return out
        for i in range(0, len(hashes), _CHUNK):
            for h, idx in self.c.execute(select(e.leaf_hash, e.idx).where(e.leaf_hash.in_(hashes[i : i + _CHUNK]))):
                out[bytes(h)] = int(idx)
        return out

    def nodes(self, keys):
        from sqlalchemy import and_, or_, select

        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        out = {}
        leaves = by_level.pop(0, [])
        e, n = self.entries_t.c, self.nodes_t.c
        for i in range(0, len(leaves), _CHUNK):
            for idx, h in self.c.execute(select(e.idx, e.leaf_hash).where(e.idx.in_(leaves[i : i + _CHUNK]))):
                out[(0, int(idx))] = bytes(h)
        if by_level:
            cond = or_(*(and_(n.level == level, n.idx.in_(idxs)) for level, idxs in by_level.items()))
            for level, idx, h in self.c.execute(select(n.level, n.idx, n.hash).where(cond)):
                out[(int(level), int(idx))] = bytes(h)
        return out

    def node_rows(self, level, start, stop):
        from sqlalchemy import select

        n = self.nodes_t.c
        q = select(n.idx, n.hash).where(n.level == level, n.idx >= start, n.idx < stop).order_by(n.idx)
        return [(int(i), bytes(h)) for i, h in self.c.execute(q)]

    def node_levels(self):
        from sqlalchemy import select

        n = self.nodes_t.c
        return sorted(int(lv) for (lv,) in self.c.execute(select(n.level).distinct()))

    @staticmethod
    def _head(r):
        return HeadRow(int(r[0]), bytes(r[1]), int(r[2]), r[3], bytes(r[4]))

    def heads(self):
        from sqlalchemy import select

        h = self.heads_t.c
        q = select(h.tree_size, h.root_hash, h.timestamp_ms, h.key_id, h.signature).order_by(h.tree_size)
        return [self._head(r) for r in self.c.execute(q)]

    def head(self, tree_size=None):
        from sqlalchemy import select

        h = self.heads_t.c
        if tree_size is None:
            q = self.st.latest_head
        else:
            q = select(h.tree_size, h.root_hash, h.timestamp_ms, h.key_id, h.signature).where(h.tree_size == tree_size)
        row = self.c.execute(q).first()
        return None if row is None else self._head(row)

    def keys(self):
        from sqlalchemy import select

        k = self.keys_t.c
        q = select(k.key_id, k.public_key, k.created, k.retired).order_by(k.key_id)
        return [KeyRow(r[0], bytes(r[1]), r[2], r[3]) for r in self.c.execute(q)]

    def insert_entries(self, rows):
        if not rows:
            return
        if self.st.pg_entries is not None:  # one statement of arrays: executemany would cost a round trip per row
            cols = list(zip(*rows, strict=True))
            params = {
                "idx": list(cols[0]),
                "lh": list(cols[1]),
                "kind": list(cols[2]),
                "ch": list(cols[3]),
                "data": list(cols[4]),
            }
            self.c.execute(self.st.pg_entries, params)
            return
        self.c.execute(
            self.st.insert_entries,
            [
                {"idx": r.index, "leaf_hash": r.leaf_hash, "kind": r.kind, "content_hash": r.content_hash, "data": r.data}
                for r in rows
            ],
        )

    def insert_nodes(self, rows):
        if not rows:
            return
        if self.st.pg_nodes is not None:
            cols = list(zip(*rows, strict=True))
            self.c.execute(self.st.pg_nodes, {"level": list(cols[0]), "idx": list(cols[1]), "hash": list(cols[2])})
            return
        self.c.execute(self.st.insert_nodes, [{"level": lv, "idx": i, "hash": h} for lv, i, h in rows])

    def insert_head(self, row):
        self.c.execute(
            self.st.insert_head,
            [
                {
                    "tree_size": row.tree_size,
                    "root_hash": row.root_hash,
                    "timestamp_ms": row.timestamp_ms,
                    "key_id": row.key_id,
                    "signature": row.signature,
                }
            ],
        )

    def insert_key(self, row):
        self.c.execute(
            self.keys_t.insert(),
            [{"key_id": row.key_id, "public_key": row.public_key, "created": row.created, "retired": row.retired}],
        )

    def retire_key(self, key_id, when):
        self.c.execute(self.keys_t.update().where(self.keys_t.c.key_id == key_id).values(retired=when))

    def set_meta(self, key, value):
        t = self.meta_t
        if self.c.execute(t.select().where(t.c.key == key)).first() is None:
            self.c.execute(t.insert(), [{"key": key, "value": value}])
        else:
            self.c.execute(t.update().where(t.c.key == key).values(value=value))


def _normalise_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+pg8000://" + url[len(prefix) :]
    return url


class SQLStorage(LedgerStorage):
    """Ledger tables in a SQLAlchemy database (SQLite or PostgreSQL).

    Parameters
    ----------
    url : str
        ``sqlite:///path``, ``postgresql://user:password@host:port/db`` (pg8000;
        another installed driver may be named, ``postgresql+psycopg://``).
    """

    def __init__(self, url: str):
        import sqlalchemy as sa
        from sqlalchemy import event

        self.url = url
        sa_url = sa.engine.make_url(_normalise_url(url))
        self.dialect = sa_url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise LedgerParameterError(f"ledger database must be SQLite or PostgreSQL, got {self.dialect!r} in {url!r}")
        if self.dialect == "sqlite":
            db = sa_url.database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(sa_url, connect_args={"timeout": 60})

            @event.listens_for(self.engine, "connect")
            def _connect(dbapi_connection, _record):
                dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_connection.cursor()
                if db and db != ":memory:":
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: the leaf-hash index is written at random places
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _begin(conn):
                mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get("dbrain_write") else "BEGIN"
                conn.exec_driver_sql(mode)
        else:
            self.engine = sa.create_engine(sa_url, pool_pre_ping=True)
        self.md = ledger_metadata()
        self._st = _Statements(self.md, self.dialect)
        try:
            self.md.create_all(self.engine, checkfirst=True)
        except sa.exc.OperationalError:
            self.md.create_all(self.engine, checkfirst=True)  # another process created them at the same time
        except sa.exc.DBAPIError as exc:
            raise LedgerError(f"cannot open the ledger database {_safe(url)}: {' '.join(str(exc.orig).split())}") from exc

    @contextlib.contextmanager
    def read(self):
        import sqlalchemy as sa

        opts = {"isolation_level": "REPEATABLE READ"} if self.dialect == "postgresql" else {}
        try:
            with self.engine.connect().execution_options(**opts) as conn, conn.begin():
                yield _SQLView(conn, self._st)
        except sa.exc.OperationalError as exc:
            raise LedgerError(
                f"cannot read the ledger database {_safe(self.url)}: {' '.join(str(exc.orig).split())[:200]}"
            ) from exc

    @contextlib.contextmanager
    def write(self):
        import sqlalchemy as sa

        try:
            with self.engine.connect().execution_options(dbrain_write=True) as conn, conn.begin():
                if self.dialect == "postgresql":
                    conn.exec_driver_sql("LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE")
                yield _SQLView(conn, self._st)
        except sa.exc.IntegrityError as exc:
            raise LedgerError(
                f"ledger database refused the write ({' '.join(str(exc.orig).split())[:200]}): "
                "its rows do not match its signed heads; run 'dbrain ledger verify'"
            ) from exc
        except sa.exc.OperationalError as exc:
            raise LedgerError(
                f"cannot write to the ledger database {_safe(self.url)}: {' '.join(str(exc.orig).split())[:200]}"
            ) from exc

    def close(self) -> None:
        self.engine.dispose()


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return "<database URL>"


def open_storage(url: str | os.PathLike) -> LedgerStorage:
    """Open (creating the tables if needed) the ledger storage at ``url``.

    Parameters
    ----------
    url : str | path-like
        ``memory://`` (in-process), a plain path (an SQLite file), or a
        SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``).

    Returns
    -------
    storage : LedgerStorage
    """
    if isinstance(url, os.PathLike) or (isinstance(url, str) and "://" not in url):
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    if not isinstance(url, str):
        raise LedgerParameterError(f"ledger URL must be a string or path, got {type(url).__name__}")
    if url.startswith("memory://"):
        return MemoryStorage(url)
    try:
        return SQLStorage(url)
    except LedgerError:
        raise
    except Exception as exc:
        import sqlalchemy as sa

        if isinstance(exc, sa.exc.SQLAlchemyError | OSError | ImportError):
            raise LedgerError(f"cannot open the ledger database {_safe(url)}: {' '.join(str(exc).split())[:300]}") from exc
        raise


def iter_entries(reader: StorageReader, start: int = 0, stop: int | None = None, page: int = 20000) -> Iterator[EntryRow]:
    """All entries from ``start`` to ``stop`` (default: the end), read page by page."""
    stop = reader.size() if stop is None else stop
    for a in range(start, stop, page):
        yield from reader.entries(a, min(a + page, stop))
