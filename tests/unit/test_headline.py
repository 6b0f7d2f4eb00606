"""The status page's headline never says all is well when it is not (docs/contract.md §6): over
every combination of the facts, green exactly when the database takes deliveries, nothing waits,
nothing is stranded, nothing went to the quarantine in 24 hours and no alert is raised; what is
wrong is said, with the cause in French, the count waiting, that nothing is lost, and an action."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from service.domain.diagnosis import Cause
from service.domain.headline import ALL_WELL, HeadlineFacts, headline, typographie

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
counts = st.one_of(st.none(), st.integers(min_value=0, max_value=3), st.just(1200))
causes = st.one_of(st.none(), st.sampled_from([cause.value for cause in Cause]))
# The recovery names a cause only while the database is away (and none before the first probe).
database = st.one_of(
    st.tuples(st.just(False), causes),
    st.tuples(st.sampled_from([True, None]), st.none()),
)
facts = st.builds(
    lambda db, **rest: HeadlineFacts(database_up=db[0], cause=db[1], **rest),
    db=database,
    database_since=st.just(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
    cause_detail=st.one_of(st.none(), st.just("connection refused")),
    pending=counts,
    oldest_pending=st.none(),
    stranded=counts,
    quarantined_24h=counts,
    alerts=st.lists(
        st.sampled_from(["TimeMoto n'appelle plus", "Base indisponible"]), max_size=2
    ).map(tuple),
    role=st.just("pointage"),
)


def all_is_well(f: HeadlineFacts) -> bool:
    return (
        f.database_up is True
        and f.cause is None
        and f.pending == 0
        and f.stranded == 0
        and f.quarantined_24h == 0
        and not f.alerts
    )


@given(facts)
def test_green_exactly_when_all_is_well(f: HeadlineFacts) -> None:
    shown = headline(f, NOW)
    assert shown.all_well == all_is_well(f)
    assert (typographie(ALL_WELL) in shown.title) == all_is_well(f)
    if not shown.all_well:
        assert shown.lines or f.alerts  # it says what is wrong
        assert "Tout fonctionne" not in shown.title + " ".join(shown.lines)


@given(facts)
def test_red_exactly_while_an_alert_is_raised(f: HeadlineFacts) -> None:
    assert (headline(f, NOW).level == "bad") == bool(f.alerts)


@given(facts)
def test_a_database_away_is_named_with_its_cause_and_what_to_do(f: HeadlineFacts) -> None:
    shown = headline(f, NOW, since_text="depuis 10:00 (il y a 30 min)")
    if f.database_up is False or f.cause is not None:
        cause = Cause(f.cause) if f.cause else Cause.OTHER
        assert typographie(cause.advice.titre) in shown.title
        assert any("depuis 10:00" in line for line in shown.lines)
        assert any(line.startswith("À faire") for line in shown.actions)
    if f.pending:
        text = shown.title + " ".join(shown.lines)
        assert f"{f.pending} livraison" in text and "rien n'est perdu" in text
    if f.pending is None or f.stranded is None:
        assert not shown.all_well  # what could not be read is unknown, never taken for 0


def test_the_french_is_typeset() -> None:
    shown = headline(
        HeadlineFacts(False, NOW, "timeout", None, 30, None, 0, 0), NOW, since_text="depuis 9:00"
    )
    assert shown.title == (
        "Base de données indisponible\u00a0: la base ne répond pas dans le délai "
        "(DB_CONNECT_TIMEOUT) — 30 livraisons en attente, rien n'est perdu"
    )
    assert all(" :" not in line for line in [shown.title, *shown.lines, *shown.actions])


WELL = HeadlineFacts(True, NOW, None, None, 0, None, 0, 0)


def test_each_fact_alone_turns_the_headline_from_green() -> None:
    from dataclasses import replace

    assert headline(WELL, NOW).all_well
    for changed in (
        replace(WELL, database_up=False, cause="timeout"),
        replace(WELL, database_up=None),
        replace(WELL, pending=1),
        replace(WELL, pending=None),
        replace(WELL, stranded=2),
        replace(WELL, stranded=None),
        replace(WELL, quarantined_24h=1),
        replace(WELL, quarantined_24h=None),
        replace(WELL, alerts=("TimeMoto n'appelle plus",)),
    ):
        assert not headline(changed, NOW).all_well, changed
