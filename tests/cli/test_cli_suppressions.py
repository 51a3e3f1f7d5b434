"""`leads suppression add|list|remove|check` against the live service: what each prints, and
what the database holds after it."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from leads_client.api_client import encode_json
from leads_client.importer import idempotency_key
from tests.cli.conftest import item_reason, simple_table, write
from tests.contract import (
    database_state,
    leads_url,
    move_to,
    query_rows,
    stored_leads,
    usage_error,
)
from tests.live_server import Fault

ONE_VALUE = "a line gives exactly one of email, domain, linkedin_url"
RESUME_HINT = (
    "leads: the import stopped before the end; re-run the same command to finish it "
    "(entries already added will count as duplicates).\n"
)
ENTRY_HEADERS = ["ID", "KIND", "VALUE", "REASON", "NOTE", "CREATED AT"]
ENTRY_KEYS = ["id", "kind", "value", "reason", "note", "created_at"]
# Entries that several tests put on the list.
EVE = {"kind": "email", "value": "eve@example.com", "reason": "unsubscribed"}
ADA = {"kind": "linkedin_url", "value": "linkedin.com/in/ada"}


def summary(**changes) -> dict:
    return {
        "rows": 0,
        "added": 0,
        "duplicates": 0,
        "rejected": [],
        "replayed_batches": 0,
        "complete": True,
        **changes,
    }


def stored_entries(db, workspace: str = "acme") -> list[dict]:
    """The workspace's suppression entries as stored, oldest first (ties by id)."""
    return query_rows(
        db,
        "SELECT s.kind::text, s.value, s.reason::text, s.note FROM suppressions s "
        "JOIN workspaces w ON w.id = s.workspace_id WHERE w.name = %s "
        "ORDER BY s.created_at, s.id",
        (workspace,),
    )


def entry(kind: str, value: str, reason: str = "manual", note: str | None = None) -> dict:
    return {"kind": kind, "value": value, "reason": reason, "note": note}


def listed(api, **query) -> list[dict]:
    """Every entry as the API lists it, oldest first."""
    params = "&".join(f"{key}={value}" for key, value in {"limit": 200, **query}.items())
    entries, cursor = [], None
    while True:
        body = api.get(f"/api/suppressions?{params}" + (f"&cursor={cursor}" if cursor else "")).json
        entries += body["suppressions"]
        cursor = body["next_cursor"]
        if cursor is None:
            return entries


def add_entries(api, entries: list[dict]) -> list[dict]:
    response = api.post("/api/suppressions", json={"entries": entries})
    assert response.status_code == 200, response.json
    return listed(api)


@pytest.fixture
def entries(request, api) -> list[dict]:
    """The ENTRIES of the test's class on the list, as the API lists them."""
    return add_entries(api, request.cls.ENTRIES)


def api_reason(api, bad_entry: dict) -> str:
    """What the API says of one bad entry, as the summary words it: field: message."""
    return item_reason(api, "/api/suppressions", "entries", bad_entry)


def suppress(invoke, *args: str, **kwargs):
    return invoke("suppression", "add", *args, **kwargs)


class TestAdd:
    CSV = (
        "email,domain,linkedin_url,reason,note\n"
        "Eve@Example.com,,,unsubscribed,\n"  # 2: added
        ",@Spam.Example,,complained,ticket 4411\n"  # 3: added (normalized)
        ",,linkedin.com/in/Ada-L/,,\n"  # 4: added, reason manual
        "eve@example.com,,,bounced,\n"  # 5: duplicate of line 2 (its reason stays)
        "a@x.io,x.io,,,\n"  # 6: rejected here: two values
        ",,,,just a note\n"  # 7: rejected here: no value
        "\n"  # blank: skipped
        ",acme,,,\n"  # 9: rejected by the API: no dot
        ",old.example,,,\n"  # 10: duplicate of an entry already on the list
        ",,,sometimes,\n"  # 11: rejected here: no value (the reason is not looked at)
        "b@x.io,,,bogus,\n"  # 12: rejected by the API: unknown reason
    )

    def expected_rejections(self, api) -> list[dict]:
        return [
            {"line": 6, "reason": f"several values (email, domain): {ONE_VALUE}"},
            {"line": 7, "reason": f"no value: {ONE_VALUE}"},
            {"line": 9, "reason": api_reason(api, {"kind": "domain", "value": "acme"})},
            {"line": 11, "reason": f"no value: {ONE_VALUE}"},
            {
                "line": 12,
                "reason": api_reason(api, {"kind": "email", "value": "b@x.io", "reason": "bogus"}),
            },
        ]

    def test_csv_lines_are_added_once_and_rejected_lines_named(
        self, invoke, api, db, tmp_path, injector
    ):
        add_entries(api, [{"kind": "domain", "value": "old.example"}])
        path = write(tmp_path, "unsubscribes.csv", self.CSV)
        result = suppress(invoke, "--file", path)
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.json == summary(
            rows=10, added=3, duplicates=2, rejected=self.expected_rejections(api)
        )
        assert stored_entries(db) == [
            entry("domain", "old.example"),
            entry("email", "eve@example.com", "unsubscribed"),
            entry("domain", "spam.example", "complained", "ticket 4411"),
            entry("linkedin_url", "https://www.linkedin.com/in/ada-l"),
        ]
        # The lines rejected here never travel; a batch the API rejects is resent without
        # its bad lines, under a new key.
        sent = [
            ([item["value"] for item in request.items], request.status)
            for request in injector.requests
        ]
        assert sent == [
            (
                ["Eve@Example.com", "@Spam.Example", "linkedin.com/in/Ada-L/", "eve@example.com",
                 "acme", "old.example", "b@x.io"],
                400,
            ),
            (
                ["Eve@Example.com", "@Spam.Example", "linkedin.com/in/Ada-L/", "eve@example.com",
                 "old.example"],
                200,
            ),
        ]  # fmt: skip
        first, second = (request.idempotency_key for request in injector.requests)
        assert first != second
        assert second == idempotency_key("suppressions", encode_json(injector.requests[1].body))

    def test_table_summary(self, invoke, api, tmp_path):
        add_entries(api, [{"kind": "domain", "value": "old.example"}])
        path = write(tmp_path, "unsubscribes.csv", self.CSV)
        result = suppress(invoke, "--file", path, "--format", "table")
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.stdout == "\n".join(
            [
                "Import: complete, 10 rows",
                "  added: 3",
                "  duplicates: 2",
                "  rejected: 5",
                *(
                    f"    line {item['line']}: {item['reason']}"
                    for item in self.expected_rejections(api)
                ),
                "",
            ]
        )  # fmt: skip

    def test_all_good_lines_exit_0(self, invoke, db, tmp_path):
        path = write(tmp_path, "u.csv", "E-mail,Note\nann@x.io,from the form\n")
        result = suppress(invoke, "--file", path, "--format", "table")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == (
            "Import: complete, 1 rows\n  added: 1\n  duplicates: 0\n  rejected: 0\n"
        )
        assert stored_entries(db) == [entry("email", "ann@x.io", note="from the form")]

    def test_reason_fills_the_lines_without_one(self, invoke, db, tmp_path):
        path = write(tmp_path, "u.csv", "email,reason\na@x.io,\nb@x.io,bounced\n")
        result = suppress(invoke, "--file", path, "--reason", "unsubscribed")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=2, added=2)
        assert stored_entries(db) == [
            entry("email", "a@x.io", "unsubscribed"),
            entry("email", "b@x.io", "bounced"),
        ]

    def test_json_lines_in_either_shape(self, invoke, api, db, tmp_path):
        path = write(
            tmp_path,
            "u.jsonl",
            '{"kind": "email", "value": "a@x.io", "note": "API shape"}\n'
            '{"linkedin_url": "https://de.linkedin.com/in/grace", "reason": "bounced"}\n'
            "\n"
            '{"kind": "email"}\n'
            '{"kind": "domain", "value": "x.io", "domain": "y.io"}\n'
            "[1]\n"
            '{"kind": "phone", "value": "555"}\n',
        )
        result = suppress(invoke, "--file", path)
        assert result.exit_code == 1
        assert result.json == summary(
            rows=6,
            added=2,
            rejected=[
                {"line": 4, "reason": "value is missing (kind and value go together)"},
                {"line": 5, "reason": f"both kind/value and domain: {ONE_VALUE}"},
                {"line": 6, "reason": "not a JSON object"},
                {"line": 7, "reason": api_reason(api, {"kind": "phone", "value": "555"})},
            ],
        )
        assert stored_entries(db) == [
            entry("email", "a@x.io", note="API shape"),
            entry("linkedin_url", "https://www.linkedin.com/in/grace", "bounced"),
        ]

    def test_entries_argument_names_rows_by_index(self, invoke, db):
        entries = json.dumps({"entries": [{"email": "a@x.io"}, {"note": "no value"}]})
        result = suppress(invoke, "--entries", entries, "--format", "table")
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.stdout == (
            "Import: complete, 2 rows\n"
            "  added: 1\n"
            "  duplicates: 0\n"
            "  rejected: 1\n"
            f"    entries[1]: no value: {ONE_VALUE}\n"
        )
        assert stored_entries(db) == [entry("email", "a@x.io")]

    def test_an_exported_list_imports_into_another_workspace(
        self, invoke, api, db, tmp_path, other_token
    ):
        add_entries(
            api,
            [
                {"kind": "email", "value": "a@x.io", "reason": "bounced", "note": 'say "hi", ok'},
                {"kind": "domain", "value": "spam.example"},
                ADA,
            ],
        )
        exported = invoke("suppression", "list", "--format", "csv")
        path = write(tmp_path, "export.csv", exported.stdout)
        result = suppress(invoke, "--file", path, env={"LEADS_API_TOKEN": other_token})
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=3, added=3)
        assert stored_entries(db, "globex") == stored_entries(db, "acme")

    def test_remove_from_drafts(self, invoke, api, db, tmp_path):
        draft = api.create_campaign("Draft", "email")
        launched = api.create_campaign("Launched", "email")
        other_draft = api.create_campaign("Other draft", "linkedin")
        rows = [{"email": "eve@example.com"}, {"email": "x@eu.spam.example"}, {"email": "ok@x.io"}]
        for campaign in (draft, launched):
            api.post(leads_url(campaign["id"]), json={"prospects": rows})
        api.post(
            leads_url(other_draft["id"]),
            json={
                "prospects": [{"linkedin_url": "linkedin.com/in/ada", "email": "a@spam.example"}]
            },
        )
        move_to(api, launched, "active")
        path = write(tmp_path, "u.csv", "email,domain\neve@example.com,\n,spam.example\n")
        result = suppress(invoke, "--file", path, "--remove-from-drafts")
        assert (result.exit_code, result.stderr) == (0, "")
        removed = sorted([(draft["id"], 2), (other_draft["id"], 1)])
        assert result.json == summary(
            rows=2,
            added=2,
            removed_from_drafts={
                "leads": 3,
                "campaigns": [{"id": key, "removed": count} for key, count in removed],
            },
        )
        assert [lead["identity"] for lead in stored_leads(db, draft["id"], ["identity"])] == [
            "ok@x.io"
        ]
        assert stored_leads(db, other_draft["id"], ["identity"]) == []
        assert len(stored_leads(db, launched["id"], ["identity"])) == 3  # frozen: unchanged
        assert api.get(f"/api/campaigns/{draft['id']}").json["campaign"]["stats"]["total"] == 1

        table = suppress(invoke, "--file", path, "--remove-from-drafts", "--format", "table")
        assert table.stdout == (
            "Import: complete, 2 rows\n"
            "  added: 2\n"
            "  duplicates: 0\n"
            "  rejected: 0\n"
            "  removed from draft rosters: 3 leads, from 2 campaigns\n"
            + "".join(f"    campaign {key}: {count}\n" for key, count in removed)
            + "  1 batch(es) were answered from an earlier identical request (Idempotency-Key "
            "replay); if you removed entries since, re-run with --fresh-keys\n"
        )

    @pytest.mark.parametrize(
        "text, message",
        [
            ("name,company\nEve,Acme\n", "the file has none of the columns email, domain and "
             "linkedin_url (nor kind and value)."),
            ("email,E-mail\na@x.io,b@x.io\n", "'email' and 'E-mail' both map to email"),
            ("", "the CSV file is empty (it needs a header row)"),
        ],
    )  # fmt: skip
    def test_bad_input_is_exit_2_before_anything_is_sent(
        self, invoke, db, tmp_path, injector, text, message
    ):
        before = database_state(db)
        result = suppress(invoke, "--file", write(tmp_path, "u.csv", text))
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads suppression add", f"Invalid value for --file: {message}"
        )
        assert injector.requests == []
        assert database_state(db) == before

    def test_entries_or_file(self, invoke):
        result = suppress(invoke)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads suppression add", "Give exactly one of --entries and --file."
        )


class TestResume:
    LINES = 23  # 5 batches of 5: the last one short

    def entries_csv(self, tmp_path) -> str:
        lines = "".join(f"person{number:02d}@example.com\n" for number in range(self.LINES))
        return write(tmp_path, "unsubscribes.csv", "email\n" + lines)

    def stored_values(self, db) -> list[str]:
        return [stored["value"] for stored in stored_entries(db)]

    @pytest.mark.parametrize(
        "kind, written_before_failure",
        [("503", 10), ("drop-before", 10), ("drop-after", 15)],
    )
    def test_a_failed_import_is_finished_by_a_rerun_adding_each_entry_once(
        self, invoke, db, tmp_path, injector, kind, written_before_failure
    ):
        path = self.entries_csv(tmp_path)
        every = [f"person{number:02d}@example.com" for number in range(self.LINES)]
        injector.arm(Fault(kind, first=3))  # the third request and every later one fail
        first = invoke(
            "--retries", "1", "suppression", "add", "--file", path, "--batch-size", "5",
            "--reason", "unsubscribed",
        )  # fmt: skip
        assert first.exit_code == 1
        assert first.json == summary(rows=10, added=10, complete=False)
        *_, hint, error = first.stderr.splitlines(keepends=True)
        assert hint == RESUME_HINT
        assert error.startswith("Error: ")
        assert self.stored_values(db) == every[:written_before_failure]
        first_keys = list(dict.fromkeys(request.idempotency_key for request in injector.requests))

        injector.reset()
        second = invoke(
            "suppression", "add", "--file", path, "--batch-size", "5", "--reason", "unsubscribed"
        )
        assert (second.exit_code, second.stderr) == (0, "")
        # Batches that made it are replayed from their keys: each answers what it did.
        replayed = written_before_failure // 5
        assert second.json == summary(rows=23, added=23, replayed_batches=replayed)
        assert [request.replayed for request in injector.requests] == (
            [True] * replayed + [False] * (5 - replayed)
        )
        second_keys = [request.idempotency_key for request in injector.requests]
        assert second_keys[:3] == first_keys
        assert self.stored_values(db) == every
        assert {stored["reason"] for stored in stored_entries(db)} == {"unsubscribed"}

    def test_past_the_keys_memory_entries_come_back_as_duplicates(
        self, invoke, db, tmp_path, injector
    ):
        path = self.entries_csv(tmp_path)
        injector.arm(Fault("503", first=3))
        invoke("--retries", "0", "suppression", "add", "--file", path, "--batch-size", "5")
        injector.reset()
        # --fresh-keys stands for keys the API has forgotten: the list dedups by value.
        second = suppress(invoke, "--file", path, "--batch-size", "5", "--fresh-keys")
        assert second.json == summary(rows=23, added=13, duplicates=10)
        assert len(stored_entries(db)) == 23

    def test_fresh_keys_re_add_entries_removed_since(self, invoke, api, db, injector):
        entries = '[{"email": "a@x.io"}, {"domain": "x.io"}]'
        assert suppress(invoke, "--entries", entries).exit_code == 0
        ids = [stored["id"] for stored in listed(api)]
        assert invoke("suppression", "remove", *ids).exit_code == 0

        replay = suppress(invoke, "--entries", entries)
        assert replay.json == summary(rows=2, added=2, replayed_batches=1)
        assert stored_entries(db) == []

        fresh = suppress(invoke, "--entries", entries, "--fresh-keys")
        assert fresh.json == summary(rows=2, added=2)
        assert stored_entries(db) == [entry("email", "a@x.io"), entry("domain", "x.io")]

    def test_the_progress_bar(self, run_leads, tmp_path):
        path = self.entries_csv(tmp_path)
        result = run_leads("suppression", "add", "--file", path, "--batch-size", "10", "--progress")
        assert result.exit_code == 0
        assert result.json == summary(rows=23, added=23)
        final = [line for line in re.split(r"[\r\n]", result.stderr) if line][-1]
        assert re.fullmatch(
            r"Importing: 100%\|.*\| 24/24 \[.*, added=23, duplicates=0, rejected=0\]", final
        ), result.stderr


class TestList:
    ENTRIES = [
        EVE,
        {"kind": "domain", "value": "spam.example", "note": "complaint"},
        ADA,
        {"kind": "email", "value": "ann@spam.example"},
    ]

    def test_table(self, invoke, entries):
        result = invoke("suppression", "list", "--format", "table")
        assert (result.exit_code, result.stderr) == (0, "")
        rows = [[item[key] for key in ENTRY_KEYS] for item in entries]
        assert result.stdout == simple_table(ENTRY_HEADERS, rows) + "\n4 entries\n"

    def test_json_filters(self, invoke, api, entries):
        result = invoke("suppression", "list", "--kind", "email", "--q", "SPAM")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == {"suppressions": [entries[3]], "total": 1, "next_cursor": None}

    def test_every_page_by_default(self, invoke, api):
        add_entries(api, [{"kind": "email", "value": f"p{n:03d}@x.io"} for n in range(450)])
        result = invoke("suppression", "list")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == {"suppressions": listed(api), "total": 450, "next_cursor": None}

    def test_limit_then_cursor(self, invoke, entries):
        first = invoke("suppression", "list", "--limit", "3")
        assert first.json["suppressions"] == entries[:3]
        assert first.json["total"] == 4
        cursor = first.json["next_cursor"]
        second = invoke("suppression", "list", "--cursor", cursor, "--format", "table")
        assert second.stdout == (
            simple_table(ENTRY_HEADERS, [[entries[3][key] for key in ENTRY_KEYS]])
            + "\n1 of 4 entries\n"
        )
        table = invoke("suppression", "list", "--limit", "1", "--format", "table")
        next_cursor = invoke("suppression", "list", "--limit", "1").json["next_cursor"]
        assert table.stdout.endswith(f"\n1 of 4 entries; more with --cursor {next_cursor}\n")

    def test_csv(self, invoke, entries):
        result = invoke("suppression", "list", "--format", "csv")
        assert (result.exit_code, result.stderr) == (0, "")
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert rows == [
            {key: "" if item[key] is None else item[key] for key in ENTRY_KEYS} for item in entries
        ]

    def test_empty(self, invoke, entries, other_token):
        result = invoke(
            "suppression", "list", "--format", "table", env={"LEADS_API_TOKEN": other_token}
        )
        assert (result.exit_code, result.stdout) == (0, "No suppression entries.\n")

    def test_an_api_error_is_exit_1_with_its_message(self, invoke):
        result = invoke("suppression", "list", "--q", "x" * 501)
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == "Error: q: Longer than maximum length 500 (HTTP 400)\n"


class TestRemove:
    def test_ids_and_a_file(self, invoke, api, db, tmp_path, other_api):
        entries = add_entries(api, [{"kind": "email", "value": f"p{n}@x.io"} for n in range(5)])
        other = add_entries(other_api, [{"kind": "email", "value": "p0@x.io"}])
        ids = [item["id"] for item in entries]
        path = write(tmp_path, "ids.txt", f"{ids[1]}\n\n{ids[2].upper()}\n{other[0]['id']}\n")
        result = invoke(
            "suppression", "remove", ids[0], ids[1], "--file", path, "--format", "table"
        )
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == "Removed 3 suppression entries; 1 of the ids named no entry.\n"
        assert stored_entries(db) == [entry("email", "p3@x.io"), entry("email", "p4@x.io")]
        assert stored_entries(db, "globex") == [entry("email", "p0@x.io")]

    def test_an_exported_csv_in_batches_of_500(self, invoke, api, db, tmp_path):
        add_entries(api, [{"kind": "email", "value": f"p{n:03d}@x.io"} for n in range(620)])
        exported = invoke("suppression", "list", "--q", "p0", "--format", "csv")
        path = write(tmp_path, "export.csv", exported.stdout)
        result = invoke("suppression", "remove", "--file", path)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == {"deleted": 100}
        assert len(stored_entries(db)) == 520
        every = invoke("suppression", "list", "--format", "csv")
        result = invoke("suppression", "remove", "--file", write(tmp_path, "all.csv", every.stdout))
        assert result.json == {"deleted": 520}
        assert stored_entries(db) == []

    def test_bad_ids_are_exit_2_and_nothing_is_removed(self, invoke, api, db, tmp_path):
        (item,) = add_entries(api, [{"kind": "email", "value": "a@x.io"}])
        path = write(tmp_path, "ids.txt", f"{item['id']}\nnot-an-id\n")
        before = database_state(db)
        result = invoke("suppression", "remove", item["id"], "42", "--file", path)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads suppression remove",
            "Not an entry id: argument 2 ('42'), --file line 2 ('not-an-id').",
            "[IDS]...",
        )
        assert database_state(db) == before

    def test_nothing_to_remove(self, invoke):
        result = invoke("suppression", "remove")
        assert result.exit_code == 2
        assert result.stderr == usage_error(
            "leads suppression remove", "Give entry ids, or --file.", "[IDS]..."
        )


class TestCheck:
    ENTRIES = [EVE, {"kind": "domain", "value": "acme.com", "reason": "complained"}, ADA]

    ASKED = ["Eve@Example.com", "bob@eu.acme.com", "bob@notacme.com", "uk.linkedin.com/in/Ada/"]

    def test_json(self, invoke, db, entries):
        before = database_state(db)
        result = invoke("suppression", "check", *self.ASKED)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == {
            "results": [
                {"index": 0, "email": "Eve@Example.com", "suppressed": True, "matched": entries[0]},
                {"index": 1, "email": "bob@eu.acme.com", "suppressed": True, "matched": entries[1]},
                {"index": 2, "email": "bob@notacme.com", "suppressed": False, "matched": None},
                {"index": 3, "linkedin_url": "uk.linkedin.com/in/Ada/", "suppressed": True,
                 "matched": entries[2]},
            ]
        }  # fmt: skip
        assert database_state(db) == before

    def test_table(self, invoke, entries):
        result = invoke("suppression", "check", *self.ASKED, "--format", "table")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == simple_table(
            ["IDENTITY", "SUPPRESSED", "MATCHED", "REASON", "ENTRY ID"],
            [
                ["Eve@Example.com", "yes", "email eve@example.com", "unsubscribed",
                 entries[0]["id"]],
                ["bob@eu.acme.com", "yes", "domain acme.com", "complained", entries[1]["id"]],
                ["bob@notacme.com", "no", None, None, None],
                ["uk.linkedin.com/in/Ada/", "yes", "linkedin_url https://www.linkedin.com/in/ada",
                 "manual", entries[2]["id"]],
            ],
        ) + "\n"  # fmt: skip

    def test_another_workspaces_list_never_matches(self, invoke, entries, other_token):
        result = invoke(
            "suppression", "check", "eve@example.com", env={"LEADS_API_TOKEN": other_token}
        )
        assert result.json == {
            "results": [
                {"index": 0, "email": "eve@example.com", "suppressed": False, "matched": None}
            ]
        }

    def test_a_value_of_neither_shape_is_exit_2(self, invoke, injector):
        result = invoke("suppression", "check", "eve@example.com", "acme.com")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads suppression check",
            "Invalid value for IDENTITIES: 'acme.com' is neither an email address nor a LinkedIn "
            "profile URL (a domain is checked through an address at it, e.g. "
            "someone@example.com).",
            "IDENTITIES...",
        )

    def test_an_invalid_identity_is_exit_1_with_the_api_message(self, invoke, api):
        result = invoke("suppression", "check", "ok@x.io", "bad@@x.io")
        response = api.post(
            "/api/suppressions/check",
            json={"identities": [{"email": "ok@x.io"}, {"email": "bad@@x.io"}]},
        )
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {response.json['message']} (HTTP 400)\n"
