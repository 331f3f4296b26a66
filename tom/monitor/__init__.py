"""Everything an operator sees: events, metrics, logs, the Redis mirror."""
