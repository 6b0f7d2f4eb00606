"""The simulator's `export-report` (the export TimeMoto would give for what it generated) read
back by `reconcile`'s parser: the same clockings, and compared with a history that lacks some,
exactly those are missing."""

from __future__ import annotations

import random
from datetime import UTC, date
from pathlib import Path

from service.domain.reconcile import StoredPunch, compare
from service.reconcile import read_export
from simulator import export_report, generator
from simulator.expectations import punches


def key(p: object) -> tuple[object, ...]:
    from service.domain.delivery import Punch

    assert isinstance(p, Punch)
    return (
        p.timemoto_user_id,
        p.horodatage.astimezone(UTC).replace(microsecond=0),
        p.type_pointage,
        p.ignore,
    )


def test_the_report_of_a_generated_week_reads_back_as_its_clockings(tmp_path: Path) -> None:
    generated = generator.generate(6, date(2026, 11, 2), date(2026, 11, 8), seed=3)
    clockings = [
        p for p in punches(generated.jsonl().splitlines()) if p.type_pointage in export_report.WORDS
    ]
    assert clockings
    export = tmp_path / "export.csv"
    export.write_text(export_report.render(clockings), encoding="utf-8-sig", newline="")

    read = read_export(export, "Africa/Tunis")

    assert sorted(map(key, (r.punch for r in read))) == sorted(map(key, clockings))
    assert all(r.name for r in read)  # first and last names from the deliveries

    lost = set(random.Random(5).sample(range(len(clockings)), len(clockings) // 4))
    stored = [
        StoredPunch(
            p.timemoto_user_id,
            p.horodatage,
            p.type_pointage,
            p.date_travail,
            p.fuseau_horaire,
            p.ignore,
        )
        for n, p in enumerate(clockings)
        if n not in lost
    ]
    comparison = compare(read, stored)
    assert comparison.count("extra") == comparison.count("type") == 0
    assert sorted(map(key, comparison.missing())) == sorted(key(clockings[n]) for n in lost)
    assert comparison.matching == len(clockings) - len(lost)
