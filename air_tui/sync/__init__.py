"""Team sync: replicate the ledger through Apache CouchDB and coordinate decisions between consoles."""

from __future__ import annotations

import httpx

from air_tui.domain.config import SyncConfig
from air_tui.domain.ids import Clock
from air_tui.domain.secrets import find_secret, missing_secret_hint
from air_tui.store.database import Store
from air_tui.sync.couch import CouchClient, SyncError, SyncUnavailable
from air_tui.sync.replicator import Replicator, SyncReport, SyncStatus
from air_tui.sync.team import Lease, TeamCoordination

__all__ = ["Lease", "SyncError", "SyncReport", "SyncStatus", "SyncUnavailable", "TeamSync"]


class TeamSync:
    """Everything team mode needs for one store: the client, the replicator and the coordination."""

    def __init__(
        self,
        store: Store,
        config: SyncConfig,
        *,
        analyst: str,
        clock: Clock,
        insecure: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        password = None
        if config.username:
            password = find_secret(config.password_env, config.keyring_service, config.username)
            if not password:
                raise SyncError(
                    f"Team sync is on ([sync] url = {config.url}) but there is no password for {config.username}: "
                    f"{missing_secret_hint(config.password_env, config.keyring_service, config.username)}."
                )
        self.config = config
        self.client = CouchClient(config, password=password, insecure=insecure, transport=transport)
        self.replicator = Replicator(store, self.client, clock=clock, batch_size=config.batch_size, max_backoff=float(config.max_backoff_seconds))
        self.coordination = TeamCoordination(
            self.client,
            store=store,
            replica=self.replicator.replica_id,
            analyst=analyst,
            clock=clock,
            lease_seconds=max(60.0, 4.0 * config.interval_seconds),
            server_down=self.replicator.offline,
        )

    def sync_now(self) -> SyncReport:
        return self.replicator.sync_once()

    def status(self) -> SyncStatus:
        return self.replicator.status()

    def close(self) -> None:
        # Events recorded by this service go out now rather than at the next timed sync, so the
        # other consoles see a decision and its results as soon as possible.
        self.replicator.push_waiting()
        self.client.close()
