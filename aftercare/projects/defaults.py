"""The default go-live plan template (created by a data migration; texts are data).

The texts are stored in English: they are data that managers edit in the console, not
interface strings, so they are not run through gettext.
"""

from __future__ import annotations

DEFAULT_NAME = "Go-live plan"
BACKUP_CRITERION = "Full database and system backup taken"
LOGINS_CRITERION = "Every target user's login tested"
CREDENTIALS_CRITERION = "Credentials distributed"

# (title, kind, days before go-live, tasks, criteria); a criterion is (text, must_be_first,
# rule).
STAGES = [
    (
        "Context and familiarisation with the change-management method",
        "plain",
        60,
        [
            "Kick-off meeting with the customer's project team",
            "Present the change-management method and the go-live plan",
            "Name the owners of every stage on both sides",
        ],
        [
            ("Project team on both sides named", False, ""),
            ("Change-management method presented and accepted", False, ""),
        ],
    ),
    (
        "Base infrastructure functional and accessible",
        "plain",
        50,
        [
            "Install the servers, database and application",
            "Open network access for the customer's sites",
            "Run the infrastructure tests",
        ],
        [
            ("Infrastructure tests passed", False, ""),
            ("System reachable from every site", False, ""),
        ],
    ),
    (
        "Functional and integration acceptance tests",
        "plain",
        40,
        [
            "Form mixed vendor/customer test teams",
            "Run the functional test scenarios",
            "Run the integration tests with the customer's other systems",
        ],
        [
            ("Functional acceptance tests signed off", False, ""),
            ("Integration tests signed off", False, ""),
        ],
    ),
    (
        "Performance, backup and disaster-recovery tests",
        "plain",
        30,
        [
            "Run the load test with the expected number of users",
            "Take a backup and restore it on a test server",
            "Rehearse the disaster-recovery procedure",
        ],
        [
            ("Performance within the agreed limits", False, ""),
            ("Backup restored successfully", False, ""),
            ("Disaster-recovery procedure tested", False, ""),
        ],
    ),
    (
        "End users trained",
        "plain",
        14,
        ["Hold the training sessions", "Deliver the user manuals"],
        [("Training sessions held", False, ""), ("User manuals delivered", False, "")],
    ),
    (
        "Go-live test session",
        "test_session",
        7,
        [
            "Take a full database and system backup",
            "Distribute the credentials to every target user",
            "Every target user logs in",
            "Communicate the procedure and how to report incidents",
        ],
        [
            (BACKUP_CRITERION, True, ""),
            (CREDENTIALS_CRITERION, False, "credentials_distributed"),
            (LOGINS_CRITERION, False, "logins_tested"),
            ("Procedure and incident reporting communicated", False, ""),
        ],
    ),
    (
        "Analysis of the test session and go/no-go decision",
        "decision",
        3,
        ["Review the incidents raised in the test session", "Record the go or postpone decision"],
        [("Incidents of the test session analysed", False, "")],
    ),
    (
        "Go-live",
        "go_live",
        0,
        ["Switch the users to the new system", "Hand over to support"],
        [("System live and used in production", False, "")],
    ),
]


def ensure_default_template(template_model, stage_model, task_model, criterion_model) -> None:
    """Create the default template unless one named so exists (idempotent)."""
    if template_model.objects.filter(name=DEFAULT_NAME).exists():
        return
    template = template_model.objects.create(
        name=DEFAULT_NAME,
        description="The eight stages from familiarisation to go-live.",
        is_default=not template_model.objects.filter(is_default=True).exists(),
    )
    for position, (title, kind, days, tasks, criteria) in enumerate(STAGES, start=1):
        stage = stage_model.objects.create(
            template=template, position=position, title=title, kind=kind, due_offset_days=days
        )
        for i, text in enumerate(tasks, start=1):
            task_model.objects.create(stage=stage, position=i, text=text)
        for i, (text, first, rule) in enumerate(criteria, start=1):
            criterion_model.objects.create(
                stage=stage, position=i, text=text, must_be_first=first, rule=rule
            )


def ensure_default(apps=None) -> None:
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    ensure_default_template(
        apps.get_model("projects", "PlanTemplate"),
        apps.get_model("projects", "TemplateStage"),
        apps.get_model("projects", "TemplateTask"),
        apps.get_model("projects", "TemplateCriterion"),
    )
