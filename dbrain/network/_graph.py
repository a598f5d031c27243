"""Graph measures of a weighted connectivity matrix (networkx; bctpy is GPL and not used).

The matrix is made symmetric and non-negative (``|W + W.T| / 2``) and, with
``density``, proportionally thresholded: the strongest ``density`` fraction
of edges is kept with its weights. On that weighted graph:

* ``strength`` — sum of a node's edge weights; ``degree`` — its edges;
* ``clustering`` — weighted clustering coefficient (Onnela et al. 2005, networkx);
* ``betweenness`` — weighted betweenness centrality on distances ``1 / w``;
* ``hub`` — 1 when a node is in the top 20 % of strength *and* of betweenness
  (van den Heuvel & Sporns 2011 use several such criteria);
* global ``path_length`` — mean weighted shortest path (``1 / w``) over the
  pairs that are connected, ``efficiency`` — mean ``1 / path`` over all pairs
  (disconnected pairs count 0; Latora & Marchiori 2001);
* ``small_world_sigma`` — ``(C / C_rand) / (L / L_rand)`` (Humphries 2008) and
  ``small_world_omega`` — ``L_rand / L - C / C_latt`` (Telesford 2011), against
  ``n_random`` seeded random graphs with the same number of edges and the same
  weights and a ring lattice with the same edges' weights laid out nearest first;
* ``modularity`` — Newman's weighted modularity of the seeded Louvain partition
  (networkx), ``n_modules`` its number of modules.

Per region and hemisphere (10-20 names, :data:`dbrain.qeeg.REGIONS`): the mean
node measures, ``within`` (mean weight of the edges inside the region), for
the hemispheres ``interhemispheric`` (mean weight of left–right edges), and
for each pair of regions (level ``region_pair``, name ``frontal-occipital`` …)
``between`` (mean weight of the edges joining them).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import shortest_path

from ..errors import ParameterError
from ..qeeg import REGIONS
from ..utils._rename import renamed_parameter
from ..utils.check import _check_range, _validate_type

#: Columns of the graph table.
GRAPH_COLUMNS: tuple[str, ...] = ("level", "name", "measure", "value")

NODE_MEASURES: tuple[str, ...] = ("strength", "degree", "clustering", "betweenness", "hub")
GLOBAL_MEASURES: tuple[str, ...] = (
    "mean_strength",
    "clustering",
    "path_length",
    "efficiency",
    "small_world_sigma",
    "small_world_omega",
    "modularity",
    "n_modules",
    "density",
)


def _check_matrix(matrix, ch_names):
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ParameterError(f"matrix must be square, got shape {m.shape}.")
    if m.shape[0] < 3:
        raise ParameterError(f"graph measures need at least 3 nodes, got {m.shape[0]}.")
    if not np.all(np.isfinite(m)):
        raise ParameterError("matrix holds NaN or infinite values.")
    ch_names = [str(c) for c in ch_names]
    if len(ch_names) != m.shape[0]:
        raise ParameterError(f"ch_names has {len(ch_names)} names for a {m.shape[0]}-node matrix.")
    w = np.abs(m + m.T) / 2.0
    np.fill_diagonal(w, 0.0)
    return w, ch_names


def threshold_proportional(matrix, density: float):
    """Keep the strongest ``density`` fraction of edges of a symmetric matrix.

    Parameters
    ----------
    matrix : array, shape (n, n)
        Symmetric non-negative weights (diagonal ignored).
    density : float
        Fraction of the ``n (n - 1) / 2`` possible edges to keep, in (0, 1].

    Returns
    -------
    thresholded : numpy.ndarray, shape (n, n)
        The kept weights, 0 elsewhere (ties at the threshold are broken by position).
    """
    _check_range("density", density, 0, 1, inclusive=True)
    if density <= 0:
        raise ParameterError(f"density must be in (0, 1], got {density}.")
    w = np.asarray(matrix, dtype=float)
    n = w.shape[0]
    iu = np.triu_indices(n, 1)
    vals = w[iu]
    k = max(1, int(round(density * vals.size)))
    keep = np.argsort(-vals, kind="stable")[:k]
    keep = keep[vals[keep] > 0]
    out = np.zeros_like(w)
    out[iu[0][keep], iu[1][keep]] = vals[keep]
    return out + out.T


def _graph(w):
    g = nx.from_numpy_array(w)
    for _, _, d in g.edges(data=True):
        d["distance"] = 1.0 / d["weight"]
    return g


def _paths(w):
    """Weighted shortest-path lengths on distances 1/w (inf when disconnected)."""
    with np.errstate(divide="ignore"):
        dist = np.where(w > 0, 1.0 / np.where(w > 0, w, 1.0), 0.0)
    return shortest_path(dist, method="D", directed=False)


def _path_eff(w):
    d = _paths(w)
    off = ~np.eye(w.shape[0], dtype=bool)
    finite = np.isfinite(d) & off
    path = float(d[finite].mean()) if finite.any() else float("nan")
    with np.errstate(divide="ignore"):
        inv = np.where(finite, 1.0 / np.where(finite, d, 1.0), 0.0)
    return path, float(inv[off].mean())


def _mean_clustering(w):
    if not np.any(w > 0):
        return 0.0
    c = nx.clustering(nx.from_numpy_array(w), weight="weight")
    return float(np.mean(list(c.values())))


def _random_like(w, rng):
    """Random graph with the same number of edges and the same weights."""
    n = w.shape[0]
    iu = np.triu_indices(n, 1)
    vals = w[iu]
    out = np.zeros_like(w)
    perm = rng.permutation(vals.size)
    out[iu] = vals[perm]
    return out + out.T


def _lattice_like(w):
    """Ring lattice: the strongest weights on the shortest ring distances."""
    n = w.shape[0]
    iu = np.triu_indices(n, 1)
    vals = np.sort(w[iu])[::-1]
    ring = np.minimum(iu[1] - iu[0], n - (iu[1] - iu[0]))
    order = np.lexsort((iu[0], ring))
    out = np.zeros_like(w)
    out[iu[0][order], iu[1][order]] = vals
    return out + out.T


@renamed_parameter("seed", "random_state", since="0.2")
def graph_measures(matrix, ch_names, *, density: float | None = 0.3, n_random: int = 10, random_state: int = 0) -> pd.DataFrame:
    """Node, region, hemisphere and global graph measures of a connectivity matrix.

    Parameters
    ----------
    matrix : array, shape (n_channels, n_channels)
        Connectivity weights (e.g. from :func:`connectivity_matrix`); made
        symmetric and non-negative, the diagonal is ignored.
    ch_names : list of str
        Node names; 10-20 names also give region and hemisphere rows.
    density : float | None
        Keep this fraction of the strongest edges (proportional threshold);
        None keeps every non-zero edge.
    n_random : int
        Number of seeded random reference graphs for small-worldness (0 skips it).
    random_state : int
        Seed of the random references and of the Louvain partition (formerly ``seed``).

    Returns
    -------
    table : pandas.DataFrame
        Columns :data:`GRAPH_COLUMNS`; ``level`` is ``"channel"``,
        ``"region"``, ``"region_pair"``, ``"hemisphere"`` or ``"global"``
        (``name`` ``"all"``).
        The module assignment is in ``table.attrs["modules"]``.
    """
    w, ch_names = _check_matrix(matrix, ch_names)
    _validate_type(n_random, int, "n_random")
    if n_random < 0:
        raise ParameterError(f"n_random must be >= 0, got {n_random}.")
    if density is not None:
        w = threshold_proportional(w, density)
    n = w.shape[0]
    g = _graph(w)
    strength = w.sum(1)
    degree = (w > 0).sum(1).astype(float)
    clust = nx.clustering(g, weight="weight")
    clustering = np.array([clust[i] for i in range(n)])
    btw = nx.betweenness_centrality(g, weight="distance", normalized=True)
    betweenness = np.array([btw[i] for i in range(n)])
    top = max(1, int(np.ceil(0.2 * n)))
    hub = np.zeros(n)
    if np.any(strength > 0):
        s_top = set(np.argsort(-strength, kind="stable")[:top])
        b_top = set(np.argsort(-betweenness, kind="stable")[:top]) if np.any(betweenness > 0) else s_top
        hub[list(s_top & b_top)] = 1.0
    path, eff = _path_eff(w)
    c_mean = float(clustering.mean())
    sigma = omega = float("nan")
    if n_random and np.any(w > 0):
        rng = np.random.default_rng(random_state)
        c_r, l_r = [], []
        for _ in range(n_random):
            r = _random_like(w, rng)
            c_r.append(_mean_clustering(r))
            l_r.append(_path_eff(r)[0])
        c_rand, l_rand = float(np.mean(c_r)), float(np.nanmean(l_r))
        c_latt = _mean_clustering(_lattice_like(w))
        if c_rand > 0 and path > 0 and l_rand > 0:
            sigma = (c_mean / c_rand) / (path / l_rand)
        if c_latt > 0 and path > 0:
            omega = l_rand / path - c_mean / c_latt
    if g.number_of_edges():
        modules = nx.community.louvain_communities(g, weight="weight", seed=random_state)
        modularity = float(nx.community.modularity(g, modules, weight="weight"))
    else:
        modules, modularity = [set(range(n))], float("nan")
    rows = []
    for name, vals in zip(NODE_MEASURES, (strength, degree, clustering, betweenness, hub), strict=True):
        rows += [("channel", ch, name, float(v)) for ch, v in zip(ch_names, vals, strict=True)]
    n_edges = int((w[np.triu_indices(n, 1)] > 0).sum())
    glob = {
        "mean_strength": float(strength.mean()),
        "clustering": c_mean,
        "path_length": path,
        "efficiency": eff,
        "small_world_sigma": sigma,
        "small_world_omega": omega,
        "modularity": modularity,
        "n_modules": float(len(modules)),
        "density": n_edges / (n * (n - 1) / 2),
    }
    rows += [("global", "all", k, v) for k, v in glob.items()]
    rows += _region_rows(w, ch_names, {"strength": strength, "clustering": clustering, "betweenness": betweenness})
    table = pd.DataFrame(rows, columns=list(GRAPH_COLUMNS))
    module_of = {}
    for k, mod in enumerate(sorted(modules, key=lambda s: min(s))):
        for i in mod:
            module_of[ch_names[i]] = k
    table.attrs.update({"density": density, "n_random": n_random, "random_state": random_state, "modules": module_of})
    return table


def _region_rows(w, ch_names, node_vals):
    index = {c.lower(): i for i, c in enumerate(ch_names)}
    members = {}
    for region, names in REGIONS.items():
        idx = [index[m.lower()] for m in names if m.lower() in index]
        if idx:
            members[region] = idx
    rows = []
    for region, idx in members.items():
        level = "hemisphere" if region in ("left", "right") else "region"
        for k, v in node_vals.items():
            rows.append((level, region, k, float(np.mean(v[idx]))))
        if len(idx) > 1:
            sub = w[np.ix_(idx, idx)]
            rows.append((level, region, "within", float(sub[np.triu_indices(len(idx), 1)].mean())))
    if "left" in members and "right" in members:
        rows.append(("hemisphere", "left-right", "interhemispheric", float(w[np.ix_(members["left"], members["right"])].mean())))
    lobes = [r for r in members if r not in ("left", "right")]
    for k, a in enumerate(lobes):
        for b in lobes[k + 1 :]:
            rows.append(("region_pair", f"{a}-{b}", "between", float(w[np.ix_(members[a], members[b])].mean())))
    return rows
