"""`kb eval`'s trade-off rows: the engine's served / misled / might help / rejection at other thresholds."""

from __future__ import annotations

from kb_engine.search.evaluation import EvalQuery, Outcome, Report, format_tradeoff, tradeoff
from kb_engine.search.ranking import RankingParams


def outcome(lang: str, expected: str, first: str, confidence: float, *, eligible: bool = True) -> Outcome:
    return Outcome(
        query=EvalQuery(lang, expected, f"{expected or 'nothing'} {confidence}"),
        ranked=[first, "other"],
        first_lang=lang,
        answered=False,
        confidence=confidence,
        eligible=eligible,
        reach=eligible,
    )


def test_each_threshold_counts_served_misled_middle_band_and_rejection_per_language() -> None:
    outcomes = [
        outcome("en", "vpn", "vpn", 0.9),  # right, sure
        outcome("en", "vpn", "wifi", 0.45),  # wrong, half sure
        outcome("fr", "printer", "printer", 0.35),  # right, half sure
        outcome("fr", "printer", "printer", 0.95, eligible=False),  # under the dense floor: never answered
        outcome("en", "", "vpn", 0.25),  # out of scope
    ]
    params = RankingParams(threshold=0.4, suggest_threshold=0.2)
    rows = {(r["threshold"], r["lang"]): r for r in tradeoff(outcomes, params, thresholds=(0.3, 0.5))}
    assert sorted({t for t, _ in rows}) == [0.3, 0.4, 0.5]
    assert [t for (t, lang), r in rows.items() if r["fitted"] and lang == "all"] == [0.4]
    at_03, at_04, at_05 = rows[(0.3, "all")], rows[(0.4, "all")], rows[(0.5, "all")]
    assert (at_03["n_in"], at_03["n_out"]) == (4, 1)
    assert (at_03["served"], at_03["misled"]) == (0.5, 0.25)  # vpn 0.9 and printer 0.35; wifi 0.45
    assert (at_04["served"], at_04["misled"]) == (0.25, 0.25)
    assert (at_05["served"], at_05["misled"], at_05["suggest"]) == (0.25, 0.0, 0.5)
    assert at_03["rejected"] == at_05["rejected"] == 1.0
    fr = rows[(0.3, "fr")]
    assert (fr["served"], fr["misled"], fr["rejected"]) == (0.5, 0.0, None)
    for lang in ("all", "en", "fr"):  # moving the threshold up never answers more
        served = [rows[(t, lang)]["served"] + rows[(t, lang)]["misled"] for t in (0.3, 0.4, 0.5)]
        assert served == sorted(served, reverse=True)
    text = format_tradeoff(Report("dev", tradeoff=list(rows.values())))
    assert "0.40*" in text and "might help" in text.splitlines()[1]
