"""Tampering helpers: change ledger rows behind its back, as an attacker with database access would."""

from __future__ import annotations

from dbrain.ledger import MemoryStorage
from dbrain.ledger.storage import ledger_metadata

_PK = {
    "ledger_entries": ("idx",),
    "ledger_nodes": ("level", "idx"),
    "ledger_heads": ("tree_size",),
    "ledger_keys": ("key_id",),
    "ledger_meta": ("key",),
}


def flip(value, position: int | None = None):
    """Change one byte (bytes), one character (str) or add one (int)."""
    if isinstance(value, bytes | memoryview):
        value = bytes(value)
        i = len(value) // 2 if position is None else position
        return value[:i] + bytes([value[i] ^ 0x01]) + value[i + 1 :]
    if isinstance(value, str):
        i = len(value) // 2 if position is None else position
        return value[:i] + ("b" if value[i] != "b" else "c") + value[i + 1 :]
    return value + 1


def read_row(ledger, table: str, key) -> dict:
    key = key if isinstance(key, tuple) else (key,)
    storage = ledger.storage
    if isinstance(storage, MemoryStorage):
        return dict(storage.tables[table][key if len(key) > 1 else key[0]])
    import sqlalchemy as sa

    t = ledger_metadata().tables[table]
    cond = sa.and_(*(t.c[c] == v for c, v in zip(_PK[table], key, strict=True)))
    with storage.engine.connect() as conn:
        return dict(conn.execute(sa.select(t).where(cond)).mappings().one())


def tamper(ledger, table: str, key, column: str, change=flip):
    """Alter one column of one row behind the ledger's back, as an attacker with database access would."""
    key = key if isinstance(key, tuple) else (key,)
    storage = ledger.storage
    if isinstance(storage, MemoryStorage):
        rows = storage.tables[table]
        k = key if len(key) > 1 else key[0]
        if column in _PK[table]:  # a primary-key column is the dict key here
            pos = _PK[table].index(column)
            new = list(key)
            new[pos] = change(key[pos])
            rows[tuple(new) if len(new) > 1 else new[0]] = rows.pop(k)
        else:
            rows[k][column] = change(rows[k][column])
        return
    import sqlalchemy as sa

    t = ledger_metadata().tables[table]
    cond = sa.and_(*(t.c[c] == v for c, v in zip(_PK[table], key, strict=True)))
    with storage.engine.begin() as conn:
        old = conn.execute(sa.select(t.c[column]).where(cond)).scalar_one()
        if isinstance(old, memoryview):
            old = bytes(old)
        conn.execute(t.update().where(cond).values({column: change(old)}))


def delete_row(ledger, table: str, key) -> None:
    key = key if isinstance(key, tuple) else (key,)
    storage = ledger.storage
    if isinstance(storage, MemoryStorage):
        del storage.tables[table][key if len(key) > 1 else key[0]]
        return
    import sqlalchemy as sa

    t = ledger_metadata().tables[table]
    cond = sa.and_(*(t.c[c] == v for c, v in zip(_PK[table], key, strict=True)))
    with storage.engine.begin() as conn:
        conn.execute(t.delete().where(cond))
