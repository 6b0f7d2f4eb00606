"""Parsing deliveries into `pointage` rows, without a server."""

import json
from datetime import UTC, date, datetime

import pytest

from service.domain.delivery import InvalidDelivery, NotJson, decode, parse_delivery, type_pointage
from tests.support.samples import SAMPLE_PATH, sample_delivery


def sample() -> dict:
    return sample_delivery()


def test_the_sample_delivery_becomes_an_entree_at_the_rounded_instant() -> None:
    delivery = parse_delivery(decode(SAMPLE_PATH.read_bytes()))
    punch = delivery.punch
    assert punch is not None
    assert punch.event_id == "tm_3f9c2a7e51b04d8c9e6a1b2c3d4e5f60"
    assert punch.timemoto_user_id == "b2e4c6a8-1f3d-4b5e-8a7c-9d0e1f2a3b4c"
    assert punch.type_pointage == "entree"
    # 08:00 in Africa/Tunis (UTC+1, no DST) is 07:00 UTC; timeLogged was 07:58:41 local.
    assert punch.horodatage == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert punch.horodatage_brut == datetime(2026, 11, 30, 6, 58, 41, tzinfo=UTC)
    assert punch.fuseau_horaire == "Africa/Tunis"
    assert punch.date_travail == date(2026, 11, 30)
    assert punch.ignore is False


def test_record_hash_beyond_2_53_and_unknown_fields_are_kept_exactly() -> None:
    document = sample()
    document["data"]["recordHash"] = -9223372036854775807
    document["data"]["somethingNew"] = {"nested": [1, 2]}
    document["topLevelExtra"] = True
    body = json.dumps(document).encode()
    punch = parse_delivery(decode(body)).punch
    assert punch is not None
    assert punch.payload["data"]["recordHash"] == -9223372036854775807
    assert punch.payload["data"]["somethingNew"] == {"nested": [1, 2]}
    assert punch.payload["topLevelExtra"] is True


def test_local_date_is_the_date_in_the_punch_zone_not_utc() -> None:
    document = sample()
    document["data"].update(timeZone="Europe/Paris", timeLoggedRounded="2026-07-01T00:30:00")
    punch = parse_delivery(document).punch
    assert punch is not None
    assert punch.horodatage == datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
    assert punch.date_travail == date(2026, 7, 1)


def test_time_logged_is_the_instant_when_rounded_is_missing() -> None:
    document = sample()
    document["data"]["timeLoggedRounded"] = None
    punch = parse_delivery(document).punch
    assert punch is not None
    assert punch.horodatage == datetime(2026, 11, 30, 6, 58, 41, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action_id", "clocking_type", "expected"),
    [
        (0, "In", "entree"),
        (1, "Out", "sortie"),
        (2, None, "debut_pause"),
        (3, None, "fin_pause"),
        (7, "In", "inconnu"),
        (None, "Out", "sortie"),
        (None, "Dance", "inconnu"),
        (None, None, "inconnu"),
    ],
)
def test_type_pointage(action_id: int | None, clocking_type: str | None, expected: str) -> None:
    assert type_pointage(action_id, clocking_type) == expected


def test_ignored_clocking_is_flagged() -> None:
    document = sample()
    document["data"]["recordIgnored"] = True
    punch = parse_delivery(document).punch
    assert punch is not None and punch.ignore


def test_other_events_have_no_punch_and_need_no_attendance_data() -> None:
    delivery = parse_delivery({"id": "tm_u1", "event": "user.updated", "data": {"x": 1}})
    assert delivery.punch is None
    assert delivery.event == "user.updated"


def test_not_json() -> None:
    with pytest.raises(NotJson):
        decode(b"{not json")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.pop("id"), "id"),
        (lambda d: d.update(id=""), "id"),
        (lambda d: d.update(id=42), "id"),
        (lambda d: d.pop("event"), "event"),
        (lambda d: d.update(data="nope"), "data"),
        (lambda d: d["data"].pop("userId"), "userId"),
        (lambda d: d["data"].update(timeZone="Mars/Olympus"), "timeZone"),
        (lambda d: d["data"].update(timeLogged="yesterday", timeLoggedRounded=None), "timeLogged"),
        (lambda d: d["data"].update(timeLogged=None, timeLoggedRounded=None), "missing"),
        (lambda d: d["data"].update(recordHash="big"), "recordHash"),
    ],
)
def test_invalid_deliveries_say_why(change, reason: str) -> None:
    document = sample()
    change(document)
    with pytest.raises(InvalidDelivery, match=reason):
        parse_delivery(document)


def test_a_json_array_is_not_a_delivery() -> None:
    with pytest.raises(InvalidDelivery):
        parse_delivery([1, 2])
