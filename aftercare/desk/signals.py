"""``ticket_changed`` is sent inside the service's transaction after each ``Event``.

Receivers (the SLA engine; later notifications and webhooks) run in the same
transaction, so a failure rolls the change back instead of leaving clocks out of step.
Arguments: ``ticket`` (the locked, updated instance) and ``event``.
"""

from django.dispatch import Signal

ticket_changed = Signal()
