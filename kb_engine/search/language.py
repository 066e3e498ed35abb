"""Query language detection, French or English, robust on three-word queries.

lingua (restricted to the knowledge base's languages) decides when it is sure; on short or mixed queries
its guess is combined with which language's vocabulary knows more of the query's words, and with
telltale French spellings customers type without accents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from lingua import Language, LanguageDetectorBuilder

_LINGUA = {"en": Language.ENGLISH, "fr": Language.FRENCH}
_FRENCH_HINTS = re.compile(
    r"(?<!\w)(je|j'|jai|j'ai|jarrive|arrive|pas|mon|ma|mes|le|la|les|des|une|un|est|sur|avec|pour|"
    r"marche|fonctionne|impossible|plus|ne|peux|comment|quand|bloqué|bloque|oublié|oublie|mdp|ordi|"
    r"c'est|cest|ça|ca|svp|aide|écran|ecran|imprimante|mot|passe|reçois|recois|panne|rien)(?!\w)"
)
_ENGLISH_HINTS = re.compile(
    r"(?<!\w)(i|my|the|is|isn't|can't|cant|won't|wont|doesn't|not|how|what|to|of|and|with|on|it|"
    r"forgot|help|please|stuck|broken|working|keeps|anymore)(?!\w)"
)


@lru_cache(maxsize=4)
def _detector(languages: tuple[str, ...]):
    # Models load on first use, in the calling thread: preloading them starts a native thread pool, and a
    # server process forks its workers after `warm_up` (a pool's threads do not survive a fork).
    langs = [_LINGUA[code] for code in languages if code in _LINGUA]
    return LanguageDetectorBuilder.from_languages(*langs).build()


# Short texts use every n-gram length (1 to 5), longer ones fewer: together they load every model.
_WARM_UP = ("mon imprimante", "my printer is broken again today", "le wifi ne marche plus depuis hier " * 5)


def warm_up(languages: Sequence[str] = ("en", "fr")) -> None:
    """Load the detector's language models now (a server's master process calls this before forking its
    workers, which then share those pages instead of each loading its own copy)."""
    for text in _WARM_UP:
        detect_language(text, languages)


MAX_DETECT_CHARS = 4000


def detect_language(
    text: str,
    languages: Sequence[str] = ("en", "fr"),
    *,
    coverage: Callable[[str, str], float] | None = None,
) -> tuple[str, float]:
    """Best language of a query and how sure we are (0.5 = coin toss, 1.0 = certain).

    Args:
        text: the query.
        languages: candidate language codes; the first is the default.
        coverage: optional (text, lang) -> share of the query's words known in that language's articles.
    """
    known = tuple(code for code in languages if code in _LINGUA)
    if len(known) < 2:
        return (languages[0] if languages else "en"), 1.0
    # Detection time grows with the text: a huge query (refused later for its length) must not tie a worker.
    text = text[:MAX_DETECT_CHARS]
    lowered = text.lower()
    scores = {code: 0.0 for code in known}
    for value in _detector(known).compute_language_confidence_values(text):
        code = next(c for c, lang in _LINGUA.items() if lang == value.language)
        scores[code] = value.value
    words = max(1, len(re.findall(r"\w+", lowered)))
    if "fr" in scores and "en" in scores:
        # Function words are a strong cue on short queries, where lingua is least sure.
        fr_hits = len(_FRENCH_HINTS.findall(lowered))
        en_hits = len(_ENGLISH_HINTS.findall(lowered))
        weight = 1.0 / words
        scores["fr"] += weight * fr_hits
        scores["en"] += weight * en_hits
    if coverage is not None:
        for code in known:
            scores[code] += 0.5 * coverage(text, code)
    total = sum(scores.values()) or 1.0
    best = max(known, key=lambda c: (scores[c], c == languages[0]))
    return best, scores[best] / total
