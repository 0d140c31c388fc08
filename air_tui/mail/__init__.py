"""Reading mail from disk and parsing it into domain messages.

Imports only the stdlib, pydantic, `air_tui.domain` and the parsing libraries
(authres, publicsuffixlist).
"""

from air_tui.mail.parse import message_id_for, parse_message
from air_tui.mail.sources import FailedRead, RawMessage, SourceError, iter_messages

__all__ = [
    "FailedRead",
    "RawMessage",
    "SourceError",
    "iter_messages",
    "message_id_for",
    "parse_message",
]
