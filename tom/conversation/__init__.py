"""The conversation brain: what a caller wants and what TOM says back, at the text level."""

from tom.conversation.dialogue import Dialogue, Reply
from tom.conversation.messages import MessageStore
from tom.conversation.profile import Profile, ProfileError, load_profile
from tom.conversation.webhook import WebhookSender

__all__ = ["Dialogue", "MessageStore", "Profile", "ProfileError", "Reply", "WebhookSender",
           "load_profile"]
