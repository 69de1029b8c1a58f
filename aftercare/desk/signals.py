"""``ticket_changed`` is sent inside the service's transaction after each ``Event``.

Receivers (the SLA engine; later notifications and webhooks) run in the same
transaction, so a failure rolls the change back instead of leaving clocks out of step.
Arguments: ``ticket`` (the locked, updated instance) and ``event``.
"""

from django.dispatch import Signal

ticket_changed = Signal()

# Sent after an approval is requested, with ``approval`` and ``links``: a list of
# (user, token) pairs. The tokens exist only here (the database keeps their hashes), so
# the mail app's receiver must put them into the messages it queues.
approval_requested = Signal()
