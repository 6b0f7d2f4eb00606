"""SQLAlchemy mapping of the pointage tables, every column as `sql/schema_pointage.sql` creates it.

The SQL file is the source of truth (a DBA runs it); these models mirror it so that statements are
typed. Columns marked "trigger" belong to the worked-time trigger: the service never writes them.
The ERP's own `pointage` and `pointage_resume` (one row per employee and day / month) are derived
by the triggers; the service only reads them in tests, so they are not mapped here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Equipe(Base):
    """The ERP's employees; only the columns we read or add are mapped."""

    __tablename__ = "equipe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nom: Mapped[str | None] = mapped_column(Text)
    prenom: Mapped[str | None] = mapped_column(Text)
    timemoto_user_id: Mapped[str | None] = mapped_column(Text, unique=True)
    # trigger: the most recent month with punches, in hours (the ERP's) and in minutes (ours)
    temps_travaille_mois: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=0)
    minutes_travaillees_mois: Mapped[int] = mapped_column(Integer, default=0)


class Pointage(Base):
    """One clocking."""

    __tablename__ = "pointage_horodatage"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, unique=True)
    timemoto_user_id: Mapped[str] = mapped_column(Text)
    equipe_id: Mapped[int | None] = mapped_column(ForeignKey("equipe.id"))
    type_pointage: Mapped[str] = mapped_column(Text)
    horodatage: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    horodatage_brut: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fuseau_horaire: Mapped[str] = mapped_column(Text)
    date_travail: Mapped[date] = mapped_column(Date)
    ignore: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recu_le: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # trigger: the punch's place in the order of a user's punches, and what it contributes
    rang: Mapped[int] = mapped_column(SmallInteger)
    jour_rattache: Mapped[date | None] = mapped_column(Date)
    travail_us: Mapped[int] = mapped_column(BigInteger, default=0)
    anomalie: Mapped[bool] = mapped_column(Boolean, default=False)
    poste_ferme: Mapped[bool] = mapped_column(Boolean, default=False)
    motif_anomalie: Mapped[str | None] = mapped_column(Text)
    pause_us: Mapped[int | None] = mapped_column(BigInteger)


class PointageSupprime(Base):
    """Delivery ids of deleted punches: sent again, they stay deleted (trigger-maintained)."""

    __tablename__ = "pointage_supprime"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    supprime_le: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PointageResume(Base):
    """One TimeMoto user's month, §3's exact figures (trigger-maintained)."""

    __tablename__ = "pointage_resume_mensuel"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    timemoto_user_id: Mapped[str] = mapped_column(Text)
    equipe_id: Mapped[int | None] = mapped_column(ForeignKey("equipe.id"))
    mois: Mapped[date] = mapped_column(Date)
    minutes_travaillees: Mapped[int] = mapped_column(Integer)
    jours_travailles: Mapped[int] = mapped_column(Integer)
    nb_pointages: Mapped[int] = mapped_column(Integer)
    nb_anomalies: Mapped[int] = mapped_column(Integer)
    mis_a_jour_le: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    travail_us: Mapped[int] = mapped_column(BigInteger, default=0)


class PointageEvenement(Base):
    """The inbox: deliveries that are not new punches, kept as sent; a correction's outcome."""

    __tablename__ = "pointage_evenement"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, unique=True)
    event: Mapped[str] = mapped_column(Text)
    statut: Mapped[str] = mapped_column(Text, default="ignore")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recu_le: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pointage_id: Mapped[int | None] = mapped_column(BigInteger)
    motif: Mapped[str | None] = mapped_column(Text)
