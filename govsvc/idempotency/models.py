from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class IdempotencyKey(Base):
    """One caller's key, the request it was first used for, and the answer that request got."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("principal_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keys are the caller's own: the same key from someone else is another key.
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 over the document, operation name and variables: a key names one request.
    request_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    # Who is running it now; a finished or released claim must match it.
    claim_token: Mapped[str] = mapped_column(String(32))
    # An in-flight claim not finished by then was abandoned (its process died).
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
