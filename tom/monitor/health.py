"""Liveness and readiness.

Liveness (/healthz) only says the loop answers. Readiness (/readyz) says TOM can take a call:
every model loaded, every listener up, and Redis reachable when a Redis URL is configured.
"""

from __future__ import annotations

from typing import Any, Protocol


class Pingable(Protocol):
    async def ping(self) -> bool: ...


class Readiness:
    """Collects what start-up has finished; awaiting the object gives the /readyz body.

    `ready` stays False until at least one model is registered, so a process that is still
    loading is never reported ready.
    """

    def __init__(self, redis: Pingable | None = None) -> None:
        self.redis = redis
        self.models: dict[str, bool] = {}
        self.listeners: dict[str, bool] = {}

    def set_model(self, stage: str, loaded: bool = True) -> None:
        self.models[stage] = loaded

    def set_listener(self, name: str, up: bool = True) -> None:
        self.listeners[name] = up

    async def __call__(self) -> dict[str, Any]:
        if self.redis is None:
            redis: dict[str, bool] = {"configured": False, "reachable": False}
            redis_ok = True
        else:
            reachable = await self.redis.ping()
            redis = {"configured": True, "reachable": reachable}
            redis_ok = reachable
        ready = (bool(self.models) and all(self.models.values())
                 and all(self.listeners.values()) and redis_ok)
        return {"ready": ready, "models": dict(self.models), "listeners": dict(self.listeners),
                "redis": redis}
