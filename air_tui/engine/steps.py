"""Timing and logging of playbook steps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from air_tui.domain.event import Event, EventType
from air_tui.domain.investigation import LogStep
from air_tui.engine.context import PlaybookContext

log = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    """Filled in by the step body: what it found, in one line, and how many entities it touched."""

    summary: str = ""
    entities_touched: int = 0


class StepLogger:
    """Logs each playbook step as a ledger event with its start, duration and outcome."""

    def __init__(self, context: PlaybookContext, investigation_id: str) -> None:
        self.context = context
        self.investigation_id = investigation_id
        self.position = context.log_start

    @contextmanager
    def step(self, name: str) -> Iterator[StepOutcome]:
        started = self.context.clock()
        outcome = StepOutcome()
        result = "ok"
        try:
            yield outcome
        except Exception as error:
            result = f"failed: {type(error).__name__}: {error}"
            log.exception("Step %r of investigation %s failed", name, self.investigation_id)
            raise
        finally:
            # Measured with the context's clock, so a frozen clock gives repeatable logs.
            duration_ms = int((self.context.clock() - started).total_seconds() * 1000)
            step = LogStep(
                name=name,
                started=started,
                duration_ms=duration_ms,
                outcome=result,
                summary=outcome.summary,
                entities_touched=outcome.entities_touched,
            )
            self.position += 1
            self.context.emit(
                [
                    Event(
                        id=self.context.new_id(),
                        type=EventType.INVESTIGATION_STEP_LOGGED,
                        actor="system",
                        time=self.context.clock(),
                        payload={
                            "investigation_id": self.investigation_id,
                            "position": self.position,
                            "step": step.model_dump(mode="json"),
                        },
                    )
                ]
            )
