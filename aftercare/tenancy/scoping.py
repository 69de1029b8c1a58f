"""Scope helpers for code that runs outside a request (jobs, commands)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from django_scopes import scope


def system_scope() -> AbstractContextManager:
    """Every organisation, for system jobs (auto-archive, imports) that act for the vendor."""
    return scope(organisation=None)


def organisation_scope(organisation_id: int) -> AbstractContextManager:
    return scope(organisation=[organisation_id])
