"""`leads campaign lead add`: inputs, column mapping, rejected rows with their lines, dry runs,
Idempotency-Keys, retries and batch splitting, against the live service."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from leads_client.api_client import normalize_base_url, parse_retry_after
from leads_client.importer import idempotency_key
from leads_client.rows import custom_key, slug
from tests.cli.conftest import item_reason, write
from tests.cli.conftest import lead_summary as summary
from tests.contract import (
    STORED_FIELDS,
    database_state,
    frozen_roster,
    leads_url,
    move_to,
    stored_leads,
    usage_error,
)
from tests.live_server import LEADS_BIN, Fault, interruptible


def imported_fields(db, campaign: dict) -> list[dict]:
    """The campaign's leads as stored, oldest first: the columns an import writes."""
    return stored_leads(db, campaign["id"], STORED_FIELDS)


def stored_identities(db, campaign: dict) -> list[str]:
    return [lead["identity"] for lead in imported_fields(db, campaign)]


def lead(**fields) -> dict:
    """A stored lead; its identity is its email unless given."""
    row = dict.fromkeys(STORED_FIELDS)
    row["custom_fields"] = {}
    row.update(fields)
    row["identity"] = fields.get("identity", row["email"])
    return row


def add(invoke, campaign: dict, *args: str, **kwargs):
    return invoke("campaign", "lead", "add", "--id", campaign["id"], *args, **kwargs)


def api_reason(api, campaign: dict, prospect: dict) -> str:
    """What the API says about one bad row, as the summary words it: field: message."""
    return item_reason(api, f"{leads_url(campaign['id'])}?dry_run=true", "prospects", prospect)


ADD_COMMAND = "leads campaign lead add"


class TestInputs:
    @pytest.mark.parametrize("wrapped", [False, True])
    def test_prospects_argument(self, invoke, api, db, email_campaign, injector, wrapped):
        prospects = [
            {"email": " Ada@Example.com ", "first_name": "Ada", "custom_fields": {"tier": 1}},
            {"email": "grace@example.com", "company": "Navy", "Favourite Colour": "blue"},
            {"email": "ADA@example.com"},
        ]
        argument = json.dumps({"prospects": prospects} if wrapped else prospects)
        result = add(invoke, email_campaign, "--prospects", argument)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=3, imported=2, duplicates=1)
        assert imported_fields(db, email_campaign) == [
            lead(email="ada@example.com", first_name="Ada", custom_fields={"tier": 1}),
            lead(
                email="grace@example.com",
                company="Navy",
                custom_fields={"favourite_colour": "blue"},
            ),
        ]
        assert [len(request.items) for request in injector.requests] == [3]

    @pytest.mark.parametrize("input_format", ["csv", "jsonl", "tsv"])
    def test_columns_map_to_fields_and_custom_fields(
        self, invoke, db, email_campaign, tmp_path, input_format
    ):
        header = [
            "E-mail", "First Name", "Last Name", "Company Name", "Job Title", "Company Size",
            "Lead Source", "id", "status", "custom_fields", "Ünïcode Col", "CamelKey", "   ",
        ]  # fmt: skip
        rows = [
            [
                "ada@example.com", "Ada", "Lovelace", "Analytical Engines", "Countess", "50",
                "web", "0190a0a0-0000-7000-8000-000000000000", "replied",
                '{"tier": "gold", "lead_source": "overridden"}', "x", "y", "z",
            ],
            ["grace@example.com", "Grace", "", "", "", "", "", "", "", "", "", "", ""],
        ]  # fmt: skip
        if input_format == "jsonl":
            lines = [
                json.dumps(
                    {
                        key: json.loads(value) if key == "custom_fields" and value else value
                        for key, value in zip(header, row, strict=True)
                    }
                )
                for row in rows
            ]
            path = write(tmp_path, "leads.jsonl", "\n".join(lines) + "\n")
        else:
            delimiter = "\t" if input_format == "tsv" else ","

            def quote(cell):
                return '"' + cell.replace('"', '""') + '"' if '"' in cell or "," in cell else cell

            text = "".join(delimiter.join(map(quote, row)) + "\r\n" for row in [header, *rows])
            path = write(tmp_path, f"leads.{input_format}", text)
        result = add(invoke, email_campaign, "--file", path)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=2, imported=2)
        assert imported_fields(db, email_campaign) == [
            lead(
                email="ada@example.com",
                first_name="Ada",
                last_name="Lovelace",
                company="Analytical Engines",
                position="Countess",
                custom_fields={
                    "tier": "gold",
                    "lead_source": "web",
                    "company_size": "50",
                    "unicode_col": "x",
                    "CamelKey": "y",
                    "column_13": "z",
                },
            ),
            lead(email="grace@example.com", first_name="Grace"),
        ]

    def test_json_lines_keep_json_types(self, invoke, db, email_campaign, tmp_path):
        path = write(
            tmp_path,
            "leads.ndjson",
            '{"email": "a@x.io", "score": 4.5, "tags": ["x", "y"], "vip": true, "extra": null}\n'
            "\n"
            '   \n{"email": "b@x.io", "custom_fields": {"nested": {"deep": [1, 2]}}}',
        )
        result = add(invoke, email_campaign, "--file", path)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=2, imported=2)
        assert imported_fields(db, email_campaign) == [
            lead(email="a@x.io", custom_fields={"score": 4.5, "tags": ["x", "y"], "vip": True}),
            lead(email="b@x.io", custom_fields={"nested": {"deep": [1, 2]}}),
        ]

    def test_linkedin_campaign(self, invoke, db, linkedin_campaign, tmp_path):
        path = write(
            tmp_path,
            "people.csv",
            "LinkedIn Profile URL,Email,Name\n"
            "https://uk.linkedin.com/in/Ada-L/details/,ada@example.com,Ada L\n"
            "www.linkedin.com/in/ada-l,,Ada again\n"
            ",grace@example.com,No profile\n",
        )
        result = add(invoke, linkedin_campaign, "--file", path)
        assert result.exit_code == 1
        assert result.json == summary(
            rows=3,
            imported=1,
            duplicates=1,
            rejected=[{"line": 4, "reason": "linkedin_url is required for linkedin campaigns"}],
        )
        assert imported_fields(db, linkedin_campaign) == [
            lead(
                identity="https://www.linkedin.com/in/ada-l",
                linkedin_url="https://www.linkedin.com/in/ada-l",
                email="ada@example.com",
                name="Ada L",
            )
        ]

    def test_other_delimiters(self, invoke, db, email_campaign, tmp_path):
        path = write(tmp_path, "semicolons.csv", "email;company\na@x.io;Acme, Inc.\n")
        result = add(invoke, email_campaign, "--file", path, "--delimiter", ";")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=1, imported=1)
        assert imported_fields(db, email_campaign) == [lead(email="a@x.io", company="Acme, Inc.")]

    def test_standard_input(self, run_leads, db, email_campaign):
        result = run_leads(
            "campaign", "lead", "add", "--id", email_campaign["id"],
            "--file", "-", "--input-format", "csv",
            input="email,first_name\na@x.io,A\nb@x.io,B\n",
        )  # fmt: skip
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=2, imported=2)
        assert stored_identities(db, email_campaign) == ["a@x.io", "b@x.io"]

    def test_byte_order_mark_crlf_and_multiline_cells(self, invoke, db, email_campaign, tmp_path):
        text = (
            "\ufeffemail,headline\r\n"
            'a@x.io,"first line\r\nsecond line"\r\n'
            ",no email\r\n"
            'b@x.io,"one\ntwo\nthree"\r\n'
            'not-an-email,"x"\r\n'
        )
        path = write(tmp_path, "bom.csv", text)
        result = add(invoke, email_campaign, "--file", path)
        assert result.exit_code == 1
        assert result.json["rejected"][0] == {
            "line": 4,
            "reason": "email is required for email campaigns",
        }
        assert result.json["rejected"][1]["line"] == 8
        assert imported_fields(db, email_campaign) == [
            lead(email="a@x.io", headline="first line\r\nsecond line"),
            lead(email="b@x.io", headline="one\ntwo\nthree"),
        ]

    def test_an_exported_roster_imports_into_another_campaign(
        self, invoke, api, db, email_campaign, tmp_path
    ):
        source = api.create_campaign("Source", "email")
        response = api.post(
            leads_url(source["id"]),
            json={
                "prospects": [
                    {"email": "a@x.io", "first_name": "A", "custom_fields": {"k": "v", "n": 1}},
                    {"email": "b@x.io", "headline": 'He said "hi", twice'},
                ]
            },
        )
        assert response.json["imported"] == 2
        exported = invoke("campaign", "lead", "list", "--id", source["id"], "--format", "csv")
        assert len(exported.stdout.splitlines()) == 3, exported
        path = write(tmp_path, "export.csv", exported.stdout)
        result = add(invoke, email_campaign, "--file", path)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=2, imported=2)

        def listed(campaign):
            skip = {"id", "campaign_id", "created_at", "updated_at"}
            leads = api.get(leads_url(campaign["id"])).json["prospects"]
            return [{k: v for k, v in item.items() if k not in skip} for item in leads]

        assert listed(email_campaign) == listed(source)
        assert len(listed(source)) == 2


class TestRejectedRows:
    CSV = (
        "email,first_name,notes\n"  # line 1
        "a@x.io,A,\n"  # 2: imported
        ",NoEmail,\n"  # 3: no email, rejected locally
        "not-an-email,Bad,\n"  # 4: rejected by the API
        'b@x.io,B,"multi\n'  # 5: imported (two lines)
        'line note"\n'  # 6
        "a@x.io,Dup,\n"  # 7: duplicate of line 2
        "c@x.io,C,too,many\n"  # 8: four cells
        "\n"  # 9: blank, skipped
        "existing@x.io,E,\n"  # 10: already in the campaign
        '"   ",Blank,\n'  # 11: blank email, rejected locally
        "d@x.io,D,\n"  # 12: imported
        "e@x.io,E,{not json\n"  # 13: a note, imported
        "@@,Bad2,\n"  # 14: rejected by the API
    )

    def expected_rejections(self, api, campaign) -> list[dict]:
        return [
            {"line": 3, "reason": "email is required for email campaigns"},
            {"line": 4, "reason": api_reason(api, campaign, {"email": "not-an-email"})},
            {"line": 8, "reason": "has 4 cells, the header has 3"},
            {"line": 11, "reason": "email is required for email campaigns"},
            {"line": 14, "reason": api_reason(api, campaign, {"email": "@@"})},
        ]

    @pytest.mark.parametrize("batch_size", ["1000", "3", "1"])
    def test_rows_are_reported_with_their_lines_and_the_rest_imported(
        self, invoke, api, db, email_campaign, tmp_path, injector, batch_size
    ):
        api.post(leads_url(email_campaign["id"]), json={"prospects": [{"email": "existing@x.io"}]})
        path = write(tmp_path, "leads.csv", self.CSV)
        result = add(invoke, email_campaign, "--file", path, "--batch-size", batch_size)
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.json == summary(
            rows=11,
            imported=4,
            duplicates=2,
            rejected=self.expected_rejections(api, email_campaign),
        )
        assert stored_identities(db, email_campaign) == [
            "existing@x.io",
            "a@x.io",
            "b@x.io",
            "d@x.io",
            "e@x.io",
        ]
        campaign = api.get(f"/api/campaigns/{email_campaign['id']}").json["campaign"]
        assert campaign["stats"]["total"] == 5

    def test_a_rejected_batch_is_resent_without_the_bad_rows_under_a_new_key(
        self, invoke, api, email_campaign, tmp_path, injector
    ):
        path = write(tmp_path, "leads.csv", self.CSV)
        add(invoke, email_campaign, "--file", path, "--batch-size", "3")
        sent = [
            ([p["email"] for p in request.items], request.status) for request in injector.requests
        ]
        assert sent == [
            (["a@x.io", "not-an-email", "b@x.io"], 400),
            (["a@x.io", "b@x.io"], 200),
            (["a@x.io", "existing@x.io", "d@x.io"], 200),
            (["e@x.io", "@@"], 400),
            (["e@x.io"], 200),
        ]
        keys = [request.idempotency_key for request in injector.requests]
        assert len(set(keys)) == len(keys)
        for request in injector.requests:
            body = json.dumps(
                {"prospects": request.items}, ensure_ascii=False, separators=(",", ":")
            ).encode()
            assert request.idempotency_key == idempotency_key(email_campaign["id"], body)

    @pytest.mark.parametrize(
        "line, reason",
        [
            ("not json", "not valid JSON (Expecting value at column 1)"),
            (
                '{"email": "a@x.io",}',
                "not valid JSON (Expecting property name enclosed in double quotes at column 20)",
            ),
            ('{"email": "a@x.io", "email": "b@x.io"}', "not valid JSON (duplicate key 'email')"),
            ('{"email": "a@x.io", "score": NaN}', "not valid JSON (NaN is not valid JSON)"),
            ('["a@x.io"]', "not a JSON object"),
            ('{"email": "a@x.io", "Email": "b@x.io"}', "'email' and 'Email' both map to email"),
            ('{"email": "a@x.io", "custom_fields": [1]}', "custom_fields must be a JSON object"),
            ('{"email": null}', "email is required for email campaigns"),
            ('{"first_name": "A"}', "email is required for email campaigns"),
        ],
    )
    def test_bad_json_lines(self, invoke, db, email_campaign, tmp_path, line, reason):
        path = write(tmp_path, "leads.jsonl", f'{{"email": "ok@x.io"}}\n{line}\n')
        result = add(invoke, email_campaign, "--file", path)
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.json == summary(rows=2, imported=1, rejected=[{"line": 2, "reason": reason}])
        assert stored_identities(db, email_campaign) == ["ok@x.io"]

    @pytest.mark.parametrize(
        "prospect",
        [
            {"email": "a@x.io", "first_name": "x" * 201},
            {"email": "a@x.io", "custom_fields": {"k": "\u0000"}},
            {"email": "a@x.io", "first_name": 5},
            {"email": "a@x.io", "custom_fields": dict.fromkeys((f"k{i}" for i in range(101)), 1)},
        ],
    )
    def test_other_api_rejections_name_the_field(self, invoke, api, db, email_campaign, prospect):
        result = add(
            invoke, email_campaign, "--prospects", json.dumps([{"email": "ok@x.io"}, prospect])
        )
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.json == summary(
            rows=2,
            imported=1,
            rejected=[{"index": 1, "reason": api_reason(api, email_campaign, prospect)}],
        )
        assert stored_identities(db, email_campaign) == ["ok@x.io"]

    def test_a_bad_custom_fields_cell(self, invoke, db, email_campaign, tmp_path):
        path = write(
            tmp_path, "leads.csv", 'email,custom_fields\na@x.io,"{""a"": 1}"\nb@x.io,{oops\n'
        )
        result = add(invoke, email_campaign, "--file", path)
        assert result.exit_code == 1
        assert result.json["rejected"] == [
            {
                "line": 3,
                "reason": "custom_fields is not valid JSON "
                "(Expecting property name enclosed in double quotes at column 2)",
            }
        ]
        assert imported_fields(db, email_campaign) == [lead(email="a@x.io", custom_fields={"a": 1})]

    def test_table_summary(self, invoke, api, email_campaign, tmp_path):
        api.post(leads_url(email_campaign["id"]), json={"prospects": [{"email": "existing@x.io"}]})
        path = write(tmp_path, "leads.csv", self.CSV)
        result = add(invoke, email_campaign, "--file", path, "--format", "table")
        rejections = self.expected_rejections(api, email_campaign)
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.stdout == "\n".join(
            [
                "Import: complete, 11 rows",
                "  imported: 4",
                "  duplicates: 2",
                "  suppressed: 0",
                "  rejected: 5",
                *(f"    line {item['line']}: {item['reason']}" for item in rejections),
                "",
            ]
        )

    def test_prospects_rejections_are_named_by_index(self, invoke, email_campaign):
        result = add(
            invoke,
            email_campaign,
            "--prospects",
            '[{"email": "a@x.io"}, {"first_name": "x"}, 7]',
            "--format",
            "table",
        )
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.stdout == (
            "Import: complete, 3 rows\n"
            "  imported: 1\n"
            "  duplicates: 0\n"
            "  suppressed: 0\n"
            "  rejected: 2\n"
            "    prospects[1]: email is required for email campaigns\n"
            "    prospects[2]: not a JSON object\n"
        )


class TestDryRun:
    CSV = (
        "email,name\n"
        "a@x.io,A\n"  # 2: imported
        "b@x.io,B\n"  # 3: imported
        "a@x.io,A2\n"  # 4: duplicate of line 2 (in another batch when batches are small)
        ",NoEmail\n"  # 5: rejected locally
        "c@x.io,C\n"  # 6: imported
        "existing@x.io,E\n"  # 7: already in the campaign
        "bad,Bad\n"  # 8: rejected by the API
        "B@X.IO,B2\n"  # 9: duplicate of line 3 once normalized
    )

    @pytest.mark.parametrize("batch_size", ["1000", "2", "1"])
    def test_reports_what_the_real_run_then_does_and_writes_nothing(
        self, invoke, api, db, email_campaign, tmp_path, injector, batch_size
    ):
        api.post(leads_url(email_campaign["id"]), json={"prospects": [{"email": "existing@x.io"}]})
        path = write(tmp_path, "leads.csv", self.CSV)
        before = database_state(db)
        dry = add(invoke, email_campaign, "--file", path, "--batch-size", batch_size, "--dry-run")
        assert database_state(db) == before
        dry_requests = list(injector.requests)
        assert {request.query for request in dry_requests} == {"dry_run=true"}
        # Safe to repeat, so sent without a key: a replay would go stale as the roster moves.
        assert {request.idempotency_key for request in dry_requests} == {None}
        injector.reset()

        real = add(invoke, email_campaign, "--file", path, "--batch-size", batch_size)
        expected = summary(
            rows=8,
            imported=3,
            duplicates=3,
            rejected=[
                {"line": 5, "reason": "email is required for email campaigns"},
                {"line": 8, "reason": api_reason(api, email_campaign, {"email": "bad"})},
            ],
        )
        assert (real.exit_code, real.json) == (1, expected)
        assert (dry.exit_code, dry.json) == (1, {**expected, "dry_run": True})
        assert {request.query for request in injector.requests} == {""}
        assert None not in {request.idempotency_key for request in injector.requests}
        assert stored_identities(db, email_campaign) == [
            "existing@x.io",
            "a@x.io",
            "b@x.io",
            "c@x.io",
        ]

    def test_table_summary_says_dry_run(self, invoke, email_campaign):
        result = add(
            invoke, email_campaign, "--prospects", '[{"email": "a@x.io"}]', "--dry-run",
            "--format", "table",
        )  # fmt: skip
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == (
            "Dry run (nothing written): complete, 1 rows\n"
            "  would be imported: 1\n"
            "  duplicates: 0\n"
            "  suppressed: 0\n"
            "  rejected: 0\n"
        )


class TestIdempotencyKeys:
    def test_a_rerun_sends_the_same_keys_and_doubles_nothing(
        self, invoke, api, db, email_campaign, tmp_path, injector
    ):
        path = write(tmp_path, "leads.csv", "email\n" + "".join(f"l{i}@x.io\n" for i in range(7)))
        first = add(invoke, email_campaign, "--file", path, "--batch-size", "3")
        first_keys = [request.idempotency_key for request in injector.requests]
        injector.reset()
        second = add(invoke, email_campaign, "--file", path, "--batch-size", "3")
        second_requests = list(injector.requests)
        assert first.json == summary(rows=7, imported=7)
        # The API replays each batch's first answer; without that, all would be duplicates.
        assert second.json == summary(rows=7, imported=7, replayed_batches=3)
        assert [request.replayed for request in second_requests] == [True, True, True]
        assert [request.idempotency_key for request in second_requests] == first_keys
        assert len(set(first_keys)) == 3
        assert stored_identities(db, email_campaign) == [f"l{i}@x.io" for i in range(7)]

    def test_keys_depend_on_the_campaign(self, invoke, api, email_campaign, injector):
        other = api.create_campaign("Other", "email")
        prospects = '[{"email": "a@x.io"}]'
        add(invoke, email_campaign, "--prospects", prospects)
        add(invoke, other, "--prospects", prospects)
        first, second = (request.idempotency_key for request in injector.requests)
        assert first != second

    def test_fresh_keys_reimport_leads_removed_since(
        self, invoke, api, db, email_campaign, injector
    ):
        prospects = '[{"email": "a@x.io"}, {"email": "b@x.io"}]'
        assert add(invoke, email_campaign, "--prospects", prospects).exit_code == 0
        removed = invoke(
            "campaign", "lead", "remove", "--id", email_campaign["id"], "--all", "--yes"
        )
        assert removed.exit_code == 0

        # The API remembers the first import's key for a day and replays its answer.
        replay = add(invoke, email_campaign, "--prospects", prospects)
        assert replay.json == summary(rows=2, imported=2, replayed_batches=1)
        assert stored_identities(db, email_campaign) == []

        fresh = add(invoke, email_campaign, "--prospects", prospects, "--fresh-keys")
        assert fresh.json == summary(rows=2, imported=2)
        assert stored_identities(db, email_campaign) == ["a@x.io", "b@x.io"]
        keys = [request.idempotency_key for request in injector.requests]
        assert keys[0] == keys[1] != keys[2]

    def test_replays_are_mentioned_in_the_table_summary(self, invoke, email_campaign):
        prospects = '[{"email": "a@x.io"}]'
        add(invoke, email_campaign, "--prospects", prospects)
        result = add(invoke, email_campaign, "--prospects", prospects, "--format", "table")
        assert result.stdout == (
            "Import: complete, 1 rows\n"
            "  imported: 1\n"
            "  duplicates: 0\n"
            "  suppressed: 0\n"
            "  rejected: 0\n"
            "  1 batch(es) were answered from an earlier identical request (Idempotency-Key "
            "replay); if you removed leads since, re-run with --fresh-keys\n"
        )


class TestRetries:
    PROSPECTS = json.dumps([{"email": f"l{i}@x.io"} for i in range(5)])

    @pytest.mark.parametrize("status", ["503", "429", "502", "504", "409"])
    def test_retryable_answers_are_retried_under_the_same_key(
        self, invoke, db, email_campaign, injector, status
    ):
        injector.arm(Fault(status, first=2, times=2))
        result = add(invoke, email_campaign, "--prospects", self.PROSPECTS, "--batch-size", "2")
        assert result.exit_code == 0
        assert result.json == summary(rows=5, imported=5)
        assert result.stderr == "".join(
            f"leads: HTTP {status} Injected; retrying in 0.0s (retry {n} of 5)\n" for n in (1, 2)
        )
        statuses = [request.status for request in injector.requests]
        assert statuses == [200, int(status), int(status), 200, 200]
        keys = [request.idempotency_key for request in injector.requests]
        assert keys[1] == keys[2] == keys[3] != keys[0]
        assert stored_identities(db, email_campaign) == [f"l{i}@x.io" for i in range(5)]

    @pytest.mark.parametrize("kind", ["drop-before", "drop-after"])
    def test_dropped_connections_are_retried(self, invoke, db, email_campaign, injector, kind):
        injector.arm(Fault(kind, first=1, times=1))
        result = add(invoke, email_campaign, "--prospects", self.PROSPECTS, "--batch-size", "2")
        assert result.exit_code == 0
        replayed = int(bool(injector.requests[1].replayed))
        written_first = kind == "drop-after"
        assert result.json == summary(
            rows=5,
            imported=5 - 2 * (written_first and not replayed),
            duplicates=2 * (written_first and not replayed),
            replayed_batches=replayed,
        )
        assert replayed == written_first  # the API replays what it wrote under that key
        assert re.fullmatch(
            r"leads: RemoteProtocolError: Server disconnected without sending a response\.; "
            r"retrying in 0\.\ds \(retry 1 of 5\)\n",
            result.stderr,
        ), result.stderr
        assert stored_identities(db, email_campaign) == [f"l{i}@x.io" for i in range(5)]

    def test_retry_after_is_honoured(self, invoke, email_campaign, injector):
        injector.arm(Fault("503", first=1, times=1, retry_after="1"))
        started = time.monotonic()
        result = add(invoke, email_campaign, "--prospects", self.PROSPECTS)
        assert time.monotonic() - started >= 1.0
        assert result.stderr == "leads: HTTP 503 Injected; retrying in 1.0s (retry 1 of 5)\n"
        assert result.json == summary(rows=5, imported=5)

    def test_giving_up_reports_what_was_done(self, invoke, db, email_campaign, injector):
        injector.arm(Fault("503", first=2))
        result = invoke(
            "--retries", "1", "campaign", "lead", "add", "--id", email_campaign["id"],
            "--prospects", self.PROSPECTS, "--batch-size", "2",
        )  # fmt: skip
        assert result.exit_code == 1
        assert result.json == summary(rows=2, imported=2, complete=False)
        assert result.stderr == (
            "leads: HTTP 503 Injected; retrying in 0.0s (retry 1 of 1)\n"
            "leads: the import stopped before the end; re-run the same command to finish it "
            "(rows already imported will count as duplicates).\n"
            "Error: Injected 503. (HTTP 503)\n"
        )
        assert [request.status for request in injector.requests] == [200, 503, 503]
        assert stored_identities(db, email_campaign) == ["l0@x.io", "l1@x.io"]

    def test_too_large_batches_are_halved(self, invoke, db, email_campaign, injector):
        injector.arm(Fault("413", first=1, times=2, retry_after=None))
        result = add(invoke, email_campaign, "--prospects", self.PROSPECTS)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == summary(rows=5, imported=5)
        sizes = [(len(request.items), request.status) for request in injector.requests]
        assert sizes == [(5, 413), (2, 413), (1, 200), (1, 200), (3, 200)]
        assert stored_identities(db, email_campaign) == [f"l{i}@x.io" for i in range(5)]

    def test_a_single_row_too_large_is_rejected(self, invoke, db, email_campaign, injector):
        injector.arm(Fault("413", first=1, times=1, retry_after=None))
        result = add(invoke, email_campaign, "--prospects", '[{"email": "a@x.io"}]')
        assert (result.exit_code, result.stderr) == (1, "")
        assert result.json == summary(
            rows=1,
            rejected=[{"index": 0, "reason": "too large for the API's request size limit"}],
        )
        assert stored_identities(db, email_campaign) == []


class TestInterrupt:
    def test_ctrl_c_prints_the_summary_so_far(self, leads_env, db, email_campaign, injector):
        fault = injector.arm(Fault("hold", first=3, times=1))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADS_API_")}
        process = subprocess.Popen(
            [
                str(LEADS_BIN), "campaign", "lead", "add", "--id", email_campaign["id"],
                "--prospects", TestRetries.PROSPECTS, "--batch-size", "1",
            ],
            env={**env, **leads_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )  # fmt: skip
        try:
            assert fault.held.wait(timeout=60)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()  # reaps the child and closes its pipes
            fault.release.set()
        assert fault.done.wait(timeout=60)
        assert process.returncode == 1
        assert json.loads(stdout) == summary(rows=2, imported=2, complete=False)
        assert stderr == (
            "leads: the import stopped before the end; re-run the same command to finish it "
            "(rows already imported will count as duplicates).\n"
            "Aborted!\n"
        )
        # The held batch went through after the client had gone: a re-run finds it there.
        assert stored_identities(db, email_campaign) == ["l0@x.io", "l1@x.io", "l2@x.io"]


class TestProgress:
    def test_progress_bar_on_request(self, run_leads, email_campaign, tmp_path):
        path = write(tmp_path, "leads.csv", "email\n" + "".join(f"l{i}@x.io\n" for i in range(30)))
        result = run_leads(
            "campaign", "lead", "add", "--id", email_campaign["id"], "--file", path,
            "--batch-size", "10", "--progress",
        )  # fmt: skip
        assert result.exit_code == 0
        assert result.json == summary(rows=30, imported=30)
        final = [line for line in re.split(r"[\r\n]", result.stderr) if line][-1]
        assert re.fullmatch(
            r"Importing: 100%\|.*\| 31/31 "
            r"\[.*, imported=30, duplicates=0, suppressed=0, rejected=0\]",
            final,
        ), result.stderr

    def test_no_bar_off_a_terminal(self, run_leads, email_campaign, tmp_path):
        path = write(tmp_path, "leads.csv", "email\na@x.io\n")
        result = run_leads("campaign", "lead", "add", "--id", email_campaign["id"], "--file", path)
        assert (result.exit_code, result.stderr) == (0, "")


class TestUsageErrors:
    @pytest.mark.parametrize(
        "args, message",
        [
            ([], "Give exactly one of --prospects and --file."),
            (
                ["--prospects", "[]", "--file", "{csv}"],
                "Give exactly one of --prospects and --file.",
            ),
            (
                ["--prospects", "[]"],
                "Invalid value for --prospects: must be a non-empty JSON array of lead objects",
            ),
            (
                ["--prospects", "{}"],
                "Invalid value for --prospects: must be a non-empty JSON array of lead objects",
            ),
            (
                ["--prospects", "[{"],
                "Invalid value for --prospects: not valid JSON "
                "(Expecting property name enclosed in double quotes at column 3)",
            ),
            (
                ["--file", "{missing}"],
                "Invalid value for --file: cannot open '{missing}': No such file or directory",
            ),
            (
                ["--file", "{txt}"],
                "Invalid value for --file: cannot tell the format from the file name; "
                "pass --input-format csv, tsv or jsonl.",
            ),
            (
                ["--file", "{empty}"],
                "Invalid value for --file: the CSV file is empty (it needs a header row)",
            ),
            (
                ["--file", "{no_email}"],
                "Invalid value for --file: the file has no email column, "
                "which email campaigns require.",
            ),
            (
                ["--file", "{two_emails}"],
                "Invalid value for --file: 'Email' and 'E-mail' both map to email",
            ),
            (
                ["--file", "{latin1}"],
                "Invalid value for --file: the file is not valid UTF-8 text "
                "(save it as UTF-8 and re-run)",
            ),
            (
                ["--file", "{csv}", "--batch-size", "0"],
                "Invalid value for '--batch-size': 0 is not in the range 1<=x<=1000.",
            ),
            (
                ["--file", "{csv}", "--batch-size", "1001"],
                "Invalid value for '--batch-size': 1001 is not in the range 1<=x<=1000.",
            ),
            (
                ["--file", "{csv}", "--delimiter", ";;"],
                "Invalid value for '--delimiter': must be one character",
            ),
            (
                ["--file", "{csv}", "--input-format", "xlsx"],
                "Invalid value for '--input-format': 'xlsx' is not one of 'csv', 'tsv', 'jsonl'.",
            ),
        ],
    )
    def test_exit_2_before_anything_is_sent(
        self, invoke, db, email_campaign, tmp_path, injector, args, message
    ):
        files = {
            "csv": write(tmp_path, "ok.csv", "email\na@x.io\n"),
            "missing": str(tmp_path / "missing.csv"),
            "txt": write(tmp_path, "leads.txt", "email\na@x.io\n"),
            "empty": write(tmp_path, "empty.csv", ""),
            "no_email": write(
                tmp_path, "no_email.csv", "first_name,linkedin_url\nA,linkedin.com/in/a\n"
            ),
            "two_emails": write(tmp_path, "two.csv", "Email,E-mail\na@x.io,b@x.io\n"),
            "latin1": write(
                tmp_path, "latin1.csv", "email,name\na@x.io,Jos\xe9\n".encode("latin-1")
            ),
        }
        before = database_state(db)
        args = [files.get(arg[1:-1], arg) for arg in args]
        for name, path in files.items():
            message = message.replace(f"{{{name}}}", path)
        result = add(invoke, email_campaign, *args)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(ADD_COMMAND, message)
        assert injector.requests == []
        assert database_state(db) == before

    def test_broken_csv_mid_file_stops_with_exit_2_after_the_summary(
        self, invoke, db, email_campaign, tmp_path
    ):
        rows = "".join(f"l{i}@x.io,x\n" for i in range(5))
        path = write(tmp_path, "broken.csv", f'email,note\n{rows}l5@x.io,"x"y\nl6@x.io,z\n')
        result = add(invoke, email_campaign, "--file", path, "--batch-size", "2")
        assert result.exit_code == 2
        assert result.json == summary(rows=4, imported=4, complete=False)
        assert result.stderr == usage_error(
            ADD_COMMAND, "Invalid value for --file: line 7: not valid CSV (',' expected after '\"')"
        )
        assert stored_identities(db, email_campaign) == [f"l{i}@x.io" for i in range(4)]


class TestApiErrors:
    def test_unknown_campaign(self, invoke, other_api, db, tmp_path, injector):
        foreign = other_api.create_campaign("Theirs", "email")
        before = database_state(db)
        result = add(invoke, foreign, "--prospects", '[{"email": "a@x.io"}]')
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == "Error: Campaign not found. (HTTP 404)\n"
        assert injector.requests == []
        assert database_state(db) == before

    @pytest.mark.parametrize("status", ["active", "paused", "completed"])
    @pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
    def test_frozen_roster(self, invoke, api, db, email_campaign, status, dry_run):
        move_to(api, email_campaign, status)
        before = database_state(db)
        result = add(invoke, email_campaign, "--prospects", '[{"email": "a@x.io"}]', *dry_run)
        assert result.exit_code == 1
        assert result.json == summary(complete=False, dry_run=bool(dry_run))
        assert result.stderr == (
            "leads: the import stopped before the end; re-run the same command to finish it "
            "(rows already imported will count as duplicates).\n"
            f"Error: {frozen_roster(status)} (HTTP 400)\n"
        )
        assert database_state(db) == before


class TestPureHelpers:
    @pytest.mark.parametrize(
        "value, seconds",
        [
            (None, None),
            ("", None),
            ("7", 7.0),
            (" 0 ", 0.0),
            ("soon", None),
            ("-3", None),
            (format_datetime(datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC), usegmt=True), 30.0),
            (format_datetime(datetime(2029, 12, 31, tzinfo=UTC), usegmt=True), 0.0),
        ],
    )
    def test_parse_retry_after(self, value, seconds):
        assert parse_retry_after(value, now=datetime(2030, 1, 1, tzinfo=UTC)) == seconds

    def test_parse_retry_after_date_is_relative_to_now(self):
        later = datetime.now(UTC) + timedelta(seconds=100)
        assert 95 <= parse_retry_after(format_datetime(later, usegmt=True)) <= 100

    @pytest.mark.parametrize(
        "url, base",
        [
            ("http://h:8000", "http://h:8000"),
            (" https://h/ ", "https://h"),
            ("http://h/api", "http://h"),
            ("http://h/prefix/api/", "http://h/prefix"),
            ("http://h/apiary", "http://h/apiary"),
        ],
    )
    def test_normalize_base_url(self, url, base):
        assert normalize_base_url(url) == base

    @pytest.mark.parametrize(
        "name, field_slug, key",
        [
            ("E-mail Address", "e_mail_address", "e_mail_address"),
            ("Company Size", "company_size", "company_size"),
            ("companySize", "companysize", "companySize"),
            ("Ärger über Öl", "arger_uber_ol", "arger_uber_ol"),
            ("  ", "", "column_3"),
            ("日本語", "", "column_3"),
            ("x" * 70, "x" * 70, "x" * 64),
            ("a" * 63 + " b", "a" * 63 + "_b", "a" * 63),
        ],
    )
    def test_column_names(self, name, field_slug, key):
        assert slug(name) == field_slug
        assert custom_key(name, 3) == key
