"""Figures: connectome on 10-20 positions (head and circle views), matrices, onset change maps."""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure as MplFigure

from ..errors import ParameterError
from ..utils.check import _check_option
from ._connectivity import connectivity_matrix
from ._graph import threshold_proportional


def _head_positions(ch_names):
    """2-D positions (azimuthal equidistant projection, head radius ~0.5) of 10-10 names; None if any is unknown.

    The lookup is :func:`dbrain.channels.head_positions`, the rule of every head
    map; a network drawn with a node left out would hide its edges, so a set
    with any electrode lacking a distinct standard position is drawn on a
    circle instead (:func:`_layout_note` says so in the figure).
    """
    from ..channels import head_positions

    sel = head_positions(list(ch_names))
    if sel.left_out:
        return None
    ring = head_positions(["Fpz", "T7", "Oz", "T8"]).xyz
    # centre of the Fpz-T7-Oz-T8 ring, so that ring lies on the head circle (r = 0.5) and Cz at its centre
    centre = np.array([(ring[1, 0] + ring[3, 0]) / 2, (ring[0, 1] + ring[2, 1]) / 2, ring[:, 2].mean()])
    out = []
    for p in sel.xyz:
        v = p - centre
        x, y, z = v / np.linalg.norm(v)
        theta = np.arccos(np.clip(z, -1, 1))
        phi = np.arctan2(y, x)
        r = theta / np.pi  # 90° from the vertex -> 0.5
        out.append((r * np.cos(phi), r * np.sin(phi)))
    return np.array(out)


def _layout_note(fig, ch_names) -> None:
    """Say in the figure why a head view was drawn on a circle."""
    from ..channels import head_positions

    note = head_positions(list(ch_names)).note(limit=8)
    if note:
        fig.text(0.5, 0.0, f"circle layout: {note.removeprefix('not shown: ')}", ha="center", va="bottom", fontsize=6)


def _circle_positions(n):
    ang = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return np.c_[0.45 * np.cos(ang), 0.45 * np.sin(ang)]


def _draw_network(ax, w, ch_names, pos, *, node_values=None, cmap="viridis", head=True, directed=False, vmax=None):
    from matplotlib import colormaps

    if head:
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(0.55 * np.cos(t), 0.55 * np.sin(t), color="0.3", lw=1)
        ax.plot([-0.06, 0, 0.06], [0.545, 0.62, 0.545], color="0.3", lw=1)  # nose
    iu = np.nonzero(w) if directed else np.nonzero(np.triu(w, 1))
    vals = w[iu]
    top = vmax if vmax else (vals.max() if vals.size else 1.0)
    cm = colormaps[cmap]
    for k in np.argsort(vals):
        i, j = iu[0][k], iu[1][k]
        a = vals[k] / top if top > 0 else 0
        if directed:  # w[i, j]: j -> i
            ax.annotate(
                "",
                xy=pos[i],
                xytext=pos[j],
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": cm(a),
                    "lw": 0.5 + 2.5 * a,
                    "alpha": 0.4 + 0.6 * a,
                    "shrinkA": 6,
                    "shrinkB": 6,
                },
            )
        else:
            ax.plot(*zip(pos[i], pos[j], strict=True), color=cm(a), lw=0.5 + 3 * a, alpha=0.35 + 0.65 * a, zorder=1)
    sizes = 40.0
    colors = "white"
    if node_values is not None:
        nv = np.asarray(node_values, float)
        span = np.nanmax(np.abs(nv)) or 1.0
        colors = colormaps["RdBu_r"]((nv / span + 1) / 2)
    ax.scatter(pos[:, 0], pos[:, 1], s=sizes * 4, c=colors, edgecolors="0.2", zorder=3)
    fs = 6 if len(ch_names) <= 32 else 4
    rgba = np.broadcast_to(
        np.atleast_2d(np.array(colors if not isinstance(colors, str) else [[1.0, 1.0, 1.0, 1.0]])), (len(ch_names), 4)
    )
    for (x, y), c, col in zip(pos, ch_names, rgba, strict=True):
        dark = 0.299 * col[0] + 0.587 * col[1] + 0.114 * col[2] < 0.45
        ax.text(x, y, c, ha="center", va="center", fontsize=fs, zorder=4, color="white" if dark else "black")
    ax.set_xlim(-0.65, 0.65)
    ax.set_ylim(-0.62, 0.68)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_connectome(matrix, ch_names, *, kind: str = "head", density: float = 0.15, title: str | None = None, node_values=None):
    """Connectome: the strongest edges on 10-20 positions (head) or on a circle.

    Parameters
    ----------
    matrix : array, shape (n_channels, n_channels)
        Connectivity (symmetric, or ``matrix[i, j]`` = flow ``j`` → ``i`` for PDC).
    ch_names : list of str
        Channel names; the head view needs 10-20 names (it falls back to the
        circle view otherwise).
    kind : str
        ``"head"`` or ``"circle"``.
    density : float
        Fraction of the strongest edges drawn.
    title : str | None
        Axes title.
    node_values : array, shape (n_channels,) | None
        Colours the nodes (blue negative, red positive), e.g. a change in strength.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    _check_option("kind", kind, ("head", "circle"))
    w = np.abs(np.asarray(matrix, float))
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] != len(ch_names):
        raise ParameterError(f"matrix must be square with one row per channel, got shape {w.shape} for {len(ch_names)} channels.")
    directed = not np.allclose(w, w.T)
    if directed:
        n = w.shape[0]
        flat = w[~np.eye(n, dtype=bool)]
        k = max(1, int(round(density * flat.size / 2)))
        cut = np.sort(flat)[::-1][min(k, flat.size) - 1]
        thr = np.where(w >= cut, w, 0.0)
        np.fill_diagonal(thr, 0.0)
    else:
        thr = threshold_proportional((w + w.T) / 2, density)
    pos = _head_positions(ch_names) if kind == "head" else None
    head = pos is not None
    if pos is None:
        pos = _circle_positions(len(ch_names))
    fig = MplFigure(figsize=(4.2, 4.4), layout="constrained")
    if kind == "head" and not head:
        _layout_note(fig, ch_names)
    ax = fig.subplots()
    _draw_network(ax, thr, list(ch_names), pos, node_values=node_values, head=head, directed=directed)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_connectivity(table, *, measures=None, bands=None, kind: str = "head", density: float = 0.15):
    """Connectomes and matrices of a connectivity table: one column per band, two rows per measure.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`compute_connectivity`.
    measures : list of str | None
        Measures to show (rows); all in the table by default.
    bands : list of str | None
        Bands to show (columns); all in the table by default.
    kind : str
        ``"head"`` or ``"circle"`` for the connectome rows.
    density : float
        Fraction of edges drawn in the connectomes.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    _check_option("kind", kind, ("head", "circle"))
    measures = list(measures or dict.fromkeys(table["measure"]))
    bands = list(bands or dict.fromkeys(table["band"]))
    ch_names = table.attrs.get("channels") or list(dict.fromkeys([*table["node_a"], *table["node_b"]]))
    pos = _head_positions(ch_names) if kind == "head" else None
    head = pos is not None
    if pos is None:
        pos = _circle_positions(len(ch_names))
    fig = MplFigure(figsize=(2.3 * len(bands) + 0.6, 4.4 * len(measures)), layout="constrained")
    if kind == "head" and not head:
        _layout_note(fig, ch_names)
    axes = np.atleast_2d(fig.subplots(2 * len(measures), len(bands), squeeze=False))
    for r, m in enumerate(measures):
        for c, b in enumerate(bands):
            mat, _ = connectivity_matrix(table, b, m, ch_names)
            ax = axes[2 * r, c]
            thr = (
                threshold_proportional((mat + mat.T) / 2, density)
                if m != "pdc"
                else np.where(mat >= np.quantile(mat, 1 - density / 2), mat, 0)
            )
            _draw_network(ax, thr, ch_names, pos, head=head, directed=m == "pdc")
            ax.set_title(f"{m} {b}", fontsize=8)
            ax2 = axes[2 * r + 1, c]
            im = ax2.imshow(mat, cmap="viridis", vmin=0, interpolation="nearest")
            if c == 0 and len(ch_names) <= 32:  # channel labels on the first matrix of a row only (tick labels are slow)
                ax2.set_yticks(range(len(ch_names)), ch_names, fontsize=4)
                ax2.set_xticks(range(len(ch_names)), ch_names, fontsize=4, rotation=90)
            else:
                ax2.set_xticks([])
                ax2.set_yticks([])
            fig.colorbar(im, ax=ax2, shrink=0.7)
    return fig


def plot_onset(result, *, top: int = 10, title: str | None = None):
    """Onset change map and candidate list of one seizure.

    Parameters
    ----------
    result : OnsetResult
        Output of :func:`onset_network`.
    top : int
        Number of candidate channels listed and marked.
    title : str | None
        Figure title.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: early-ictal onset-band coherence connectome, nodes coloured by the
        change in coherence strength (red: gained); middle: the top
        candidates' combined scores; right: the global evolution around onset.
    """
    fig = MplFigure(figsize=(12, 4.2), layout="constrained")
    ax0, ax1, ax2 = fig.subplots(1, 3, width_ratios=[1.1, 1, 1.2])
    names = result.ch_names
    pos = _head_positions(names)
    head = pos is not None
    if pos is None:
        pos = _circle_positions(len(names))
        _layout_note(fig, names)
    change = result.ictal_matrix.sum(0) - result.pre_matrix.sum(0)
    n = len(names)
    thr = threshold_proportional(result.ictal_matrix, min(0.15, 1.5 * n / (n * (n - 1) / 2)))  # at most ~1.5 edges per node
    _draw_network(ax0, thr, names, pos, node_values=change, head=head)
    ax0.set_title("early-ictal coherence; node colour: strength change", fontsize=8)
    # the node colours' scale (_draw_network maps ± the largest change onto RdBu_r), or the colours say nothing
    span = float(np.nanmax(np.abs(change))) if np.isfinite(change).any() else 0.0
    span = span or 1.0
    scale = ScalarMappable(norm=Normalize(-span, span), cmap="RdBu_r")
    bar = fig.colorbar(scale, ax=ax0, orientation="horizontal", shrink=0.7, pad=0.02, aspect=30)
    bar.set_label("strength change: ictal − pre-ictal coherence sum (red: gained)", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    r = result.ranking.head(top)
    ax1.barh(range(len(r))[::-1], r["score"], color="C3")
    ax1.set_yticks(
        range(len(r))[::-1],
        [f"{c} ({t:.2f} s)" if np.isfinite(t) else c for c, t in zip(r["channel"], r["involvement_time"], strict=True)],
        fontsize=7,
    )
    ax1.set_xlabel("combined score (1 = first on every criterion)")
    ax1.set_title(f"top {len(r)} candidate onset channels (involvement time)", fontsize=8)
    ax1.set_xlim(0, 1)
    evo = result.evolution
    if len(evo):
        for m, color in (("mean_coherence", "C0"), ("efficiency", "C1"), ("clustering", "C2")):
            e = evo[evo["measure"] == m]
            ax2.plot(e["time"], e["value"], marker="o", ms=3, color=color, label=m)
        ax2b = ax2.twinx()
        e = evo[evo["measure"] == "n_involved"]
        ax2b.step(e["time"], e["value"], where="post", color="C3", label="channels involved")
        ax2b.set_ylabel("channels involved", color="C3")
        ax2.axvline(0, color="k", ls="--", lw=0.8)
        ax2.legend(fontsize=7, loc="upper left")
    ax2.set_xlabel("time from onset (s)")
    ax2.set_title(f"onset band {result.band[0]:g}–{result.band[1]:g} Hz, global network", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
