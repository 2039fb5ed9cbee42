from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class PrincipalKind(StrEnum):
    PERSON = "person"
    MACHINE = "machine"


class BusinessUnit(Base):
    __tablename__ = "business_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("business_unit.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Principal(Base):
    """Anyone or anything that acts: a person, or a machine such as an alert source."""

    __tablename__ = "principal"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # People are known by e-mail; machines by a unique handle kept in the same column.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    jurisdiction: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # Chat ids ("kofi.mensah", without "@"), JSON list: public text must never name them.
    handles: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Team(Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_member"
    __table_args__ = (UniqueConstraint("team_id", "principal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Service(Base):
    """A service with its SLA, which is what decides an outage from a performance issue."""

    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 4", name="tier_range"),
        CheckConstraint(
            "availability_target_pct > 0 AND availability_target_pct <= 100",
            name="availability_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"), index=True)
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    tier: Mapped[int] = mapped_column(Integer)
    availability_target_pct: Mapped[float] = mapped_column(Float)
    latency_threshold_ms: Mapped[int | None] = mapped_column(Integer)
    latency_outage_ms: Mapped[int | None] = mapped_column(Integer)
    # The name shown on the public status page; NULL keeps the service off it.
    public_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceDependency(Base):
    """`service_id` depends on `depends_on_id`: when the latter fails, the former may too.

    The edges form a directed graph without cycles (refused on write, govsvc.org.dependencies),
    which the alert correlation walks both ways to put a cascading failure into one incident."""

    __tablename__ = "service_dependency"
    __table_args__ = (
        UniqueConstraint("service_id", "depends_on_id"),
        CheckConstraint("service_id <> depends_on_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique constraint's index leads with it.
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    depends_on_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Customer(Base):
    """A customer of the organisation: its name never appears in any public text."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    added_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
