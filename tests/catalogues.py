"""Checks shared by the tests of the two gettext catalogues (the pages' and the email replies')."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po


def untranslated(po_file: Path, messages: Iterable[str]) -> list[str]:
    """The messages that `po_file` leaves without a translation."""
    with po_file.open("rb") as fh:
        catalog = read_po(fh)
    return sorted(m for m in messages if not (catalog.get(m) and catalog.get(m).string))


def _key(value: Any) -> Any:
    """Plural entries: the .po reader gives tuples, the .mo reader lists."""
    return tuple(value) if isinstance(value, list | tuple) else value


def compiled_differs(po_file: Path) -> bool:
    """True when the `.mo` beside `po_file` is not what compiling it would give."""
    with po_file.open("rb") as fh:
        po = {(m.context, _key(m.id)): _key(m.string) for m in read_po(fh) if m.id}
    with po_file.with_suffix(".mo").open("rb") as fh:
        mo = {(m.context, _key(m.id)): _key(m.string) for m in read_mo(fh) if m.id}
    return mo != po
