"""bench/api.py's write scenarios: the moves, the pool each move uses once, the templates."""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def api():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_api", None)


def test_parse_moves(api):
    assert api.parse_moves("backlog:sprint, sprint:backlog") == {
        "backlog": "sprint",
        "sprint": "backlog",
    }
    with pytest.raises(SystemExit):
        api.parse_moves("backlog")


def test_each_move_is_used_once_then_the_pool_is_exhausted(api):
    picks = api.Picks(["AC-1", "AC-2"], [{"key": "AC-3"}, {"key": "AC-4"}])
    assert [picks.move()["key"], picks.move()["key"]] == ["AC-3", "AC-4"]
    assert picks.left() == 0
    with pytest.raises(api.Exhausted):
        picks.move()
    assert [picks.reply(i)["key"] for i in range(3)] == ["AC-1", "AC-2", "AC-1"]


def _target(api, name):
    args = argparse.Namespace(
        **{k: None for k in ("base_url", "auth", "create_path", "create_body", "list_path")},
        **{k: None for k in ("filter_query", "page2", "login_path", "var", "reply_path")},
        **{k: None for k in ("reply_body", "transition_path", "transition_body")},
        transition=None,
        transition_status=None,
        run_id="r1",
    )
    return api.build_target(name, args)


def test_transition_body_carries_target_and_version(api):
    target = _target(api, "aftercare")
    pick = {"key": "AC-2026-000007", "version": "4", "source": "backlog", "target": "sprint"}
    body = json.loads(target.fill(target.transition_body, 1, random.Random(0), pick))
    assert body == {"target": "sprint", "version": 4}
    path = target.fill(target.transition_path, 1, random.Random(0), pick)
    assert path == "/api/v1/tickets/AC-2026-000007/transitions"
    assert target.transition_status == 200


def test_helpdesk_moves_by_a_followup_without_renaming_the_ticket(api):
    target = _target(api, "helpdesk")
    pick = {"key": "42", "version": "", "source": "1", "target": "3"}
    body = json.loads(target.fill(target.transition_body, 1, random.Random(0), pick))
    assert body["ticket"] == 42 and body["new_status"] == 3 and body["public"] is True
    assert "title" not in body  # update_ticket would rename the ticket to it
    assert target.transition_status == 201
    reply = json.loads(target.fill(target.reply_body, 9, random.Random(0), {"key": "42"}))
    assert reply["ticket"] == 42 and "r1-9" in reply["comment"]
