"""Business rules. Views, admin actions and CLI commands call these; nothing else decides."""


class ServiceError(Exception):
    """A rule refused the request; the message is shown to the user as is."""
