"""`leads events` against the live service: a page of the change feed, every event after a
cursor, and `--follow` as a process of its own, printing the events written while it runs
until Ctrl-C."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from leads_client import output
from leads_contract.values import EVENT_TYPES
from tests.contract import (
    feed,
    leads_url,
    purge_events_through,
    record_five_events,
    stored_events,
    usage_error,
)
from tests.live_server import LEADS_BIN, interruptible, process_env

# How long a test waits for a line of `--follow` or for it to exit: far above what it needs.
PROCESS_TIMEOUT = 30  # seconds
STOPPED = re.compile(r"^leads: stopped; to go on from here, pass --after (\S+)\n$")


def stored(db) -> list[dict]:
    return [event["event"] for event in stored_events(db)]


class Following:
    """`leads events --follow <args>` as a process of its own. A thread reads its standard
    output line by line, so that a check never blocks on a silent process; on leaving, the
    process is killed if it still runs, and its pipe and log are closed."""

    def __init__(self, args: list[str], env: dict[str, str], stderr_path: Path) -> None:
        self._stderr_path = stderr_path
        self._stderr = stderr_path.open("w")
        self.process = subprocess.Popen(
            [str(LEADS_BIN), "events", "--follow", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            preexec_fn=interruptible,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def lines(self, count: int) -> list[str]:
        """The next `count` lines it prints, without their line ends."""
        taken = []
        for _ in range(count):
            try:
                taken.append(self._lines.get(timeout=PROCESS_TIMEOUT).rstrip("\n"))
            except queue.Empty:
                raise AssertionError(f"no line within {PROCESS_TIMEOUT} s after {taken}") from None
        return taken

    def interrupt(self) -> tuple[int, list[str], str]:
        """Ctrl-C: its exit code, the lines it printed since the last read, its stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=PROCESS_TIMEOUT)
        self._reader.join(timeout=PROCESS_TIMEOUT)
        rest = []
        while not self._lines.empty():
            rest.append(self._lines.get_nowait())
        self._stderr.flush()
        return code, rest, self._stderr_path.read_text()

    def __enter__(self) -> Following:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=PROCESS_TIMEOUT)
        self._reader.join(timeout=PROCESS_TIMEOUT)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._stderr.close()


class TestReading:
    def test_one_page_is_the_api_body(self, invoke, api, db):
        record_five_events(api)
        run = invoke("events", "--limit", "2")
        assert (run.exit_code, run.stderr) == (0, "")
        assert run.json == feed(api, limit=2)
        assert run.json["events"] == stored(db)[:2]

    def test_all_after_a_cursor_in_commit_order(self, invoke, api, db):
        record_five_events(api)
        first = feed(api, limit=2)
        run = invoke("events", "--all", "--after", first["next_cursor"], "--limit", "2")
        assert (run.exit_code, run.stderr) == (0, "")
        assert list(run.json) == ["events", "next_cursor"]
        assert run.json["events"] == stored(db)[2:]
        # Its cursor is the feed's end: nothing after it, and polling gives it back.
        end = run.json["next_cursor"]
        assert feed(api, after=end) == {"events": [], "next_cursor": end}
        everything = invoke("events", "--all")
        assert everything.json == {"events": stored(db), "next_cursor": end}

    def test_a_type_filter(self, invoke, api, db):
        record_five_events(api)
        run = invoke("events", "--all", "--type", "campaign.status_changed")
        assert run.exit_code == 0
        (launched,) = [event for event in stored(db) if event["type"] == "campaign.status_changed"]
        assert run.json["events"] == [launched]

    def test_on_a_terminal_one_line_per_event_then_the_cursor(self, invoke, api, db):
        campaign = api.create_campaign("Spring", "email")
        added = api.post(
            "/api/suppressions", json={"entries": [{"kind": "email", "value": "a@b.io"}]}
        )
        entry = added.json["results"][0]["id"]
        created, suppressed = stored(db)
        run = invoke("events", "--format", "table")
        cursor = feed(api)["next_cursor"]
        assert (run.exit_code, run.stderr) == (0, "")
        assert run.stdout == (
            f"{created['occurred_at']}  campaign.created         {campaign['id']}  "
            '{"name":"Spring","type":"email"}\n'
            f"{suppressed['occurred_at']}  suppressions.added       -{' ' * 35}  "
            f'{{"ids":["{entry}"],"count":1}}\n'
            f"Next cursor: {cursor}\n"
        )
        empty = invoke("events", "--format", "table", "--after", cursor)
        assert empty.stdout == f"No events.\nNext cursor: {cursor}\n"

    @pytest.mark.parametrize("mode", [[], ["--all"], ["--follow"]], ids=["page", "all", "follow"])
    def test_a_cursor_past_retention_is_the_api_410(self, invoke, app, api, db, mode):
        for name in ("One", "Two", "Three"):
            api.create_campaign(name, "email")
        first = feed(api, limit=1)
        purge_events_through(app, db, 2)
        run = invoke("events", *mode, "--after", first["next_cursor"])
        gone = api.get("/api/events", query_string={"after": first["next_cursor"]})
        assert gone.status_code == 410
        assert (run.exit_code, run.stdout) == (1, "")
        assert run.stderr == f"Error: {gone.json['message']} (HTTP 410)\n"

    @pytest.mark.parametrize(
        "args, message",
        [
            (["--all", "--follow"], "--all and --follow cannot be used together."),
            (["--interval", "1"], "--interval goes with --follow."),
            (
                ["--type", "lead.deleted"],
                "Invalid value for '--type': 'lead.deleted' is not one of "
                + ", ".join(f"'{event_type}'" for event_type in EVENT_TYPES)
                + ".",
            ),
            (
                ["--limit", "1001"],
                "Invalid value for '--limit': 1001 is not in the range 1<=x<=1000.",
            ),
        ],
    )
    def test_usage_errors(self, invoke, args, message):
        run = invoke("events", *args)
        assert (run.exit_code, run.stdout) == (2, "")
        assert run.stderr == usage_error("leads events", message)


class TestFollow:
    @pytest.mark.parametrize("output_format", ["json", "table"])
    def test_it_prints_each_event_as_it_comes_until_ctrl_c(
        self, leads_env, api, db, tmp_path, output_format
    ):
        def printed(event: dict) -> str:
            if output_format == "json":
                return json.dumps(event, ensure_ascii=False)
            return output.event_line(event)

        campaign = api.create_campaign("Spring", "email")
        args = ["--interval", "0.1", "--format", output_format]
        with Following(args, process_env(**leads_env), tmp_path / "stderr") as following:
            assert following.lines(1) == [printed(stored(db)[0])]
            # Written while it runs: each comes on a line of its own, in commit order.
            rows = {"prospects": [{"email": "ada@example.com"}]}
            assert api.post(leads_url(campaign["id"]), json=rows).status_code == 200
            assert following.lines(1) == [printed(stored(db)[1])]
            entries = {"entries": [{"kind": "domain", "value": "x.io"}]}
            assert api.post("/api/suppressions", json=entries).status_code == 200
            assert api.post(f"/api/campaigns/{campaign['id']}/launch").status_code == 200
            assert following.lines(2) == [printed(event) for event in stored(db)[2:]]
            code, rest, stderr = following.interrupt()
        assert (code, rest) == (0, [])
        events = stored(db)
        assert len(events) == 4
        # Going on from the cursor it names misses nothing: what follows it was printed
        # already (the last page printed may come again: Ctrl-C can land between its last
        # line and the cursor's move).
        stopped = STOPPED.match(stderr)
        assert stopped, stderr
        again = feed(api, after=stopped.group(1))["events"]
        assert again == events[len(events) - len(again) :]
        assert len(again) <= 2


class TestClosedPipe:
    """`leads events --follow | head -n 1`: once the reader is gone, the next event printed
    ends the command quietly (exit 1, as click ends a write to a closed pipe), with no
    traceback."""

    def test_the_reader_going_away_ends_it_quietly(self, leads_env, api, tmp_path):
        campaign = api.create_campaign("Spring", "email")
        stderr_path = tmp_path / "stderr"
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(
                [str(LEADS_BIN), "events", "--follow", "--interval", "0.1"],
                env=process_env(**leads_env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                preexec_fn=interruptible,
            )
            try:
                assert process.stdout is not None
                assert json.loads(process.stdout.readline())["type"] == "campaign.created"
                process.stdout.close()  # what `head -n 1` does once it has its line
                rows = {"prospects": [{"email": "ada@example.com"}]}
                assert api.post(leads_url(campaign["id"]), json=rows).status_code == 200
                code = process.wait(timeout=PROCESS_TIMEOUT)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=PROCESS_TIMEOUT)
        assert (code, stderr_path.read_text()) == (1, "")
