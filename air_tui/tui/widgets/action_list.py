"""Pending actions: what each would do, to how many messages in how many mailboxes."""

from __future__ import annotations

from textual.message import Message

from air_tui.store.queries import ActionRow
from air_tui.tui.text import safe
from air_tui.tui.widgets.keyed_table import KeyedTable


class ActionList(KeyedTable[ActionRow]):
    class ActionOpened(Message):
        def __init__(self, row: ActionRow) -> None:
            super().__init__()
            self.row = row

    def on_mount(self) -> None:
        self.border_title = "3 Pending actions"
        self.add_column("Type", key="type", width=12)
        self.add_column("Msgs", key="messages", width=4)
        self.add_column("Boxes", key="mailboxes", width=5)
        self.add_column("Investigation", key="investigation", width=26)
        self.add_column("Target", key="target")

    def show(self, rows: list[ActionRow]) -> None:
        self.replace_rows(
            (
                row.action.id,
                row,
                (
                    safe(row.action.action_type.value),
                    safe(len(row.action.targets)),
                    safe(len(row.action.mailboxes)),
                    safe(row.investigation_title.split(": ", 1)[-1], limit=40),
                    safe(row.action.title, limit=200),
                ),
            )
            for row in rows
        )
        self.border_subtitle = f"{len(rows)} pending"

    def select_first_of(self, investigation_id: str) -> None:
        """Move the cursor to the first pending action of an investigation, if it has one."""
        for index, row in enumerate(self.rows_by_key.values()):
            if row.action.investigation_id == investigation_id:
                self.move_cursor(row=index)
                return

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        event.stop()
        row = self.record_for(event)
        if row is not None:
            self.post_message(self.ActionOpened(row))
