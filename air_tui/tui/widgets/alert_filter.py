"""The `/` filter line above the alert queue."""

from __future__ import annotations

from textual.binding import Binding

from air_tui.tui.widgets.filter_input import FilterInput


class AlertFilter(FilterInput):
    """Narrows the alert queue as the analyst types. `esc` clears it and changes nothing else."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="clear-filter", tooltip="Show every alert again")]
    # The app empties and hides the line in one handler, which the queue's own `esc` reaches too.
    clears_value = False

    class Cleared(FilterInput.Cleared):
        pass
