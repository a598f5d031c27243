"""The neurofeedback tables of the data centre (courses, sessions, allocations, outcomes).

* ``nfb_courses``: a course of N sessions of one protocol for one patient of a
  site, with its safety screening state and the *commitment* to its sham/real
  allocation (sealed in the ledger at creation, see :mod:`.nfb_service`);
* ``nfb_allocations``: the allocation itself (arm and nonce). No API answer to
  a therapist or patient ever reads this table; only the unblinding action does;
* ``nfb_sessions``: one session of a course (plan, state, results in the object
  store, the one-time display code's hash);
* ``nfb_outcomes``: rating scales and Go/No-Go results at pre/mid/post.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UTCDateTime, utcnow


class NfbCourse(Base):
    __tablename__ = "nfb_courses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(80))
    n_sessions: Mapped[int] = mapped_column(Integer)
    #: Planned block layout of every session: ``[{"kind": "baseline"|"training"|"transfer", "minutes": m}, …]``.
    plan: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: SHA-256 of the canonical JSON ``{"course", "arm", "nonce"}``: the sealed allocation.
    allocation_commitment: Mapped[str] = mapped_column(String(64))
    #: ``screening`` (not yet screened) | ``blocked`` (findings) | ``cleared`` | ``overridden``.
    safety_status: Mapped[str] = mapped_column(String(20), default="screening")
    safety: Mapped[dict] = mapped_column(JSON, default=dict)
    safety_override_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    safety_override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    unblinded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    unblinded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unblind_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NfbAllocation(Base):
    __tablename__ = "nfb_allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("nfb_courses.id"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    arm: Mapped[str] = mapped_column(String(10))
    nonce: Mapped[str] = mapped_column(String(64))
    #: The per-course seed the arm was drawn with and the sham fraction (the allocation rule).
    seed: Mapped[str] = mapped_column(String(64))
    sham_fraction: Mapped[float] = mapped_column(Float)


class NfbSession(Base):
    __tablename__ = "nfb_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("nfb_courses.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    #: ``planned`` | ``running`` | ``done`` | ``stopped`` | ``failed``.
    status: Mapped[str] = mapped_column(String(20), default="planned")
    source: Mapped[str] = mapped_column(String(500))
    speed: Mapped[float] = mapped_column(Float, default=1.0)
    blocks: Mapped[list] = mapped_column(JSON, default=list)
    target_reward_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The session whose recorded feedback drives a sham session's display (never serialised).
    sham_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    code_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    display_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: ``{file name: {"sha256", "size"}}`` in the object store (session.json, feedback.parquet).
    results: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NfbOutcome(Base):
    __tablename__ = "nfb_outcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("nfb_courses.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: ``adhd-rs-parent`` | ``adhd-rs-teacher`` | ``cgi-i`` | ``gonogo``.
    kind: Mapped[str] = mapped_column(String(30))
    #: ``pre`` | ``mid`` | ``post``.
    timepoint: Mapped[str] = mapped_column(String(10))
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    scores: Mapped[dict] = mapped_column(JSON, default=dict)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    via_display: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
