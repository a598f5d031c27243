"""Run order from declared dependencies (``requires=``), not from order numbers."""

from __future__ import annotations

from collections.abc import Iterable


def order_by_requires(items: Iterable, *, name=lambda x: x.name, requires=lambda x: x.requires) -> list:
    """``items`` ordered so that each comes after the items it requires.

    Among items free to run, registration order is kept (a stable
    topological sort), so the order is deterministic. A requirement naming
    an item that is not in ``items`` (a step left out with ``--only``/``--skip``)
    constrains nothing.

    Parameters
    ----------
    items : iterable
        Things with a name and the names they require.
    name, requires : callable
        How to read an item's name and its requirements.

    Returns
    -------
    ordered : list

    Raises
    ------
    RuntimeError
        If the requirements form a cycle (the cycle is named).
    """
    items = list(items)
    by_name = {name(x): x for x in items}
    index = {n: i for i, n in enumerate(by_name)}
    deps = {n: [d for d in requires(x) if d in by_name and d != n] for n, x in by_name.items()}
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(by_name):
        ready = [n for n in by_name if n not in placed and all(d in placed for d in deps[n])]
        if not ready:
            raise RuntimeError(f"steps require each other in a cycle: {' -> '.join(_cycle(deps, placed))}")
        first = min(ready, key=index.__getitem__)
        done.append(first)
        placed.add(first)
    return [by_name[n] for n in done]


def _cycle(deps: dict, placed: set) -> list[str]:
    start = next(n for n in deps if n not in placed)
    path, seen = [start], {start: 0}
    while True:
        nxt = next(d for d in deps[path[-1]] if d not in placed)
        if nxt in seen:
            return [*path[seen[nxt] :], nxt]
        seen[nxt] = len(path)
        path.append(nxt)
