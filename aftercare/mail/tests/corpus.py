"""The third-party mail corpus: where it is, which files it holds, what Zammad expects.

The corpus lives outside the repository (``AFTERCARE_MAIL_CORPUS``, by default
../shared/corpora/mail beside the repository; see its README.md). Tests that need it skip when it is absent.
"""

from __future__ import annotations

import base64
import functools
import os
from pathlib import Path
from typing import Any

import yaml

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
CORPUS = Path(os.environ.get("AFTERCARE_MAIL_CORPUS", str(SHARED / "corpora" / "mail")))
SKIP_REASON = f"mail corpus not found at {CORPUS} (set AFTERCARE_MAIL_CORPUS)"


def corpus_available() -> bool:
    return (CORPUS / "cpython").is_dir() or (CORPUS / "zammad").is_dir()


def message_files() -> list[Path]:
    """Every raw message of the corpus: cpython/msg_*.txt and zammad/*.box, sorted."""
    if not corpus_available():
        return []
    files = sorted((CORPUS / "cpython").glob("msg_*.txt"))
    files += sorted((CORPUS / "zammad").glob("*.box"))
    return files


def mbox_files() -> list[Path]:
    if not corpus_available():
        return []
    return sorted(CORPUS.glob("*/*.mbox"))


def corpus_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def expectation_path(path: Path) -> Path | None:
    """The Zammad ``.yml`` next to a ``.box``, if there is one."""
    if path.suffix != ".box":
        return None
    candidate = path.with_suffix(".yml")
    return candidate if candidate.is_file() else None


class RubyTolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby-tagged YAML as plain data.

    Zammad's files are tagged ``!ruby/hash:ActiveSupport::HashWithIndifferentAccess``
    (and ``!ruby/...`` in general): such nodes become ordinary mappings, sequences or
    scalars. ``!binary`` (Ruby's name for ``!!binary``) becomes bytes. Nothing is ever
    instantiated.
    """


def _construct_ruby(loader: RubyTolerantLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _construct_binary(loader: RubyTolerantLoader, node: yaml.Node) -> bytes:
    value = loader.construct_scalar(node)
    return base64.b64decode("".join(str(value).split()))


RubyTolerantLoader.add_multi_constructor("!ruby/", _construct_ruby)
RubyTolerantLoader.add_constructor("!binary", _construct_binary)


@functools.cache
def load_expectation(path: Path) -> dict[str, Any]:
    """Load a Zammad ``.yml`` expectation (a ``.box`` path is accepted too).

    Cached: the same dict is returned on every call, so do not modify it.
    """
    if path.suffix == ".box":
        found = expectation_path(path)
        if found is None:
            raise FileNotFoundError(path.with_suffix(".yml"))
        path = found
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=RubyTolerantLoader)
    return data if isinstance(data, dict) else {}
