"""The network step: resting connectivity and graph measures, seizure-onset networks, DIR/network.parquet."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd

from ..network import (
    MEASURES,
    clean_epochs,
    compute_connectivity,
    connectivity_matrix,
    graph_measures,
    onset_network,
    plot_connectivity,
    plot_connectome,
    plot_onset,
    resting_state_features,
    seizure_onsets,
)
from ..report import Figure, KeyValues, Note, Paragraph, Section, Table
from ..utils._time import format_time
from ._registry import AnalysisContext, StepResult, recording_clock, register_step

#: Fewer EEG channels than this give no network.
MIN_CHANNELS = 4
#: Fewer clean epochs than this give no resting network.
MIN_EPOCHS = 10
#: At most this many seizures get an onset network (the first ones).
MAX_SEIZURES = 5

#: Columns of DIR/network.parquet (one tidy table; ``kind`` says which rows are which).
NETWORK_COLUMNS = ("kind", "seizure", "time", "band", "measure", "level", "node", "node_b", "value", "significant")

_SECTION = ("Brain network", "network")


def _frame(**cols) -> pd.DataFrame:
    n = max(len(v) for v in cols.values() if not np.isscalar(v) and v is not None)
    out = {}
    for c in NETWORK_COLUMNS:
        v = cols.get(c)
        out[c] = [v] * n if (v is None or np.isscalar(v)) else list(v)
    df = pd.DataFrame(out)
    for c in ("seizure", "time", "value"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["significant"] = df["significant"].astype("boolean")
    for c in ("kind", "band", "measure", "level", "node", "node_b"):
        df[c] = df[c].astype("string")
    return df


def _skip(reason: str) -> StepResult:
    return StepResult(
        summary={"computed": False, "reason": reason}, sections=[Section(*_SECTION, [Note(f"No network analysis: {reason}.")])]
    )


def _when(ctx, seconds: float) -> str:
    """A time of this recording in dbrain's one convention (clock time, D<n> across midnight)."""
    start, _, multiday = recording_clock(ctx)
    return format_time(float(seconds), start, multiday=multiday)


def _car(x):
    return x - x.mean(axis=-2, keepdims=True)


@register_step(
    "network",
    "1",
    requires=("seizures",),
    description="Functional connectivity and graph measures of clean resting EEG, seizure-onset networks.",
    params={
        "epoch_length": 4.0,
        "artifact_threshold": 0.5,
        "max_clean": 300.0,
        "n_surrogates": 19,
        "density": 0.3,
        "pre": 30.0,
        "post": 20.0,
    },
)
def network_step(
    ctx: AnalysisContext,
    epoch_length: float,
    artifact_threshold: float,
    max_clean: float,
    n_surrogates: int,
    density: float,
    pre: float,
    post: float,
) -> StepResult:
    """Functional connectivity and graph measures of clean resting EEG, seizure-onset networks."""
    raw = ctx.raw
    sfreq = raw.info["sfreq"]
    types = raw.get_channel_types()
    n_eeg = types.count("eeg")
    n_ieeg = types.count("seeg") + types.count("ecog")
    kind = "scalp" if n_eeg >= MIN_CHANNELS or n_ieeg < MIN_CHANNELS else "intracranial"
    if kind == "scalp" and n_eeg < MIN_CHANNELS:
        return _skip(f"{n_eeg} EEG channel(s), at least {MIN_CHANNELS} needed")
    if raw.n_times / sfreq < MIN_EPOCHS * epoch_length:
        return _skip(f"recording shorter than {MIN_EPOCHS * epoch_length:g} s")
    frames, blocks, summary = [], [], {"computed": True, "kind": kind}
    if kind == "intracranial":
        # artifact strength is defined for scalp EEG: no resting network, onset networks only
        names = [
            raw.ch_names[i] for i, t in enumerate(types) if t in ("seeg", "ecog") and raw.ch_names[i] not in raw.info["bads"]
        ]
        blocks.append(
            Note(
                f"Intracranial recording ({len(names)} sEEG/ECoG channels): onset networks only, no resting network.",
                level="info",
            )
        )
        summary.update({"resting": None, "n_clean_epochs": 0})
    else:
        epochs, starts, names = clean_epochs(raw, length=epoch_length, threshold=artifact_threshold, max_duration=max_clean)
        if len(epochs) < MIN_EPOCHS:
            blocks.append(
                Note(
                    f"No resting network: {len(epochs)} clean {epoch_length:g}-s epochs (artifact strength below "
                    f"{artifact_threshold:g}), at least {MIN_EPOCHS} needed."
                )
            )
            summary.update({"resting": None, "n_clean_epochs": int(len(epochs))})
        else:
            settings = {
                "epoch_length": epoch_length,
                "artifact_threshold": artifact_threshold,
                "n_surrogates": n_surrogates,
                "density": density,
            }
            resting_frames, resting_blocks, resting = _resting_network(ctx, epochs, starts, names, settings)
            frames += resting_frames
            blocks += resting_blocks
            summary.update(resting)

    onsets = _seizure_onset_times(ctx, merge_within=post)
    if onsets and not names:  # no clean resting epochs left a channel list: onsets use every EEG channel
        names = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude="bads")]
    seizures = []
    if onsets and names:
        onset_frames, seizures, sz_blocks = _onset_networks(ctx, onsets, names, pre=pre, post=post, kind=kind)
        frames += onset_frames
        blocks += sz_blocks
    summary["seizures"] = seizures
    summary["table"] = "network.parquet (" + ", ".join(NETWORK_COLUMNS) + ")"
    network = pd.concat(frames, ignore_index=True) if frames else _frame(kind=[])
    return StepResult(summary=summary, sections=[Section(*_SECTION, blocks)], tables={"network": network})


def _resting_network(ctx, epochs, starts, names, settings: dict) -> tuple[list, list, dict]:
    """Connectivity, graph and resting-state measures of clean epochs: table frames, report blocks, summary entries."""
    sfreq = ctx.raw.info["sfreq"]
    n_surrogates, density = settings["n_surrogates"], settings["density"]
    epochs = _car(epochs)  # common average reference: the recording reference would couple every channel
    table = compute_connectivity(
        epochs, sfreq, names, measures=MEASURES, n_surrogates=n_surrogates, surrogate_measures=("coh", "imcoh", "plv", "wpli")
    )
    feats = resting_state_features(epochs, sfreq, names, table=table)
    graphs = []
    for band in table["band"].unique():
        mat, _ = connectivity_matrix(table, band, "wpli", names)
        g = graph_measures(mat, names, density=density, n_random=10, random_state=0)
        graphs.append(g.assign(band=band))
    graph = pd.concat(graphs, ignore_index=True)
    frames = [
        _frame(
            kind="connectivity",
            band=table["band"],
            measure=table["measure"],
            level="pair",
            node=table["node_a"],
            node_b=table["node_b"],
            value=table["value"],
            significant=table["significant"],
        ),
        _frame(
            kind="graph",
            band=graph["band"],
            measure=graph["measure"],
            level=graph["level"],
            node=graph["name"],
            value=graph["value"],
        ),
        _frame(kind="resting", measure=list(feats.columns), level="recording", value=feats.iloc[0].to_numpy(float)),
    ]
    f = feats.iloc[0]
    glob = graph[graph["level"] == "global"].pivot(index="band", columns="measure", values="value")
    facts = _resting_facts(ctx, f, glob, len(epochs), starts, names, settings)
    blocks = _resting_blocks(table, graph, names, facts, n_surrogates=n_surrogates, density=density)
    summary = {
        "n_clean_epochs": int(len(epochs)),
        "clean_seconds": float(len(epochs) * settings["epoch_length"]),
        "resting": {k: (None if not np.isfinite(v) else float(v)) for k, v in f.items()},
        "global_wpli_graph": {
            b: {k: (None if not np.isfinite(v) else float(v)) for k, v in row.items()} for b, row in glob.iterrows()
        },
    }
    return frames, blocks, summary


def _resting_facts(ctx, f, glob, n_epochs: int, starts, names, settings: dict) -> list[tuple[str, str]]:
    """The key facts of the resting network (epochs used, alpha peak, mean coupling, alpha graph)."""
    epoch_length, artifact_threshold = settings["epoch_length"], settings["artifact_threshold"]
    span = f"{_when(ctx, starts.min())}–{_when(ctx, starts.max() + epoch_length)}" if len(starts) else ""
    return [
        (
            "Clean epochs",
            f"{n_epochs} × {epoch_length:g} s ({n_epochs * epoch_length / 60:.1f} min, spread over {span}); artifact strength < {artifact_threshold:g}",
        ),
        ("Channels", f"{len(names)} EEG, common average reference"),
        ("Alpha peak frequency", f"{f['alpha_peak']:.2f} Hz" if np.isfinite(f["alpha_peak"]) else "no peak in 7–13 Hz"),
        ("Alpha wPLI / coherence / AEC (mean)", f"{f['alpha_wpli']:.3f} / {f['alpha_coh']:.3f} / {f['alpha_aec']:.3f}"),
        ("Theta wPLI / coherence / AEC (mean)", f"{f['theta_wpli']:.3f} / {f['theta_coh']:.3f} / {f['theta_aec']:.3f}"),
        (
            "Alpha wPLI graph",
            f"efficiency {glob.loc['alpha', 'efficiency']:.3f}, clustering {glob.loc['alpha', 'clustering']:.3f}, small-world σ {glob.loc['alpha', 'small_world_sigma']:.2f}, modularity {glob.loc['alpha', 'modularity']:.2f}"
            if "alpha" in glob.index
            else "n/a",
        ),
    ]


def _resting_blocks(table, graph, names, facts, *, n_surrogates: int, density: float) -> list:
    """The report blocks of the resting network: method, facts, figures, significance and hub tables."""
    sig = (
        table[table["measure"].isin(["coh", "imcoh", "plv", "wpli"])].groupby(["band", "measure"])["significant"].mean().unstack()
    )
    sig_table = (100 * sig).round(0).reset_index().rename(columns={"band": "band (% of pairs significant)"})
    hubs = graph[(graph["level"] == "channel") & (graph["measure"] == "hub") & (graph["value"] == 1)]
    hub_rows = (
        hubs.groupby("band")["name"].apply(lambda s: ", ".join(s)).reindex(table["band"].unique()).fillna("none").reset_index()
    )
    hub_rows.columns = ["band", "wPLI hubs (top 20 % strength and betweenness)"]
    return [
        Paragraph(
            "Connectivity between every pair of EEG channels in clean resting epochs, per band. wPLI, imaginary "
            "coherence and orthogonalised AEC ignore zero-lag coupling (volume conduction, common reference); "
            "coherence and PLV do not. Graph measures are of the wPLI network (strongest "
            f"{density:.0%} of edges). Significance (coherence, imaginary coherence, PLV, wPLI): above the 95th percentile of {n_surrogates} phase-randomised surrogates."
        ),
        KeyValues(facts),
        Figure(
            plot_connectivity(table, measures=["wpli", "aec"]),
            dpi=150,
            caption="wPLI and orthogonalised AEC per band: strongest 15 % of edges on 10-20 positions, and the full matrices.",
        ),
        Figure(
            plot_connectome(
                connectivity_matrix(table, "alpha", "wpli", names)[0], names, kind="circle", title="alpha wPLI (circle view)"
            )
            if "alpha" in set(table["band"])
            else plot_connectome(connectivity_matrix(table, table["band"].iloc[0], "wpli", names)[0], names, kind="circle"),
            caption="Alpha-band wPLI connectome, circle view.",
        ),
        Table(
            sig_table,
            caption=f"Share of channel pairs above the surrogate threshold ({n_surrogates} phase-randomised surrogates; 5 % expected by chance).",
        ),
        Table(hub_rows, caption="Hub channels of the wPLI network per band."),
    ]


def _seizure_onset_times(ctx, *, merge_within: float) -> list[float]:
    """Onsets of the detected (seizures step) and annotated seizures, those within ``merge_within`` s of the previous merged."""
    raw = ctx.raw
    onsets = []
    det = ctx.results.get("seizures")
    if det is not None and det.events is not None and len(det.events):
        onsets += seizure_onsets(raw, det.events)
    onsets += seizure_onsets(raw)
    merged = []
    for o in sorted(onsets):
        if not merged or o - merged[-1] > merge_within:
            merged.append(o)
    return merged


def _onset_networks(ctx, onsets: list[float], names: list[str], *, pre: float, post: float, kind: str):
    """The onset network of the first seizures: table frames, per-seizure candidates, report blocks."""
    raw = ctx.raw
    sfreq = raw.info["sfreq"]
    frames, seizures, sz_blocks = [], [], []
    picks = [raw.ch_names.index(n) for n in names]
    for k, onset in enumerate(onsets[:MAX_SEIZURES], start=1):
        start = max(0, int(round((onset - pre) * sfreq)))
        stop = min(raw.n_times, int(round((onset + post) * sfreq)))
        data = _car(raw.get_data(picks=picks, start=start, stop=stop))
        try:
            res = onset_network(data, sfreq, names, onset - start / sfreq, pre=pre, post=post, kind=kind)
        except Exception as exc:  # noqa: BLE001  too close to an edge or too short: say so, keep going
            sz_blocks.append(Note(f"Seizure {k} at {_when(ctx, onset)}: no onset network ({exc})."))
            continue
        r = res.ranking
        for col in ("rank", "score", "involvement_time", "peak_z", "strength_change", "outflow_change"):
            frames.append(_frame(kind="onset", seizure=k, measure=col, level="channel", node=r["channel"], value=r[col]))
        e = res.evolution
        frames.append(
            _frame(kind="onset_evolution", seizure=k, time=e["time"], measure=e["measure"], level="global", value=e["value"])
        )
        top = r.head(5)
        seizures.append({"seizure": k, "onset": float(onset), "candidates": list(top["channel"])})
        sz_blocks.append(Paragraph(f"Seizure {k} at {_when(ctx, onset)}: candidate onset channels {', '.join(top['channel'])}."))
        if k <= 3:
            sz_blocks.append(
                Figure(
                    plot_onset(res, title=f"Seizure {k} at {_when(ctx, onset)}"),
                    caption="Onset network: early-ictal onset-band coherence (node colour: change in strength from the "
                    "pre-ictal window), the candidate onset channels with their involvement time, and the global network around onset.",
                )
            )
    if seizures:
        sz_blocks.insert(
            0,
            Note(
                "Candidate onset channels rank earliest fast-activity involvement, the change in coherence strength and in "
                "directed outflow (PDC). On one intracranial seizure with a clinically defined onset zone the ranking was "
                "only moderately better than chance (docs/network.md): a hypothesis to check on the EEG, never a localisation.",
                level="info",
            ),
        )
    return frames, seizures, sz_blocks
