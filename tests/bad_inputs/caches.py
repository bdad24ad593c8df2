"""Caches: the request cache, the answer and model caches, checked before they are trusted."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

from tests.bad_inputs.project import ACCEPTED, BadInput, Plant, Project, file_option

TITLE = "caches"
STORE = "answers.sqlite"
SUITE_HEAD = "import pytest\n\npytestmark = pytest.mark.old_task\n\n\n"
_held: list[sqlite3.Connection] = []  # locks a plant holds for the run (closed by the next plant that locks)


def _store(p: Project) -> Path:
    """A real request cache of 300 generated answers (about 70 pages) in the project."""
    from harness.model.answer_stores import SqliteStore

    store = SqliteStore(p.root / STORE, {"torch": "2.x"})
    store.write("base", "generate:48", [(((("user", f"question {i} " * 40),),), f"answer {i} " * 20)
                                        for i in range(300)])
    return store.path


def _request_cache(edit) -> Plant:
    """A real request cache edited by `edit(path)`; the run gets `--request-cache` naming it."""
    def plant(p: Project) -> list[str]:
        path = _store(p)
        edit(path)
        return ["--request-cache", str(path)]
    return plant


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage_pages(path: Path) -> None:
    """Pages 3 and 4 overwritten (the header and schema page intact: the file still opens as SQLite)."""
    data = bytearray(path.read_bytes())
    data[8192:16384] = bytes(range(256)) * 32
    path.write_bytes(bytes(data))


def _sql(*statements: str):
    """An edit running `statements` on the store."""
    def edit(path: Path) -> None:
        with sqlite3.connect(path) as db:
            for statement in statements:
                db.execute(statement)
        db.close()
    return edit


def _foreign(*statements: str) -> Plant:
    """Another program's SQLite database (made by `statements`) given as --request-cache."""
    def plant(p: Project) -> list[str]:
        _sql(*statements)(p.root / STORE)
        return ["--request-cache", str(p.root / STORE)]
    return plant


def _row(kind: str, answer: object) -> Plant:
    """A real request cache with one more row of `kind` whose answer column holds `answer`."""
    return _request_cache(lambda path: _connect_and(path, lambda db: db.execute(
        "INSERT INTO answers VALUES ('base', ?, 'f', '\"q\"', ?)", (kind, answer))))


def _connect_and(path: Path, action) -> None:
    with sqlite3.connect(path) as db:
        action(db)
    db.close()


def _hot_journal(p: Project) -> list[str]:
    """A store with the journal of a writer that crashed mid-transaction (copied while it wrote): SQLite rolls it
    back on open; the planted test reads the store's answers back."""
    path = _store(p)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA cache_size = 1")
    writer.execute("BEGIN")
    writer.executemany("INSERT INTO answers VALUES ('base', 'generate:48', 'f', ?, '\"x\"')",
                       [(f'"{i}"' + " " * 200,) for i in range(500)])
    for suffix in ("", "-journal"):
        shutil.copy(f"{path}{suffix}", f"{path}.crashed{suffix}")
    writer.execute("ROLLBACK")
    writer.close()
    for suffix in ("", "-journal"):
        os.replace(f"{path}.crashed{suffix}", f"{path}{suffix}")
    return ["--request-cache", str(path), *_suite(
        "    from harness.model.answer_stores import SqliteStore\n\n"
        f"    assert len(SqliteStore({str(path)!r}, {{'torch': '2.x'}}).read('base', 'generate:48')) == 300\n")(p)]


def _locked(p: Project) -> list[str]:
    """A second connection holds an exclusive lock for the whole run; the check waits 0.1 s, not 10."""
    import harness.model.store_checks

    while _held:
        _held.pop().close()
    path = _store(p)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    _held.append(holder)
    p.monkeypatch.setattr(harness.model.store_checks, "CHECK_WAIT_S", 0.1)
    return ["--request-cache", str(path)]


def _read_only(folder: str, then: Plant) -> Plant:
    """`then`, with the project's `folder` and everything under it read-only (root may write anywhere: the stores'
    permission probe is what is faked)."""
    def plant(p: Project) -> list[str]:
        import harness.model.answer_stores

        p.monkeypatch.setattr(harness.model.answer_stores, "can_write",
                              lambda where: not Path(where).is_relative_to(p.root / folder))
        return then(p)
    return plant


def _answer_file(answers: list, kind: str = "generate:48") -> Plant:
    """A stored answer file in `<cache-dir>/answers/` holding `answers` for `kind`."""
    def plant(p: Project) -> list[str]:
        (p.cache / "answers").mkdir(parents=True)
        (p.cache / "answers" / "generate-0123456789abcdef01234567.json").write_text(json.dumps(
            {"model_id": "base", "kind": kind, "fingerprint": {}, "answers": answers}))
        return []
    return plant


def _suite(body: str) -> Plant:
    """A suite test of the project (`test_planted_cache.py`) running `body` with the session's `tunegate`; the run
    reports into a folder of its own (an accepted run moves `reports/latest`)."""
    def plant(p: Project) -> list[str]:
        (p.root / "test_planted_cache.py").write_text(SUITE_HEAD + "def test_planted_cache(tunegate):\n" + body)
        return ["--report-dir", str(p.root / "run-reports")]
    return plant


def _disk_full(p: Project) -> list[str]:
    """The answer folder's writer fails with ENOSPC (a full disk); the suite asks twice: one warning."""
    import errno

    import harness.model.answer_stores

    def full_disk(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    p.monkeypatch.setattr(harness.model.answer_stores, "atomic_write_text", full_disk)
    return _suite("    from harness.model.answer_stores import FolderStore\n\n"
                  "    tunegate.requests.persist(FolderStore(tunegate.settings.cache_dir / 'answers', {}))\n"
                  "    for request in ('q', 'r'):\n"
                  "        assert tunegate.requests.answer('m', 'generate:8', [request], lambda todo: ['a']) == ['a']\n"
                  )(p)


def _locked_during_run(p: Project) -> list[str]:
    """Another process takes the request cache's lock after configure; writes wait 0.1 s, not 120."""
    import harness.model.answer_stores

    p.monkeypatch.setattr(harness.model.answer_stores, "WAIT_S", 0.1)
    path = _store(p)
    return _suite("    import sqlite3\n\n    from harness.model.answer_stores import SqliteStore\n\n"
                  f"    holder = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                  "    holder.execute('BEGIN EXCLUSIVE')\n"
                  f"    tunegate.requests.persist(SqliteStore({str(path)!r}, {{}}))\n"
                  "    for request in ('q', 'r'):\n"
                  "        assert tunegate.requests.answer('m', 'generate:8', [request], lambda todo: ['a']) == ['a']\n"
                  "    holder.close()\n")(p)


def _entry(kind: str, key: object, files: dict[str, str], complete: bool = True, adapter: bool = True) -> Plant:
    """A model cache entry `<kind>-<hash of key>/` (a copy of the small adapter plus `files`, its key file holding
    `key`; with `complete`, its completion marker)."""
    def plant(p: Project) -> list[str]:
        from harness.foundation.cache import content_hash

        folder = p.cache / f"{kind}-{content_hash(key)[:20]}"
        if adapter:
            shutil.copytree(p.adapter, folder)
        else:
            folder.mkdir(parents=True)
        for name, text in {"cache_key.json": json.dumps(key), **files}.items():
            (folder / name).write_text(text)
        if complete:
            (folder / ".complete").touch()
        return []
    return plant


def _foreign_entry(p: Project) -> list[str]:
    """An entry whose name was hashed from another key than its key file holds (copied under another name)."""
    _entry("builtin", {"recipe": "other"}, {}, adapter=False)(p)
    [folder] = p.cache.iterdir()
    folder.rename(p.cache / "builtin-0123456789abcdef0123")
    return []


def _half_written(p: Project) -> list[str]:
    """What a build killed half-way leaves: a hidden staging folder, and an entry without its completion marker; the
    planted test asks the cache for that entry and sees it rebuilt."""
    (p.cache / ".builtin-0123456789abcdef0123-k3j2h1").mkdir(parents=True)
    (p.cache / ".builtin-0123456789abcdef0123-k3j2h1" / "model.safetensors").write_bytes(b"\0" * 100)
    _entry("adapter-identity", ADAPTER_KEY, {}, complete=False)(p)
    return _suite("    from harness.foundation.cache import cached_artifact\n\n"
                  f"    folder, built = cached_artifact(tunegate.settings.cache_dir, 'adapter-identity',\n"
                  f"                                    {ADAPTER_KEY!r}, lambda out: (out / 'rebuilt').touch())\n"
                  "    assert built and (folder / 'rebuilt').exists()\n")(p)


def _unwritable_cache(p: Project) -> list[str]:
    """Root may write anywhere: the check's permission probe is what is faked."""
    import harness.plugin.preflight

    p.cache.mkdir()
    p.monkeypatch.setattr(harness.plugin.preflight, "can_write", lambda folder: folder != p.cache)
    return []


GOOD_LOG, GOOD_INFO = '[{"step": 1, "loss": 2.5}]', '{"name": "identity"}'
ADAPTER_KEY = {"artifact": "lora-adapter", "recipe": {"r": 4}}


def _env_cache_with_answers_file(p: Project) -> list[str]:
    """The cache chosen by $TUNEGATE_CACHE_DIR (no --cache-dir), a file where its answers/ folder belongs."""
    (p.root / "env-cache").mkdir()
    (p.root / "env-cache/answers").write_text("x")
    p.monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(p.root / "env-cache"))
    p.passes_cache_dir = False
    return []


CASES = [
    BadInput("request-cache-not-sqlite", "--request-cache naming a file that is not an SQLite database",
             lambda p: ((p.root / "answers.sqlite").write_text("notes, not a database\n"),
                        ["--request-cache", str(p.root / "answers.sqlite")])[1],
             ("--request-cache", "answers.sqlite", "not an SQLite database")),
    BadInput("cache-dir-file", "--cache-dir naming a file", file_option("cache-file", "x", "--cache-dir"),
             ("--cache-dir", "cache-file", "is a file, expected a folder")),
    BadInput("request-cache-folder", "--request-cache naming a folder",
             lambda p: ((p.root / STORE).mkdir(), ["--request-cache", str(p.root / STORE)])[1],
             ("--request-cache", STORE, "is a folder, expected an SQLite file")),
    BadInput("request-cache-truncated", "a request cache cut short (a copy interrupted): moved aside to "
             "`<name>.damaged`, never deleted, and a fresh store started", _request_cache(_truncate),
             ("--request-cache", f"{STORE}: damaged (database disk image is malformed)",
              f"moved aside to {STORE}.damaged"), ACCEPTED),
    BadInput("request-cache-garbage-pages", "a request cache whose header is whole but two pages are garbage: "
             "SQLite's quick check finds it; moved aside and a fresh store started", _request_cache(_garbage_pages),
             (f"{STORE}: damaged", f"moved aside to {STORE}.damaged"), ACCEPTED),
    BadInput("request-cache-foreign-table", "another program's SQLite file with an `answers` table of other columns",
             _foreign("CREATE TABLE answers (question TEXT, reply TEXT)"),
             ("--request-cache", STORE, "table 'answers' with columns (question, reply) is not a tunegate request "
              "cache's")),
    BadInput("request-cache-foreign-database", "another program's SQLite database (tables tunegate never writes)",
             _foreign("CREATE TABLE users (name TEXT)"),
             ("--request-cache", STORE, "table 'users'", "only tables answers, fingerprints")),
    BadInput("request-cache-newer-schema", "a request cache written by a newer tunegate (a higher user_version)",
             _request_cache(_sql("PRAGMA user_version = 7")),
             ("--request-cache", STORE, "PRAGMA user_version = 7, written by a newer tunegate")),
    BadInput("request-cache-hot-journal", "a request cache beside the journal of a writer that crashed "
             "mid-transaction: rolled back by SQLite on open, never taken for damage", _hot_journal, ("2 passed",),
             ACCEPTED, runs_tests=True),
    BadInput("request-cache-locked", "a request cache another process keeps locked (BEGIN EXCLUSIVE)", _locked,
             ("--request-cache", STORE, "locked by another process")),
    BadInput("request-cache-read-only", "a read-only request cache: its answers are reused, new ones not kept "
             "(a shared cache mounted read-only is a fair use)",
             _read_only(".", _request_cache(lambda path: None)),
             ("--request-cache", f"{STORE}: read-only", "new ones are not kept"), ACCEPTED),
    BadInput("request-cache-answer-not-text", "a request cache row whose generated answer is a number: that row is "
             "ignored and recomputed", _row("generate:48", "5"),
             (f"{STORE}: 1 of 301 rows cannot be trusted", "answer must be text, got 5", "recomputed"), ACCEPTED),
    BadInput("request-cache-answer-not-json", "a request cache row whose answer column holds bytes, not JSON "
             "text: ignored and recomputed", _row("generate:48", b"\x80five"),
             ("rows cannot be trusted", "must be JSON text, got str and bytes"), ACCEPTED),
    BadInput("request-cache-loglikelihood-text", "a request cache row whose log-likelihood is text: ignored and "
             "recomputed", _row("loglikelihood", '"high"'),
             ("kind 'loglikelihood'", "answer must be [log-probability, token count], got 'high'"), ACCEPTED),
    BadInput("request-cache-locked-during-run", "another process holding the request cache's lock past the wait "
             "while the run writes: one warning, answers not cached, the run goes on", _locked_during_run,
             (STORE, "database is locked", "answers are not cached from here on", "2 passed"), ACCEPTED,
             runs_tests=True),
    BadInput("answer-folder-wrong-types", "a stored answer file whose generated answers are numbers: its answers "
             "are ignored and recomputed", _answer_file([["q", 5], ["r", "fine"]]),
             ("--cache-dir", "1 stored answer file(s) cannot be trusted", "answers[0]: answer must be text, got 5"),
             ACCEPTED),
    BadInput("answer-folder-not-an-object", "a stored answer file holding a list: ignored, its answers recomputed",
             lambda p: ((p.cache / "answers").mkdir(parents=True),
                        (p.cache / "answers" / "loglikelihood-0123.json").write_text("[1, 2]"), [])[2],
             ("loglikelihood-0123.json", "expected an object with keys 'kind'"), ACCEPTED),
    BadInput("answer-folder-is-a-file", "a file where the answer folder (`<cache-dir>/answers`) belongs",
             lambda p: (p.cache.mkdir(), (p.cache / "answers").write_text("x"), [])[2],
             ("--cache-dir", "answers is a file, expected the folder of stored answers")),
    BadInput("answer-folder-read-only", "a read-only answer folder: its answers are reused, new ones not kept",
             _read_only("cache/answers", lambda p: ((p.cache / "answers").mkdir(parents=True), [])[1]),
             ("--cache-dir", "answers: read-only", "new ones are not kept"), ACCEPTED),
    BadInput("answer-folder-disk-full", "the disk filling up while an answer is stored: one warning, answers not "
             "cached, the run goes on", _disk_full,
             ("answers: No space left on device", "answers are not cached from here on", "2 passed"), ACCEPTED,
             runs_tests=True),
    BadInput("cached-adapter-corrupt-log", "a cached adapter whose training log is cut short: retrained when "
             "needed, the entry replaced", _entry("adapter-identity", ADAPTER_KEY, {
                 "training_log.json": '[{"step": 1, "loss": 2.', "training_info.json": GOOD_INFO}),
             ("--cache-dir", "1 cache entry cannot be trusted", "training_log.json: unreadable",
              "adapter retrained"), ACCEPTED),
    BadInput("cached-adapter-log-wrong-types", "a cached adapter whose training log has a loss in text",
             _entry("adapter-identity", ADAPTER_KEY, {"training_log.json": '[{"step": 1, "loss": "low"}]',
                                                      "training_info.json": GOOD_INFO}),
             ("training_log.json: entry 0 must have a whole-number 'step' and a numeric or null 'loss'",),
             ACCEPTED),
    BadInput("cached-adapter-no-summary", "a cached adapter without its training summary",
             _entry("adapter-identity", ADAPTER_KEY, {"training_log.json": GOOD_LOG}),
             ("training_info.json: missing",), ACCEPTED),
    BadInput("model-cache-foreign-entry", "a model cache entry whose key file is not the key its name was hashed "
             "from (copied or edited): rebuilt when needed", _foreign_entry,
             ("builtin-0123456789abcdef0123: cache_key.json is not the key", "rebuilt"), ACCEPTED),
    BadInput("model-cache-entry-a-file", "a file where a model cache entry belongs: replaced when rebuilt",
             lambda p: (p.cache.mkdir(), (p.cache / "builtin-0123456789abcdef0123").write_text("x"), [])[2],
             ("builtin-0123456789abcdef0123: a file where a cache entry belongs",), ACCEPTED),
    BadInput("model-cache-half-written", "what a build killed half-way leaves (a staging folder, an entry without "
             "its completion marker): never taken for an entry, rebuilt when needed", _half_written, ("2 passed",),
             ACCEPTED, runs_tests=True),
    BadInput("cache-dir-not-writable", "--cache-dir that is not writable", _unwritable_cache,
             ("--cache-dir", "cache", "is not writable")),
    BadInput("env-cache-dir-answers-a-file", "$TUNEGATE_CACHE_DIR whose answers/ is a file (once blamed on "
             "--cache-dir, an option the user never passed)", _env_cache_with_answers_file,
             ("$TUNEGATE_CACHE_DIR", "answers is a file")),
]
