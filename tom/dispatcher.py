"""Old home of the call flow and the registry; they live in `tom.flow` and `tom.registry`.

Kept so that `from tom.dispatcher import CallsBusy` (the bridges) keeps working.
"""

from tom.flow import CallFlow, InvalidTransition
from tom.registry import CallRecord, CallRegistry, CallsBusy

__all__ = ["CallFlow", "CallRecord", "CallRegistry", "CallsBusy", "InvalidTransition"]
