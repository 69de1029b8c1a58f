"""The default go-live template's texts, marked for translation.

The template's texts are data (managers edit them), stored in English. A stage, task or
criterion whose text is still exactly one of these is shown in the reader's language
(``templatetags/project_texts.reader_text``); an edited text is shown as typed.
``tests`` keep this list equal to ``defaults.STAGES``.
"""

from django.utils.translation import gettext_noop

DEFAULT_TEXTS = frozenset(
    {
        gettext_noop("Go-live plan"),
        gettext_noop("Context and familiarisation with the change-management method"),
        gettext_noop("Kick-off meeting with the customer's project team"),
        gettext_noop("Present the change-management method and the go-live plan"),
        gettext_noop("Name the owners of every stage on both sides"),
        gettext_noop("Project team on both sides named"),
        gettext_noop("Change-management method presented and accepted"),
        gettext_noop("Base infrastructure functional and accessible"),
        gettext_noop("Install the servers, database and application"),
        gettext_noop("Open network access for the customer's sites"),
        gettext_noop("Run the infrastructure tests"),
        gettext_noop("Infrastructure tests passed"),
        gettext_noop("System reachable from every site"),
        gettext_noop("Functional and integration acceptance tests"),
        gettext_noop("Form mixed vendor/customer test teams"),
        gettext_noop("Run the functional test scenarios"),
        gettext_noop("Run the integration tests with the customer's other systems"),
        gettext_noop("Functional acceptance tests signed off"),
        gettext_noop("Integration tests signed off"),
        gettext_noop("Performance, backup and disaster-recovery tests"),
        gettext_noop("Run the load test with the expected number of users"),
        gettext_noop("Take a backup and restore it on a test server"),
        gettext_noop("Rehearse the disaster-recovery procedure"),
        gettext_noop("Performance within the agreed limits"),
        gettext_noop("Backup restored successfully"),
        gettext_noop("Disaster-recovery procedure tested"),
        gettext_noop("End users trained"),
        gettext_noop("Hold the training sessions"),
        gettext_noop("Deliver the user manuals"),
        gettext_noop("Training sessions held"),
        gettext_noop("User manuals delivered"),
        gettext_noop("Go-live test session"),
        gettext_noop("Take a full database and system backup"),
        gettext_noop("Distribute the credentials to every target user"),
        gettext_noop("Every target user logs in"),
        gettext_noop("Communicate the procedure and how to report incidents"),
        gettext_noop("Full database and system backup taken"),
        gettext_noop("Credentials distributed"),
        gettext_noop("Every target user's login tested"),
        gettext_noop("Procedure and incident reporting communicated"),
        gettext_noop("Analysis of the test session and go/no-go decision"),
        gettext_noop("Review the incidents raised in the test session"),
        gettext_noop("Record the go or postpone decision"),
        gettext_noop("Incidents of the test session analysed"),
        gettext_noop("Go-live"),
        gettext_noop("Switch the users to the new system"),
        gettext_noop("Hand over to support"),
        gettext_noop("System live and used in production"),
    }
)
