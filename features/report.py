"""The features report QA reads: reports/cucumber.json (pytest-bdd's) rendered as one HTML page.

Per feature its description, per scenario its steps in Gherkin with passed/failed/skipped and
their durations, the failing step's message, and a summary at the top. The page is
self-contained (inline CSS, no script, nothing loaded from elsewhere) so that it can be mailed or
attached to a ticket.

    python -m features.report reports/cucumber.json reports/features.html

pytest-bdd marks every step after a failing one "failed" too (with an empty message); those steps
never ran, so here they are "skipped", as Cucumber itself reports them.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

Status = Literal["passed", "failed", "skipped"]
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Step:
    keyword: str
    name: str
    line: int
    status: Status
    seconds: float
    message: str = ""
    background: bool = False  # a step of the feature's Background, run before the scenario's

    @property
    def error(self) -> str:
        """What went wrong, in short: pytest's `E` lines of the message, else its last line."""
        lines = self.message.splitlines()
        errors = [line[1:].strip() for line in lines if line.startswith("E ")]
        return "\n".join(errors) if errors else (lines[-1] if lines else "")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    line: int
    description: str
    tags: list[str]
    steps: list[Step]

    @property
    def status(self) -> Status:
        statuses = {step.status for step in self.steps}
        if "failed" in statuses:
            return "failed"
        return "skipped" if statuses == {"skipped"} or not statuses else "passed"

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    @property
    def background(self) -> list[Step]:
        return [step for step in self.steps if step.background]

    @property
    def own_steps(self) -> list[Step]:
        return [step for step in self.steps if not step.background]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    uri: str
    description: str
    tags: list[str]
    scenarios: list[Scenario] = field(default_factory=list)

    @property
    def status(self) -> Status:
        statuses = {scenario.status for scenario in self.scenarios}
        if "failed" in statuses:
            return "failed"
        return "skipped" if statuses <= {"skipped"} else "passed"

    @property
    def seconds(self) -> float:
        return sum(scenario.seconds for scenario in self.scenarios)


@dataclass(frozen=True, slots=True)
class Summary:
    features: int
    scenarios: Counter[str]
    steps: Counter[str]
    seconds: float

    @property
    def status(self) -> Status:
        if self.scenarios["failed"]:
            return "failed"
        return "passed" if self.scenarios["passed"] else "skipped"


def _steps(scenario: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    failed_before = False
    for raw in scenario.get("steps", []):
        result = raw.get("result", {})
        status: Status = result.get("status", "skipped")
        if status == "failed" and failed_before:
            status = "skipped"  # after the failing step: never run
        failed_before = failed_before or status == "failed"
        steps.append(
            Step(
                keyword=str(raw.get("keyword", "")).strip(),
                name=str(raw.get("name", "")),
                line=int(raw.get("line", 0)),
                status=status,
                seconds=int(result.get("duration", 0)) / 1e9,
                message=str(result.get("error_message", "") or ""),
                background=int(raw.get("line", 0)) < int(scenario.get("line", 0)),
            )
        )
    return steps


def _tags(item: dict[str, Any]) -> list[str]:
    return [str(tag.get("name", "")) for tag in item.get("tags", [])]


def read_features(document: Any) -> list[Feature]:
    """The features of a cucumber.json document; ValueError if it is not one."""
    if not isinstance(document, list):
        raise ValueError("not a Cucumber JSON report: the top level is not a list of features")
    features = []
    for raw in document:
        if not isinstance(raw, dict):
            raise ValueError("not a Cucumber JSON report: a feature is not an object")
        scenarios = [
            Scenario(
                name=str(element.get("name", "")),
                line=int(element.get("line", 0)),
                description=str(element.get("description", "") or ""),
                tags=_tags(element),
                steps=_steps(element),
            )
            for element in raw.get("elements", [])
        ]
        features.append(
            Feature(
                name=str(raw.get("name", "")),
                uri=str(raw.get("uri", "")),
                description=str(raw.get("description", "") or ""),
                tags=_tags(raw),
                scenarios=sorted(scenarios, key=lambda s: s.line),
            )
        )
    return sorted(features, key=lambda f: f.uri)


def summarise(features: list[Feature]) -> Summary:
    scenarios = Counter(s.status for f in features for s in f.scenarios)
    steps = Counter(step.status for f in features for s in f.scenarios for step in s.steps)
    return Summary(len(features), scenarios, steps, sum(f.seconds for f in features))


def duration(seconds: float) -> str:
    if seconds >= 60:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    return f"{seconds * 1000:.0f} ms"


def paragraphs(text: str) -> list[str]:
    """A Gherkin description's paragraphs (blank lines apart), each joined into one line."""
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in text.split("\n\n")]
    return [block for block in blocks if block]


def render(features: list[Feature], generated: datetime) -> str:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["duration"] = duration
    environment.filters["paragraphs"] = paragraphs
    return environment.get_template("report.html.j2").render(
        features=features, summary=summarise(features), generated=generated
    )


def write_report(source: Path, target: Path) -> Summary:
    features = read_features(json.loads(source.read_text(encoding="utf-8")))
    target.write_text(render(features, datetime.now(UTC)), encoding="utf-8")
    return summarise(features)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m features.report CUCUMBER_JSON HTML", file=sys.stderr)
        return 2
    source, target = Path(args[0]), Path(args[1])
    try:
        summary = write_report(source, target)
    except OSError as exc:
        print(f"features report: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 1
    except ValueError as exc:  # JSONDecodeError included
        print(f"features report: {source}: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.scenarios.items()))
    print(f"features report: {target} ({summary.features} features, scenarios: {counts or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
