"""`attendance.updated` / `attendance.deleted`: which stored punch a correction names, the
matching rules alone (applied over HTTP in integration/test_corrections.py)."""

from __future__ import annotations

from service.domain.corrections import Candidate, ClockingRef, Match, Unapplied, clocking_ref, match

REF = ClockingRef("u", "2026-11-30T06:58:43.1274410Z", -17)


def test_time_inserted_names_the_clocking_even_when_the_hash_changed() -> None:
    candidates = [Candidate(1, "2026-11-30T06:58:43.1274410Z", 5), Candidate(2, "other", 6)]
    assert match(REF, candidates) == Match(1)


def test_record_hash_decides_when_time_inserted_finds_nothing() -> None:
    assert match(REF, [Candidate(3, "other", -17)]) == Match(3)


def test_two_keys_naming_two_punches_are_not_guessed_between() -> None:
    candidates = [Candidate(1, REF.time_inserted, 5), Candidate(2, "other", -17)]
    assert isinstance(match(REF, candidates), Unapplied)


def test_several_punches_with_one_time_inserted_are_narrowed_by_the_hash_or_left() -> None:
    twins = [Candidate(1, REF.time_inserted, 5), Candidate(2, REF.time_inserted, -17)]
    assert match(REF, twins) == Match(2)
    ambiguous = [Candidate(1, REF.time_inserted, 5), Candidate(2, REF.time_inserted, 6)]
    assert match(REF, ambiguous) == Unapplied(
        "2 stored punches of this user share this `timeInserted`"
    )


def test_nothing_found_is_unapplied() -> None:
    assert isinstance(match(REF, []), Unapplied)


def test_a_correction_without_user_or_keys_names_nothing() -> None:
    assert isinstance(clocking_ref({"data": {"timeInserted": "x"}}), Unapplied)
    assert isinstance(clocking_ref({"data": {"userId": "u"}}), Unapplied)
    assert clocking_ref({"data": {"userId": "u", "recordHash": 4}}) == ClockingRef("u", None, 4)
