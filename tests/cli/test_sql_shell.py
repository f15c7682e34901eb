"""`revops sql` as a person meets it: the prompt driven through a pseudo-terminal (pexpect), and the
one-shot and piped forms as a script meets them. Each runs `revops` as a subprocess on a fresh, empty
embedded warehouse in the test's own REVOPS_HOME (the `revops_home` fixture)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from revops.cli.sql import Statement, split_statements
from revops.core.warehouse import connect, hold_embedded_lock

REVOPS = str(Path(sys.executable).with_name("revops"))
STARTUP_S = 60.0  # importing the CLI takes seconds on a busy machine; only the cancel test times itself
# Terminal control sequences (CSI, OSC, charset and keypad switches) prompt_toolkit and rich draw with.
_CONTROL = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r")
_CURSOR_FORWARD = re.compile(r"\x1b\[(\d*)C")
ROWS_LINE = r"\d+ rows? in [\d.]+s[^\n]*\n"
BOX_DRAWING = re.compile(r"[\u2500-\u257f]")


def _env(home: Path) -> dict[str, str]:
    # No cursor-position requests (pexpect would have to answer them); no pager for small results anyway.
    return {**os.environ, "REVOPS_HOME": str(home), "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}


class Terminal:
    """A `revops sql` prompt in a pseudo-terminal, read as plain text (control sequences removed)."""

    def __init__(
        self, home: Path, *options: str, dimensions: tuple[int, int] = (50, 160), **env: str
    ) -> None:
        self.child = pexpect.spawn(
            REVOPS,
            ["sql", *options],
            env={**_env(home), **env},
            encoding="utf-8",
            dimensions=dimensions,
            timeout=STARTUP_S,
        )
        self.seen = ""  # plain text read so far and not yet consumed by `read_until`
        self._pending = ""  # raw output ending in an escape sequence not complete yet

    def read_until(self, pattern: str, timeout: float = STARTUP_S) -> str:
        """Everything up to and including the first match of `pattern`; later text stays for the next call."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.seen, re.DOTALL)
            if found:
                text, self.seen = self.seen[: found.end()], self.seen[found.end() :]
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout}s; the terminal showed:\n{self.seen}")
            with contextlib.suppress(pexpect.TIMEOUT):
                self._pending += self.child.read_nonblocking(65536, timeout=0.1)
            # Strip whole sequences only: keep a trailing partial escape until the rest arrives.
            raw, cut = self._pending, self._pending.rfind("\x1b")
            partial = cut >= 0 and len(raw) - cut < 16
            complete, self._pending = (raw[:cut], raw[cut:]) if partial else (raw, "")
            # The renderer moves the cursor right over blanks instead of printing them.
            spaced = _CURSOR_FORWARD.sub(lambda move: " " * int(move.group(1) or 1), complete)
            self.seen += _CONTROL.sub("", spaced)

    def prompt(self) -> str:
        return self.read_until(r"revops>")

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def run(self, statement: str, results: int = 1) -> str:
        """Type a statement and Enter; the text printed up to the rows line of its last result.

        Waiting for results rather than for the prompt: the prompt line is redrawn as Enter is handled.
        """
        self.send(statement + "\r")
        return "".join(self.read_until(ROWS_LINE) for _ in range(results))

    def leave(self) -> None:
        self.send("\x04")  # Ctrl-D
        self.child.expect(pexpect.EOF, timeout=STARTUP_S)
        self.child.close()
        assert self.child.exitstatus == 0


@pytest.fixture
def terminal(revops_home: Path) -> Iterator[Terminal]:
    shell = Terminal(revops_home)
    shell.prompt()
    yield shell
    if shell.child.isalive():
        shell.child.terminate(force=True)


def test_history_is_recalled_in_the_next_session(revops_home: Path, terminal: Terminal) -> None:
    assert "remembered" in terminal.run("SELECT 'remembered' AS word;")
    terminal.leave()
    history = revops_home / "sql_history"
    assert "SELECT 'remembered' AS word;" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600  # statements may hold passwords

    again = Terminal(revops_home)
    again.prompt()
    again.send("\x1b[A")  # Up: the last statement of the previous session
    again.read_until(r"SELECT 'remembered' AS word;")
    result = again.run("")  # Enter runs it as recalled
    assert re.search(r"│ remembered │", result) and "1 row in" in result
    again.leave()


def test_a_statement_goes_on_until_its_semicolon(terminal: Terminal) -> None:
    terminal.send("SELECT\r")
    terminal.read_until(r"-> ")
    terminal.send("1 + 1\r")
    terminal.read_until(r"-> ")
    # Nothing ran yet: no result until the `;`.
    assert "row" not in terminal.seen
    result = terminal.run("AS two;")
    assert re.search(r"┃ two ┃", result) and re.search(r"│ 2 +│", result) and "1 row in" in result

    # Ctrl-C with something typed clears the line instead of running it or leaving.
    terminal.send("SELECT 'discarded'")
    terminal.send("\x03")
    result = terminal.run("SELECT 'kept' AS word;")
    assert re.search(r"│ kept │", result) and "│ discarded" not in result


def test_ctrl_c_cancels_the_running_query_and_keeps_the_prompt(terminal: Terminal) -> None:
    terminal.run("SELECT 1;")  # the engine's first start in this process is behind us
    terminal.send("SELECT sleep(3);\r")
    time.sleep(1.0)  # the statement is running
    interrupted = time.monotonic()
    terminal.send("\x03")
    terminal.read_until(r"Query cancelled")
    result = terminal.run("SELECT 40 + 2 AS answer;")
    answered = time.monotonic() - interrupted
    assert re.search(r"│ 42 +│", result)
    # Uncancelled, sleep(3) would still run for 2 s after the Ctrl-C; cancelled, the answer is quick.
    assert answered < 1.8, f"the next answer took {answered:.1f}s after Ctrl-C"
    terminal.leave()


def test_tab_completes_columns_and_tables_from_the_warehouse(terminal: Terminal) -> None:
    terminal.run("CREATE TABLE default.shell_probe (amount_cents Int64) ENGINE = MergeTree ORDER BY tuple();")
    terminal.send("SELECT amount_c\t")  # the catalog is read on the first Tab, after the table exists
    terminal.read_until(r"SELECT amount_cents")
    terminal.send(" FROM default.shell_pr\t")
    terminal.read_until(r"FROM default\.shell_probe")
    result = terminal.run(";")
    assert re.search(r"┃ amount_cents ┃", result) and "0 rows in" in result


def test_the_prompt_does_not_hold_the_embedded_warehouse(revops_home: Path, terminal: Terminal) -> None:
    terminal.run("SELECT 1;")
    # While the shell waits at its prompt this process can take the warehouse (a `revops run` could).
    with connect(timeout_s=5) as client:
        client.command("CREATE TABLE default.written_meanwhile (n UInt8) ENGINE = MergeTree ORDER BY n")
        client.command("INSERT INTO default.written_meanwhile VALUES (7)")
    result = terminal.run("SELECT n FROM default.written_meanwhile;")
    assert re.search(r"│ 7 │", result)
    terminal.leave()


def test_backslash_g_prints_one_line_per_value(terminal: Terminal) -> None:
    result = terminal.run("SELECT number AS n, toString(number * 10) AS tens FROM numbers(2)\\G")
    assert re.search(r"Row 1:\n─+\n   n: 0\ntens: 0\n\nRow 2:\n─+\n   n: 1\ntens: 10\n", result), result
    assert "┃" not in result  # not a table


def test_several_statements_print_one_result_each(terminal: Terminal) -> None:
    result = terminal.run("SELECT 'first' AS a; SELECT 'second' AS b;", results=2)
    assert result.count("1 row in") == 2
    first = re.search(r"┃ a +┃.*│ first │", result, re.DOTALL)
    second = re.search(r"┃ b +┃.*│ second │", result, re.DOTALL)
    assert first and second and first.end() < second.start(), result


def test_long_results_are_capped_with_a_line_saying_how_many_more(revops_home: Path) -> None:
    capped = Terminal(revops_home, "--max-rows", "3")
    capped.prompt()
    result = capped.run("SELECT number AS n FROM numbers(10);")
    assert re.findall(r"│ (\d) │", result) == ["0", "1", "2"]
    assert "10 rows in" in result and "(7 more not shown" in result
    capped.leave()


def test_a_table_wider_than_the_terminal_goes_through_the_pager_unfolded(revops_home: Path) -> None:
    paged = revops_home.parent / "paged.txt"
    narrow = Terminal(revops_home, dimensions=(30, 60), PAGER=f"tee {paged}")
    narrow.prompt()
    narrow.run("SELECT repeat('wide', 25) AS long_value, 1 AS n;")
    lines = paged.read_text().splitlines()
    assert any("wide" * 25 in line and len(_CONTROL.sub("", line)) > 100 for line in lines), lines
    narrow.leave()


def _revops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REVOPS, *args], env=_env(home), capture_output=True, text=True, timeout=STARTUP_S, check=False
    )


def test_a_wrong_table_is_one_line_on_stderr(revops_home: Path) -> None:
    done = _revops(revops_home, "sql", "SELECT * FROM no_such_table")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.rstrip("\n")]  # exactly one line
    assert done.stderr.startswith("revops sql: Code: 60. DB::Exception: Unknown table expression identifier")
    assert "no_such_table" in done.stderr and "Traceback" not in done.stderr


def test_a_busy_warehouse_and_a_bad_url_are_one_line_for_any_command(revops_home: Path) -> None:
    with hold_embedded_lock():
        busy = subprocess.run(
            [REVOPS, "sql", "SELECT 1"],
            env={**_env(revops_home), "REVOPS_WAREHOUSE_LOCK_TIMEOUT_S": "0.5"},
            capture_output=True,
            text=True,
            timeout=STARTUP_S,
            check=False,
        )
    assert busy.returncode == 1 and len(busy.stderr.splitlines()) == 1
    assert (
        busy.stderr.startswith("revops sql: the embedded warehouse") and f"pid {os.getpid()}" in busy.stderr
    )

    bad_url = subprocess.run(
        [REVOPS, "status"],
        env={**_env(revops_home), "REVOPS_WAREHOUSE_URL": "ftp://warehouse"},
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
        check=False,
    )
    assert bad_url.returncode == 1
    assert bad_url.stderr.splitlines() == [
        "revops status: unsupported warehouse URL scheme 'ftp': use "
        "chdb:///abs/path or http(s)://host:port/db"
    ]


def test_debug_shows_the_traceback(revops_home: Path) -> None:
    done = _revops(revops_home, "--debug", "sql", "SELECT * FROM no_such_table")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "Code: 60" in done.stderr and len(done.stderr.splitlines()) > 5


def test_piped_output_is_plain_text(revops_home: Path) -> None:
    done = _revops(revops_home, "sql", "SELECT 1 AS a, 'x\ty' AS b; SELECT NULL AS c")
    assert done.returncode == 0, done.stderr
    assert not BOX_DRAWING.search(done.stdout) and "\x1b" not in done.stdout
    assert done.stdout == "a\tb\n1\tx\\ty\n\nc\n\\N\n"


def test_statements_split_on_semicolons_and_backslash_g_outside_quotes_and_comments() -> None:
    text = "SELECT ';' AS a; -- not; a statement\nSELECT 2\\G\n/* ; */ SELECT 3"
    assert split_statements(text) == [
        Statement("SELECT ';' AS a"),
        Statement("-- not; a statement\nSELECT 2", vertical=True),
        Statement("/* ; */ SELECT 3"),
    ]
    assert split_statements("  ;; -- only a comment\n") == []
