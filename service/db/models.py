"""SQLAlchemy mapping of the tables we write; `sql/schema_pointage.sql` is what creates them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Pointage(Base):
    __tablename__ = "pointage"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, unique=True)
    timemoto_user_id: Mapped[str] = mapped_column(Text)
    equipe_id: Mapped[int | None] = mapped_column(Integer)
    type_pointage: Mapped[str] = mapped_column(Text)
    horodatage: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    horodatage_brut: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fuseau_horaire: Mapped[str] = mapped_column(Text)
    date_travail: Mapped[date] = mapped_column(Date)
    ignore: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recu_le: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PointageEvenement(Base):
    """The inbox of deliveries that are not new punches."""

    __tablename__ = "pointage_evenement"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, unique=True)
    event: Mapped[str] = mapped_column(Text)
    statut: Mapped[str] = mapped_column(Text, default="ignore")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recu_le: Mapped[datetime] = mapped_column(DateTime(timezone=True))
