"""``aftercare import-trello BOARD.json --organisation CODE``: a Trello board as requests.

See docs/import-export.md for the mapping rules. Plans first (writes nothing), then, unless
``--dry-run``, applies the plan one card per transaction.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aftercare.desk.models import Status
from aftercare.imports import services
from aftercare.imports.progress import Progress, Raw
from aftercare.imports.trello import SKIP, BoardError, parse_board, read_json
from aftercare.ops.maintenance import WritingCommand
from aftercare.tenancy.models import Organisation
from aftercare.tenancy.scoping import system_scope

CHOICES = [*Status.values, SKIP]


class Command(WritingCommand):
    dry_run_in_maintenance = True  # a dry run writes nothing
    help = "Import a Trello board export (JSON) as requests of one organisation."
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("board", help="The board's JSON export (Trello: Share → Export).")
        parser.add_argument(
            "--organisation", required=True, help="Short code of the customer organisation."
        )
        parser.add_argument(
            "--mapping",
            help='JSON file mapping list names to statuses, e.g. {"Tasks": "backlog"}; '
            "or with sections lists, labels, users, default_category.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would happen; write nothing."
        )
        parser.add_argument(
            "--no-input",
            action="store_true",
            dest="no_input",
            help="Never ask; unknown lists are an error.",
        )
        parser.add_argument(
            "--skip-archived",
            action="store_true",
            help="Leave out archived cards (by default they are kept, as Archived).",
        )
        parser.add_argument(
            "--reporter",
            help="E-mail or username of the reporter of cards whose creator is not in the "
            "export (default: the import account).",
        )

    def handle(self, *args, **options):
        self.stdin = options.get("stdin") or sys.stdin
        with system_scope():
            self._run(options)

    def _run(self, options) -> None:
        org = Organisation.objects.filter(code=options["organisation"]).first()
        if org is None:
            raise CommandError(
                _("No organisation with the short code “%(code)s”.")
                % {"code": options["organisation"]}
            )
        board = self._board(options["board"])
        try:
            mapping = (
                services.load_mapping(options["mapping"])
                if options["mapping"]
                else services.Mapping()
            )
        except services.MappingError as exc:
            raise CommandError(str(exc)) from exc
        if options["reporter"]:
            reporter = services.find_user(options["reporter"], org)
            if reporter is None:
                raise CommandError(
                    _("--reporter: no user with the e-mail or username “%(value)s”.")
                    % {"value": options["reporter"]}
                )
            mapping.fallback_reporter = reporter
        # Never attach another organisation's user, not even on the operator's word.
        problems = services.ineligible_people(mapping, org)
        if problems:
            raise CommandError(
                _("%(problems)s. Nothing was imported.") % {"problems": "; ".join(problems)}
            )
        missing = services.unmapped_lists(board, mapping)
        if missing:
            if options["no_input"] or not self._interactive():
                raise CommandError(self._unmapped_message(missing, options["board"]))
            self._ask(missing, mapping)

        plan = services.plan_board(board, org, mapping, skip_archived=options["skip_archived"])
        self.stdout.write(
            _("Board “%(board)s” (%(cards)d cards, %(comments)d comments) → %(org)s")
            % {
                "board": board.name,
                "cards": len(board.cards),
                "comments": board.comment_count,
                "org": org.name,
            }
        )
        self._print_lists(board, mapping)
        if options["dry_run"]:
            self._print_plan(plan)
            outcome = services.forecast(plan)
            self._summary(outcome)
            if plan.new_people:
                self.stdout.write(
                    _("New contacts: %(names)s")
                    % {"names": ", ".join(m.label for m in plan.new_people)}
                )
            self.stdout.write(_("Dry run: nothing was written."))
            return
        progress = Progress(len(plan.cards), Raw(self.stderr), _("cards"))
        outcome = services.apply_plan(plan, progress=progress)
        progress.close()
        self._summary(outcome)
        for warning in outcome.warnings:
            self.stderr.write(warning)
        if outcome.failures:
            for failure in outcome.failures:
                self.stderr.write(failure)
            raise CommandError(
                _(
                    "%(n)d card(s) failed and were not imported; the others were. Fix the cause "
                    "and run the import again: finished cards are left as they are."
                )
                % {"n": len(outcome.failures)}
            )

    def _board(self, path: str):
        try:
            data = read_json(path)  # size and nesting bounded before parsing
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc}
            ) from exc
        except BoardError as exc:
            raise CommandError(f"{path}: {exc}. Nothing was imported.") from exc
        except ValueError as exc:
            raise CommandError(
                _("%(path)s is not valid JSON: %(error)s") % {"path": path, "error": exc}
            ) from exc
        try:
            return parse_board(data, now=timezone.now())
        except BoardError as exc:
            raise CommandError(f"{path}: {exc}") from exc

    def _interactive(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        return bool(isatty and isatty())

    def _unmapped_message(self, missing: dict[str, int], board_path: str) -> str:
        example = json.dumps({name: "backlog" for name in missing}, ensure_ascii=False)
        return _(
            "These lists have no status: %(lists)s. Map each to one of %(choices)s in a JSON "
            "file, e.g. %(example)s, and run again with --mapping FILE.json (or run the "
            "command in a terminal without --no-input to be asked)."
        ) % {
            "lists": ", ".join(f"“{name}” ({n})" for name, n in sorted(missing.items())),
            "choices": ", ".join(CHOICES),
            "example": example,
        }

    def _ask(self, missing: dict[str, int], mapping: services.Mapping) -> None:
        answers = {}
        menu = ", ".join(f"{i}={code}" for i, code in enumerate(CHOICES, 1))
        for name, count in sorted(missing.items()):
            while True:
                self.stderr.write(
                    ngettext(
                        "List “%(name)s” (%(n)d card): which status? [%(menu)s] ",
                        "List “%(name)s” (%(n)d cards): which status? [%(menu)s] ",
                        count,
                    )
                    % {"name": name, "n": count, "menu": menu},
                    ending="",
                )
                self.stderr.flush()
                line = self.stdin.readline()
                if not line:
                    raise CommandError(_("No answer; nothing was imported."))
                answer = line.strip().lower()
                if answer.isdigit() and 1 <= int(answer) <= len(CHOICES):
                    answer = CHOICES[int(answer) - 1]
                if answer in CHOICES:
                    answers[name] = answer
                    mapping.lists[name.casefold().strip()] = answer
                    break
                self.stderr.write(_("Please answer with a number or one of the codes."))
        self.stderr.write(
            _("To answer the same next time, save this as a mapping file: %(json)s")
            % {"json": json.dumps(answers, ensure_ascii=False)}
        )

    def _print_lists(self, board, mapping: services.Mapping) -> None:
        statuses = services.list_statuses(board, mapping)
        counts: dict[str, int] = {}
        for card in board.cards:
            counts[card.list_id] = counts.get(card.list_id, 0) + 1
        for list_id, trello_list in board.lists.items():
            self.stdout.write(
                ngettext(
                    "  list “%(name)s”%(closed)s → %(status)s (%(n)d card)",
                    "  list “%(name)s”%(closed)s → %(status)s (%(n)d cards)",
                    counts.get(list_id, 0),
                )
                % {
                    "name": trello_list.name,
                    "closed": _(" (archived)") if trello_list.closed else "",
                    "status": statuses.get(list_id) or _("(unmapped)"),
                    "n": counts.get(list_id, 0),
                }
            )

    def _print_plan(self, plan: services.Plan) -> None:
        for cp in plan.cards:
            new = sum(1 for c in cp.comments if c.action == "create")
            detail = cp.reason or _("%(status)s, %(new)d new of %(n)d comments") % {
                "status": cp.values.get("status", ""),
                "new": new,
                "n": len(cp.comments),
            }
            self.stdout.write(f"  {cp.action:<9} {cp.card.name[:70]} ({detail})")

    def _summary(self, outcome: services.Outcome) -> None:
        c, m = outcome.cards, outcome.comments
        self.stdout.write(
            _(
                "Requests: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                "%(skipped)d skipped, %(failed)d failed"
            )
            % vars(c)
        )
        self.stdout.write(
            _(
                "Comments: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                "%(skipped)d skipped"
            )
            % vars(m)
        )
        self.stdout.write(
            _("Users: %(created)d new contacts, %(matched)d matched")
            % {"created": outcome.users_created, "matched": outcome.users_matched}
        )
