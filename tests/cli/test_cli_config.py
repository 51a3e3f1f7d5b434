"""The installed `leads` command: help, configuration (env and flags), API and network errors."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from tests.contract import database_state, free_port, usage_error


class TestInstalledCommand:
    @pytest.mark.parametrize(
        "args, usage",
        [
            ([], "leads [OPTIONS] COMMAND [ARGS]..."),
            (["campaign"], "leads campaign [OPTIONS] COMMAND [ARGS]..."),
            (["campaign", "lead"], "leads campaign lead [OPTIONS] COMMAND [ARGS]..."),
            (["campaign", "create"], "leads campaign create [OPTIONS]"),
            (["campaign", "launch"], "leads campaign launch [OPTIONS]"),
            (["campaign", "lead", "add"], "leads campaign lead add [OPTIONS]"),
            (["campaign", "lead", "remove"], "leads campaign lead remove [OPTIONS]"),
            (["mcp"], "leads mcp [OPTIONS]"),
            (["suppression"], "leads suppression [OPTIONS] COMMAND [ARGS]..."),
            (["suppression", "add"], "leads suppression add [OPTIONS]"),
            (["suppression", "remove"], "leads suppression remove [OPTIONS] [IDS]..."),
            (["suppression", "check"], "leads suppression check [OPTIONS] IDENTITIES..."),
        ],
    )
    @pytest.mark.parametrize("flag", ["--help", "-h"])
    def test_help_needs_no_token(self, invoke, args, usage, flag):
        result = invoke(*args, flag, env={"LEADS_API_TOKEN": ""})
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout.splitlines()[0] == f"Usage: {usage}"

    @pytest.mark.parametrize("args", [["--help"], ["campaign", "lead", "add", "-h"]])
    def test_the_installed_script_runs(self, run_leads, invoke, args):
        # click's runner renders help 80 columns wide; a terminal of 82 gives the same.
        result = run_leads(*args, env={"LEADS_API_TOKEN": None, "COLUMNS": "82"})
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == invoke(*args).stdout

    def test_the_client_loads_nothing_of_the_service(self, leads_bin):
        """It talks HTTP only: no Flask, no database driver, no server module; of this
        repository it loads itself and the shared contract alone."""
        python = leads_bin.with_name("python")
        code = (
            "import sys, leads_client.cli; "
            "print(sorted({name.split('.')[0] for name in sys.modules} & "
            "{'flask', 'psycopg2', 'marshmallow', 'werkzeug', "
            "'app', 'bench', 'leads', 'leads_client', 'leads_contract', 'schemas', 'tests'}))"
        )
        result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        assert (result.returncode, result.stderr, result.stdout) == (
            0,
            "",
            "['leads_client', 'leads_contract']\n",
        )

    def test_groups_list_every_subcommand(self, invoke):
        top = invoke("--help").stdout
        listed = re.findall(r"^  (\w+) ", top.split("Commands:")[1], re.MULTILINE)
        assert listed == ["campaign", "events", "mcp", "suppression"]
        suppression = invoke("suppression", "--help").stdout
        listed = re.findall(r"^  (\w+) ", suppression.split("Commands:")[1], re.MULTILINE)
        assert listed == ["add", "check", "list", "remove"]
        campaign = invoke("campaign", "--help").stdout
        lead = invoke("campaign", "lead", "--help").stdout
        listed = re.findall(r"^  (\w+) ", campaign.split("Commands:")[1], re.MULTILINE)
        assert listed == ["complete", "create", "launch", "lead", "list", "pause", "resume", "show"]
        listed = re.findall(r"^  (\w+) ", lead.split("Commands:")[1], re.MULTILINE)
        assert listed == ["add", "list", "remove", "update"]

    def test_unknown_command_is_a_usage_error(self, invoke):
        result = invoke("campaign", "frobnicate")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            "Usage: leads campaign [OPTIONS] COMMAND [ARGS]...\n"
            "Try 'leads campaign --help' for help.\n\n"
            "Error: No such command 'frobnicate'.\n"
        )


class TestConfiguration:
    @pytest.mark.parametrize("token", [None, "", "   "])
    def test_no_token_is_a_usage_error(self, run_leads, token):
        result = run_leads("campaign", "list", env={"LEADS_API_TOKEN": token})
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads campaign list", "No API token: set LEADS_API_TOKEN or pass --token."
        )

    @pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:8000", "http://"])
    def test_api_url_must_be_http(self, invoke, db, url):
        before = database_state(db)
        result = invoke(
            "campaign", "create", "--type", "email", "--name", "x", env={"LEADS_API_URL": url}
        )
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == usage_error(
            "leads campaign create",
            "Invalid value for '--api-url' / LEADS_API_URL: must be an http:// or https:// "
            f"URL, got {url!r}",
        )
        assert database_state(db) == before

    @pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
    def test_api_url_may_name_the_root_or_the_api(self, invoke, api, live_server, suffix):
        api.create_campaign("Spring")
        result = invoke("campaign", "list", env={"LEADS_API_URL": live_server.url + suffix})
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == api.get("/api/campaigns").json

    @pytest.mark.parametrize(
        "env, flags",
        [
            ({"LEADS_API_TOKEN": "ld_wrong"}, ["--token", "{token}"]),
            ({"LEADS_API_URL": "http://127.0.0.1:{closed}"}, ["--api-url", "{url}"]),
            (
                {"LEADS_API_TOKEN": "ld_wrong", "LEADS_API_URL": "http://127.0.0.1:{closed}"},
                ["--api-url", "{url}", "--token", "{token}"],
            ),
            (
                {"LEADS_API_TOKEN": None, "LEADS_API_URL": None},
                ["--api-url", "{url}", "--token", "{token}"],
            ),
        ],
    )
    def test_flags_override_the_environment(self, run_leads, api, token, live_server, env, flags):
        api.create_campaign("Spring")
        values = {"token": token, "url": live_server.url, "closed": free_port()}
        env = {key: value and value.format(**values) for key, value in env.items()}
        flags = [flag.format(**values) for flag in flags]
        result = run_leads(*flags, "campaign", "list", env=env)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.json == api.get("/api/campaigns").json

    def test_without_a_url_the_make_run_address_is_used(self, invoke):
        port_8000_free = True
        with socket.socket() as probe:
            port_8000_free = probe.connect_ex(("127.0.0.1", 8000)) != 0
        if not port_8000_free:
            pytest.skip("something listens on 127.0.0.1:8000")
        result = invoke("--retries", "0", "campaign", "list", env={"LEADS_API_URL": ""})
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.startswith(
            "Error: Could not reach the API at http://127.0.0.1:8000 after 1 attempts: "
        )


class TestApiErrors:
    @pytest.mark.parametrize("token", ["ld_unknown", "not-even-a-token"])
    def test_a_refused_token_is_exit_1_with_the_api_message(self, run_leads, app, token):
        expected = app.test_client().get(
            "/api/campaigns", headers={"Authorization": f"Bearer {token}"}
        )
        assert expected.status_code == 401
        result = run_leads("campaign", "list", env={"LEADS_API_TOKEN": token})
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 401)\n"

    def test_a_revoked_token_is_refused(self, run_leads, app, token, db):
        with db.cursor() as cursor:
            cursor.execute("UPDATE api_tokens SET revoked_at = now()")
        expected = app.test_client().get(
            "/api/campaigns", headers={"Authorization": f"Bearer {token}"}
        )
        result = run_leads("campaign", "list")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == f"Error: {expected.json['message']} (HTTP 401)\n"

    def test_an_answer_that_is_not_json_is_exit_1(self, invoke, live_server):
        url = f"{live_server.url}/not-json"
        result = invoke("campaign", "list", env={"LEADS_API_URL": url})
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            f"Error: The answer from {url}/api/campaigns is not JSON: is the API URL right? "
            "(HTTP 200)\n"
        )

    @pytest.mark.parametrize("retries", [0, 2])
    def test_an_unreachable_api_is_exit_1_after_the_retries(self, run_leads, retries):
        port = free_port()
        result = run_leads(
            "--retries",
            str(retries),
            "campaign",
            "list",
            env={"LEADS_API_URL": f"http://127.0.0.1:{port}"},
        )
        assert (result.exit_code, result.stdout) == (1, "")
        lines = result.stderr.splitlines()
        assert len(lines) == retries + 1
        for number, line in enumerate(lines[:-1], start=1):
            assert re.fullmatch(
                rf"leads: ConnectError: .+; retrying in \d+\.\ds \(retry {number} of {retries}\)",
                line,
            ), line
        assert re.fullmatch(
            rf"Error: Could not reach the API at http://127\.0\.0\.1:{port} after "
            rf"{retries + 1} attempts: ConnectError: .+",
            lines[-1],
        ), lines[-1]
