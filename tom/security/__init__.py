"""Operator access, connection rate limits and data retention."""

from tom.security.auth import OperatorAuth, auth_middleware
from tom.security.passwords import hash_password, verify_password
from tom.security.ratelimit import RateLimiter, rate_limit_middleware
from tom.security.retention import RetentionTask, prune_recent
from tom.security.startup import auth_required, check_startup, is_loopback

__all__ = ["OperatorAuth", "RateLimiter", "RetentionTask", "auth_middleware", "auth_required",
           "check_startup", "hash_password", "is_loopback", "prune_recent",
           "rate_limit_middleware", "verify_password"]
