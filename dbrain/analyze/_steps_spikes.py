"""The spikes step: interictal discharges, rates by region on a head map, and the spike-review clusters."""

from __future__ import annotations

from ..detect.spikes import SpikeDetector, plot_spike_cluster, plot_spike_rate_map, review_spikes, spike_rates
from ..detect.spikes._detector import _MIN_SFREQ
from ..engine._spikes import SpikeStep
from ..errors import RecordingError
from ..events import EVENT_COLUMNS
from ..report import Figure, KeyValues, Note, Section, Table
from ..report._clinical import MIN_RATE_DURATION, count_rate_text
from ._registry import AnalysisContext, StepResult, recording_clock, register_step, unusable_reason


class _SpikeStep(SpikeStep):
    """The engine's spike step, then the review clusters, rates and the section of the whole-recording form."""

    def finish(self) -> StepResult:
        base = super().finish()
        computed = base.summary.get("computed")
        spikes = base.data["spikes"] if computed else None
        return spikes_result(self.context, self.params_["sensitivity"], self.detector, spikes, base.summary.get("reason"))


#: Clusters drawn in the report (all are listed in the table).
MAX_CLUSTER_PAGES = 6
_MIN_DURATION = 10.0


@register_step(
    "spikes",
    "3",
    description="Interictal spikes and sharp waves: rate by region on a head map, review clusters by focus.",
    params={"sensitivity": "medium"},
    stream=_SpikeStep,
)
def spikes_step(ctx: AnalysisContext, sensitivity: str = "medium") -> StepResult:
    """Interictal spikes and sharp waves: rate by region on a head map, review clusters by focus.

    ``dbrain analyze`` runs the streaming form (:class:`dbrain.engine.SpikeStep`: the detector's
    reading and filtering in the single pass); this is the whole-recording form it is tested against.
    """
    raw = ctx.raw
    reason = unusable_reason(raw, min_sfreq=_MIN_SFREQ, min_duration=_MIN_DURATION)
    detector = spikes = None
    if reason is None:
        try:
            detector = SpikeDetector(sensitivity).fit()
            spikes = detector.detect(raw)
        except RecordingError as exc:
            reason = str(exc)
    return spikes_result(ctx, sensitivity, detector, spikes, reason)


def spikes_result(ctx: AnalysisContext, sensitivity: str, detector, spikes, reason: str | None) -> StepResult:
    """The step's result from the detector's spike table (file and stream alike), or from the reason it could not run."""
    raw = ctx.raw
    duration = raw.n_times / raw.info["sfreq"]
    if reason is not None:
        return StepResult(
            summary={"computed": False, "reason": reason},
            sections=[Section("Spikes", "spikes", [Note(f"No spike detection: {reason}.")])],
        )
    review = review_spikes(raw, spikes)
    rates = spike_rates(spikes, duration)
    clusters = review.to_frame()
    hours = duration / 3600.0
    facts = [
        ("Sensitivity", f"{sensitivity} (confidence ≥ {detector.threshold_:g})"),
        ("Below the cut-off", f"{spikes.attrs.get('n_below_cutoff', 0)} scored candidate(s) not reported"),
        ("Electrodes", f"{detector.n_channels_in_} (common average; checked in double banana)"),
        ("Spikes and sharp waves", count_rate_text(len(spikes), duration)),
        ("Clusters (foci)", str(len(review.clusters))),
    ]
    if len(review.clusters):
        top = review.clusters[0]
        facts.append(("Main focus", f"{top.focus} ({top.region}): {top.count} detections"))
    blocks = [
        Note(
            "Automated spike detection is decision support only: confirm or reject each cluster on its averaged "
            "spike and examples below, then in the EEG."
        ),
        KeyValues(facts),
    ]
    if len(spikes):
        blocks.append(
            Figure(
                plot_spike_rate_map(rates, review.channels, title="Spike rate"),
                caption="Spikes per hour by peak electrode (head map) and by region.",
            )
        )
        show = clusters.copy()
        show["per_hour"] = show["per_hour"].round(1)
        if duration < MIN_RATE_DURATION:  # the count is the figure; a rate per hour from minutes is not
            show = show.drop(columns="per_hour")
        show["amplitude"] = show["amplitude"].round(0)
        show["confidence"] = show["confidence"].round(2)
        show["cluster"] = show["cluster"] + 1
        blocks.append(Table(show, max_rows=20, caption="Spike-review clusters (median amplitude in µV)."))
        for cluster in review.clusters[:MAX_CLUSTER_PAGES]:
            blocks.append(
                Figure(
                    plot_spike_cluster(review, cluster, start=recording_clock(ctx)[0]),
                    caption=f"Cluster {cluster.label + 1}: averaged spike of all electrodes, field at the peak, "
                    "representative detections (clock time).",
                )
            )
        if len(review.clusters) > MAX_CLUSTER_PAGES:
            blocks.append(
                Note(f"{len(review.clusters) - MAX_CLUSTER_PAGES} smaller cluster(s) are listed but not drawn.", "info")
            )
    table = spikes.copy()
    table["cluster"] = review.labels + 1 if len(spikes) else []
    summary = {
        "computed": True,
        "sensitivity": sensitivity,
        "cutoff": float(detector.threshold_),
        "n_below_cutoff": int(spikes.attrs.get("n_below_cutoff", 0)),
        "n_spikes": int(len(spikes)),
        "per_hour": float(len(spikes) / hours),
        "n_clusters": int(len(review.clusters)),
        "clusters": [
            {"cluster": int(r.cluster) + 1, "focus": r.focus, "region": r.region, "count": int(r["count"])}
            for _, r in clusters.iterrows()
        ],
        "per_region_per_hour": {r["name"]: float(r["per_hour"]) for _, r in rates[rates["level"] == "region"].iterrows()},
        "table": "spikes.parquet (one row per detection)",
    }
    return StepResult(
        summary=summary,
        events=spikes[EVENT_COLUMNS] if len(spikes) else None,
        sections=[Section("Spikes", "spikes", blocks)],
        tables={"spikes": table},
    )
