"""Phone numbers customers give: checked with Google's libphonenumber (`phonenumbers`), kept as typed.

A number with its international prefix (`+33 1 23 45 67 89`, `0044 …`) is checked as such; one without
is read as a number of `region` (`KB_PHONE_REGION`). An internal extension (3 to 6 digits, what a company's
own staff often give) is accepted too.
"""

from __future__ import annotations

import re

import phonenumbers

EXTENSION_RE = re.compile(r"(?:ext\.?|poste|x)?\s*\d{3,6}", re.IGNORECASE)


def phone_ok(text: str, region: str = "FR") -> bool:
    """True when `text` is a valid phone number (or an internal extension)."""
    text = text.strip()
    if not text:
        return False
    if EXTENSION_RE.fullmatch(text):
        return True
    if re.search(r"[A-Za-z]", re.sub(r"(?i)\b(ext|poste|x)\b\.?", "", text)):
        return False  # letters are not a number (phonenumbers would read "1-800-FLOWERS" keypad letters)
    candidate = "+" + text[2:] if text.startswith("00") else text
    try:
        number = phonenumbers.parse(candidate, region.upper() or None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)
