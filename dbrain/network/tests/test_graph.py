"""Graph measures on graphs with known answers."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from dbrain.errors import ParameterError
from dbrain.network import GRAPH_COLUMNS, graph_measures, threshold_proportional


def _glob(table):
    return table[table["level"] == "global"].set_index("measure")["value"]


def _node(table, measure):
    return table[(table["level"] == "channel") & (table["measure"] == measure)].set_index("name")["value"]


def test_complete_graph():
    n = 6
    w = np.ones((n, n)) - np.eye(n)
    t = graph_measures(w, [f"n{i}" for i in range(n)], density=None, n_random=0)
    assert tuple(t.columns) == GRAPH_COLUMNS
    g = _glob(t)
    assert g["path_length"] == pytest.approx(1.0)
    assert g["efficiency"] == pytest.approx(1.0)
    assert g["clustering"] == pytest.approx(1.0)
    assert g["density"] == pytest.approx(1.0)
    np.testing.assert_allclose(_node(t, "strength"), n - 1)


def test_two_modules_and_bridge_hubs():
    # two 5-cliques joined by one edge between nodes 4 and 5
    n = 10
    w = np.zeros((n, n))
    w[:5, :5] = 1
    w[5:, 5:] = 1
    np.fill_diagonal(w, 0)
    w[4, 5] = w[5, 4] = 1
    names = [f"n{i}" for i in range(n)]
    t = graph_measures(w, names, density=None, n_random=0)
    g = _glob(t)
    assert g["n_modules"] == 2
    expected_q = float(nx.community.modularity(nx.from_numpy_array(w), [set(range(5)), set(range(5, 10))]))
    assert g["modularity"] == pytest.approx(expected_q)
    hubs = _node(t, "hub")
    assert set(hubs[hubs == 1].index) == {"n4", "n5"}
    assert t.attrs["modules"]["n0"] != t.attrs["modules"]["n9"]
    # efficiency by hand: within-clique pairs at distance 1, bridge pairs at 1, 2 or 3
    d = nx.floyd_warshall_numpy(nx.from_numpy_array(w), weight=None)
    off = ~np.eye(n, dtype=bool)
    assert g["efficiency"] == pytest.approx(np.mean(1 / d[off]))
    assert g["path_length"] == pytest.approx(np.mean(d[off]))


def test_small_world_sigma():
    names = [f"n{i}" for i in range(40)]
    ws = nx.to_numpy_array(nx.watts_strogatz_graph(40, 6, 0.1, seed=1))
    sigma_ws = _glob(graph_measures(ws, names, density=None, n_random=10, random_state=0))["small_world_sigma"]
    rnd = nx.to_numpy_array(nx.gnm_random_graph(40, int(ws.sum() / 2), seed=2))
    sigma_rnd = _glob(graph_measures(rnd, names, density=None, n_random=10, random_state=0))["small_world_sigma"]
    assert sigma_ws > 2.0
    assert 0.6 < sigma_rnd < 1.4


def test_regions_and_hemispheres():
    names = ["Fp1", "Fp2", "C3", "C4", "O1", "O2", "Cz"]
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 0.2, (7, 7))
    w = (w + w.T) / 2
    left, right = [0, 2, 4], [1, 3, 5]
    for i in left:
        for j in left:
            w[i, j] = 0.9
    np.fill_diagonal(w, 0)
    t = graph_measures(w, names, density=None, n_random=0)
    rows = t.set_index(["level", "name", "measure"])["value"]
    assert rows[("hemisphere", "left", "within")] == pytest.approx(0.9)
    assert rows[("hemisphere", "left", "strength")] > rows[("hemisphere", "right", "strength")]
    assert rows[("hemisphere", "left-right", "interhemispheric")] == pytest.approx(w[np.ix_(left, right)].mean())
    assert ("region", "central", "strength") in rows.index and ("region", "occipital", "within") in rows.index
    # frontal (Fp1 Fp2) - occipital (O1 O2): the mean of the four joining edges
    assert rows[("region_pair", "frontal-occipital", "between")] == pytest.approx(w[np.ix_([0, 1], [4, 5])].mean())


def test_threshold_proportional():
    w = np.array([[0, 3, 1, 2], [3, 0, 6, 5], [1, 6, 0, 4], [2, 5, 4, 0]], float)
    t = threshold_proportional(w, 0.5)  # 3 of 6 edges: 6, 5, 4
    assert sorted(t[np.triu_indices(4, 1)][t[np.triu_indices(4, 1)] > 0]) == [4, 5, 6]
    assert np.allclose(t, t.T)


def test_disconnected_graph_is_finite():
    w = np.zeros((4, 4))
    w[0, 1] = w[1, 0] = 1.0
    g = _glob(graph_measures(w, list("abcd"), density=None, n_random=3))
    assert g["path_length"] == pytest.approx(1.0)
    assert g["efficiency"] == pytest.approx(2 / 12)


@pytest.mark.parametrize(
    ("matrix", "names", "match"),
    [
        (np.zeros((3, 4)), list("abc"), "square"),
        (np.zeros((2, 2)), list("ab"), "at least 3 nodes"),
        (np.full((3, 3), np.nan), list("abc"), "NaN"),
        (np.zeros((3, 3)), list("ab"), "2 names"),
    ],
)
def test_bad_input(matrix, names, match):
    with pytest.raises(ParameterError, match=match):
        graph_measures(matrix, names)


def test_bad_density():
    with pytest.raises(ParameterError, match="density"):
        graph_measures(np.ones((3, 3)), list("abc"), density=0)
