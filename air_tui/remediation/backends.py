"""Open the mail backend that `[remediation] target` names."""

from __future__ import annotations

from air_tui.domain.config import RemediationConfig
from air_tui.remediation.mail import DemoMailBackend, MailBackend
from air_tui.tenant.demo import DemoTenant


def open_mail_backend(config: RemediationConfig, tenant: DemoTenant, *, analyst: str) -> MailBackend:
    """Return the backend approved message actions land on; IMAP and Graph connect on first use."""
    if config.target == "imap":
        from air_tui.remediation.imap import ImapMailBackend

        return ImapMailBackend(config.imap)
    if config.target == "graph":
        from air_tui.remediation.graph import GraphMailBackend

        return GraphMailBackend(config.graph, analyst=analyst)
    return DemoMailBackend(tenant)
