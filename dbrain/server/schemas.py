"""Request and response bodies of the API (they make the OpenAPI spec)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .roles import ROLES, SITE_ROLES

#: A role a site's API can give (never the instance administrator: only ``dbrain admin`` creates it).
Role = Literal[SITE_ROLES]
#: Any role a user can have.
AnyRole = Literal[ROLES]


class Problem(BaseModel):
    """An error: one line saying what is wrong."""

    detail: str


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: AnyRole
    site_id: int | None = Field(description="None for the instance administrator.")
    active: bool


class MeOut(BaseModel):
    user: UserOut
    csrf_token: str | None = None


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=10, max_length=1000)
    role: Role
    site_id: int = Field(ge=1, le=2_147_483_647)


class UserPatch(BaseModel):
    active: bool | None = None
    role: Role | None = None
    password: str | None = Field(default=None, min_length=10, max_length=1000)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=10, max_length=1000)


class SiteIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked: bool


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; send as 'Authorization: Bearer <token>'.")


class Channel(BaseModel):
    name: str
    type: str
    sfreq: float


class Identity(BaseModel):
    """The patient's identity from the original header (clinicians of the same site only)."""

    model_config = ConfigDict(from_attributes=True)
    patient_code: str | None = None
    name: str | None = None
    birthdate: str | None = None
    sex: str | None = None
    header_patient: str | None = None


class RecordingOut(BaseModel):
    id: int
    site_id: int
    patient_id: int
    pseudonym: str
    sha256: str = Field(description="SHA-256 of the stored, de-identified file.")
    size: int
    format: str
    n_channels: int
    sfreq: float
    duration: float
    start_time: str | None = None
    channels: list[Channel]
    created_at: dt.datetime
    ledger_index: int | None = None


class RecordingIdentityOut(BaseModel):
    recording_id: int
    patient_id: int
    pseudonym: str
    original_filename: str
    original_sha256: str
    header_recording: str | None = None
    identity: Identity | None = None


class PatientOut(BaseModel):
    id: int
    site_id: int
    pseudonym: str
    n_recordings: int


class AnalysisIn(BaseModel):
    only: list[str] = Field(default_factory=list, max_length=20)
    skip: list[str] = Field(default_factory=list, max_length=20)


class JobOut(BaseModel):
    id: int
    status: str
    attempts: int
    max_attempts: int
    progress: float
    message: str
    error: str | None = None


class ResultFile(BaseModel):
    sha256: str
    size: int


class AnalysisOut(BaseModel):
    id: int
    recording_id: int
    status: str
    only: list[str]
    skip: list[str]
    error: str | None = None
    results: dict[str, ResultFile]
    n_events: int | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    job: JobOut | None = None
    ledger_index: int | None = None
    spikes: str | None = Field(
        default=None,
        description="A finished analysis's spike count as page 1 of its report words it: at or above which cut-off, and "
        "how many scored candidates lie below it (none at or above the cut-off does not mean no spikes).",
    )
    screens: dict[str, str] | None = Field(
        default=None,
        description="A finished analysis's screens (dementia, epilepsy, ADHD) as page 1 of its report words them: outcome, "
        "probability with its 5-95 % interval and threshold, 'research screen, not a diagnosis' and the people the model "
        "was validated on; or 'not applicable'/'insufficient data' with the reason.",
    )


class EventOut(BaseModel):
    onset: float
    time: str = Field(
        default="",
        description="The onset written the one dbrain way (clock time, 'D2 11:26:10' on multi-day recordings, '+h:mm:ss' "
        "when the start is unknown), as the report, events.tsv and the viewer show it.",
    )
    duration: float
    description: str
    source: str = Field(description="'file' (in the recording), 'analysis' (a detector) or 'annotation' (a user).")
    channel: str | None = None
    confidence: float | None = None
    id: int | None = None
    analysis_id: int | None = Field(default=None, description="The analysis that detected it (source 'analysis').")
    review: Literal["accepted", "rejected"] | None = Field(default=None, description="A reviewer's triage of a detected event.")
    cutoff: float | None = Field(default=None, description="Detected spikes: the confidence cut-off the detector reported from.")
    below_cutoff: int | None = Field(
        default=None, description="Detected spikes: scored candidates below that cut-off (not listed)."
    )


class EventReviewIn(BaseModel):
    onset: float = Field(ge=0, le=1e7, description="The detected event's onset, s (as in the events list).")
    event_type: str = Field(min_length=1, max_length=200, description="Its eventType, e.g. 'sz'.")
    channel: str | None = Field(default=None, max_length=200)
    decision: Literal["accepted", "rejected"]


class EventReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    analysis_id: int
    recording_id: int
    onset: float
    duration: float
    event_type: str
    channel: str | None = None
    decision: str
    reviewer_id: int
    reviewed_at: dt.datetime


class AnnotationIn(BaseModel):
    onset: float = Field(ge=0, le=1e7)
    duration: float = Field(default=0.0, ge=0, le=1e7)
    description: str = Field(min_length=1, max_length=500)
    channels: list[str] = Field(default_factory=list, max_length=300)


class AnnotationPatch(BaseModel):
    onset: float | None = Field(default=None, ge=0, le=1e7)
    duration: float | None = Field(default=None, ge=0, le=1e7)
    description: str | None = Field(default=None, min_length=1, max_length=500)
    channels: list[str] | None = Field(default=None, max_length=300)


class AnnotationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    recording_id: int
    onset: float
    duration: float
    description: str
    channels: list[str]
    author_id: int
    created_at: dt.datetime
    updated_at: dt.datetime


class Filters(BaseModel):
    highpass: float | None = None
    lowpass: float | None = None
    notch: float | None = None


class WindowOut(BaseModel):
    start: float
    duration: float
    sfreq: float
    recording_duration: float
    decimation: Literal["none", "minmax"]
    montage: str
    channels: list[str]
    groups: list[list[str]]
    skipped: list[str]
    units: str
    filters: Filters
    times: list[float]
    data: list[list[float]]


class TableOut(BaseModel):
    name: str
    columns: list[str]
    n_rows: int = Field(description="Rows in the stored table.")
    step: int = Field(description="Every step-th row is returned.")
    rows: list[list[float | int | str | bool | None]]


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    analysis_id: int
    recording_id: int
    sha256: str | None = None
    status: str
    signed_by: int | None = None
    signed_at: dt.datetime | None = None
    # Receipts of the report's provenance: the analysis-run entry, then the report-signed entry once signed.
    provenance: list[dict[str, Any]] = []
    # The reviewers' triage of the detected events (accepted / rejected / not reviewed, in total and per type):
    # what the signing clinician confirms together with the report, and what its ledger entry records.
    triage: dict[str, Any] = {}


class CheckpointOut(BaseModel):
    tree_size: int
    checkpoint: str
    verifier_keys: list[str]


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    time: dt.datetime
    user_id: int | None = None
    username: str | None = None
    site_id: int | None = None
    action: str
    object_type: str | None = None
    object_id: int | None = None
    patient_id: int | None = None
    outcome: str
    detail: dict


#: A derivation of a user montage (as ``dbrain.server.window`` forms them): ``A-B``, ``A-AVG``, ``A-LAP`` or ``A``.
_DERIVATION_PATTERN = r"^[A-Za-z0-9'_.]{1,16}(-[A-Za-z0-9'_.]{1,16})?$"
Derivation = Annotated[str, StringConstraints(pattern=_DERIVATION_PATTERN)]
MontageName = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f<>]+$")]
#: A screen as the viewer names it: ``<width>x<height>@<devicePixelRatio>`` (CSS pixels).
ScreenKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}x[0-9]{2,5}@[0-9]{1,2}(\.[0-9]{1,4})?$")]
ChannelLabel = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f<>]+$")]
#: The live ward strip's sensitivities, µV per row (``STRIP_STEPS`` of ``static/ward-draw.js``; docs/ward.md).
WARD_STRIP_STEPS = (20, 50, 100, 200, 500, 1000, 2000, 5000)


class UserSettingsIn(BaseModel):
    """A user's viewer settings (the whole set: a PUT replaces it)."""

    model_config = ConfigDict(extra="forbid")
    montages: dict[MontageName, Annotated[list[Derivation], Field(min_length=1, max_length=128)]] = Field(
        default_factory=dict,
        max_length=50,
        description="User montages: name -> derivations ('Fp1-F7', 'C3-AVG', 'C3-LAP', 'Cz').",
    )
    calibrations: dict[ScreenKey, Annotated[float, Field(gt=0.01, lt=2.0)]] = Field(
        default_factory=dict, max_length=20, description="Screen calibration, mm per CSS pixel, per screen ('1920x1080@1')."
    )
    channel_gains: dict[ChannelLabel, Annotated[float, Field(ge=0.1, le=10000)]] = Field(
        default_factory=dict, max_length=256, description="Per-channel sensitivity, µV/mm, by channel label."
    )
    ward_uv_per_row: Literal[WARD_STRIP_STEPS] | None = Field(
        None, description="The live ward's EEG strip sensitivity, µV from one channel's baseline to the next (None: 100)."
    )


class UserSettingsOut(UserSettingsIn):
    updated_at: dt.datetime | None = None


class UserSettingsPatch(BaseModel):
    """A change to some of a user's settings (JSON merge patch, RFC 7396): only the fields sent change.

    In a map (``montages``, ``calibrations``, ``channel_gains``) each key sent is set, or removed when its
    value is null; keys not sent are kept. ``ward_uv_per_row``: null means the default. A map sent as null
    is emptied. The settings after the change must still be valid :class:`UserSettingsIn`.
    """

    model_config = ConfigDict(extra="forbid")
    montages: dict[MontageName, Annotated[list[Derivation], Field(min_length=1, max_length=128)] | None] | None = Field(
        None, max_length=50
    )
    calibrations: dict[ScreenKey, Annotated[float, Field(gt=0.01, lt=2.0)] | None] | None = Field(None, max_length=20)
    channel_gains: dict[ChannelLabel, Annotated[float, Field(ge=0.1, le=10000)] | None] | None = Field(None, max_length=256)
    ward_uv_per_row: Literal[WARD_STRIP_STEPS] | None = None

    def apply(self, current: dict) -> dict:
        """``current`` (a stored settings dict) with this change applied (not validated)."""
        out = dict(current)
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "ward_uv_per_row":
                out[name] = value
            elif value is None:
                out[name] = {}
            else:
                merged = dict(out.get(name) or {})
                for key, v in value.items():
                    if v is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = v
                out[name] = merged
        return out
