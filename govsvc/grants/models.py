from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class Grant(Base):
    """A role held by a principal in a business unit (and its children), or everywhere."""

    __tablename__ = "role_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    # NULL means every business unit ("*" in the policy language).
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_unit.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    granted_by: Mapped[str] = mapped_column(String(320))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(320))
