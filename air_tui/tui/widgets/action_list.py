"""Pending actions: what each would do, to how many messages in how many mailboxes."""

from __future__ import annotations

from textual.message import Message

from air_tui.store.queries import ActionRow
from air_tui.tui.text import safe
from air_tui.tui.widgets.vim import VimDataTable


class ActionList(VimDataTable):
    class ActionOpened(Message):
        def __init__(self, row: ActionRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.rows_by_key: dict[str, ActionRow] = {}

    def on_mount(self) -> None:
        self.border_title = "3 Pending actions"
        self.add_column("Type", key="type", width=12)
        self.add_column("Msgs", key="messages", width=4)
        self.add_column("Boxes", key="mailboxes", width=5)
        self.add_column("Investigation", key="investigation", width=26)
        self.add_column("Target", key="target")

    def show(self, rows: list[ActionRow]) -> None:
        selected = self.selected_action_id
        self.clear()
        self.rows_by_key = {}
        for row in rows:
            action = row.action
            self.rows_by_key[action.id] = row
            self.add_row(
                safe(action.action_type.value),
                safe(len(action.targets)),
                safe(len(action.mailboxes)),
                safe(row.investigation_title.split(": ", 1)[-1], limit=40),
                safe(action.title, limit=200),
                key=action.id,
            )
        self.border_subtitle = f"{len(rows)} pending"
        if selected in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(selected))

    @property
    def selected_action_id(self) -> str:
        if not self.rows_by_key or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return ""
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    @property
    def selected(self) -> ActionRow | None:
        return self.rows_by_key.get(self.selected_action_id)

    def select_first_of(self, investigation_id: str) -> None:
        """Move the cursor to the first pending action of an investigation, if it has one."""
        for index, row in enumerate(self.rows_by_key.values()):
            if row.action.investigation_id == investigation_id:
                self.move_cursor(row=index)
                return

    def on_data_table_row_selected(self, event: VimDataTable.RowSelected) -> None:
        event.stop()
        row = self.rows_by_key.get(str(event.row_key.value))
        if row is not None:
            self.post_message(self.ActionOpened(row))
