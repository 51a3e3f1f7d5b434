"""The `leads` command: campaigns, their rosters, the workspace's suppression list and the
change feed from a terminal or a script.

Exit codes: 0 success (`events --follow` stopped by Ctrl-C included), 1 the API refused or
could not be reached (message on stderr, from the API's error body) or an import rejected
rows, 2 usage error (bad options or input).
"""

from __future__ import annotations

import functools
import io
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

import click
from tqdm import tqdm

from leads_client import output
from leads_client.api_client import (
    ApiClient,
    ApiUnreachable,
    RetryPolicy,
    ServiceError,
    normalize_base_url,
    path_segment,
)
from leads_client.importer import (
    BatchImporter,
    ImportSummary,
    LeadImporter,
    SuppressionImporter,
)
from leads_client.rows import (
    ColumnMapping,
    EntryMapping,
    InputError,
    ItemMapping,
    SourceRow,
    parse_json,
    read_csv,
    read_ids,
    read_json_array,
    read_json_lines,
)
from leads_contract.values import (
    DEDUPE_MODES,
    EVENT_TYPES,
    IDENTITY_FIELD,
    LEAD_STATUSES,
    MAX_EVENTS_PER_PAGE,
    MAX_IDENTITIES_PER_CHECK,
    MAX_IDS_PER_DELETE,
    MAX_IDS_PER_SUPPRESSION_DELETE,
    MAX_LEADS_PER_ADD,
    MAX_PAGE_SIZE,
    MAX_SUPPRESSIONS_PER_ADD,
    SUPPRESSION_KINDS,
    SUPPRESSION_REASONS,
)

DEFAULT_API_URL = "http://127.0.0.1:8000"
# Seconds `events --follow` waits, once up to date, before it asks again.
DEFAULT_FOLLOW_INTERVAL = 2.0
INPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Connection:
    """The global options; the client is built on first use so `--help` needs no token."""

    api_url: str
    token: str | None
    timeout: float
    retries: int

    def base_url(self, ctx: click.Context) -> str:
        try:
            return normalize_base_url(self.api_url)
        except ValueError as error:
            raise click.BadParameter(
                str(error), ctx, param_hint="'--api-url' / LEADS_API_URL"
            ) from None

    def required_token(self, ctx: click.Context) -> str:
        if not self.token or not self.token.strip():
            raise click.UsageError("No API token: set LEADS_API_TOKEN or pass --token.", ctx)
        return self.token.strip()

    def client(self, ctx: click.Context) -> ApiClient:
        token = self.required_token(ctx)
        client = ApiClient(
            self.base_url(ctx),
            token,
            retry=RetryPolicy(retries=self.retries),
            timeout=self.timeout,
            on_retry=lambda message: tqdm.write(f"leads: {message}", file=sys.stderr),
        )
        return ctx.with_resource(client)


class LeadsGroup(click.Group):
    """Turns API failures raised anywhere below into exit code 1 with the API's message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceError as error:
            raise click.ClickException(str(error)) from None
        except ApiUnreachable as error:
            raise click.ClickException(str(error)) from None


def is_terminal(stream: str) -> bool:
    """Whether sys.stdin / sys.stdout / sys.stderr is a terminal."""
    handle = getattr(sys, stream)
    return handle is not None and handle.isatty()


def format_option(*choices: str):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        help="Output format. Default: table on a terminal, json otherwise.",
    )


def resolve_format(output_format: str | None) -> str:
    if output_format:
        return output_format
    return "table" if is_terminal("stdout") else "json"


def campaign_id_option(function):
    return click.option("--id", "campaign_id", required=True, help="The campaign's id.")(function)


def campaign_path(campaign_id: str, suffix: str = "") -> str:
    return f"/api/campaigns/{path_segment(campaign_id)}{suffix}"


def json_option_value(text: str, param_hint: str, ctx: click.Context) -> Any:
    try:
        return parse_json(text)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON ({error})", ctx, param_hint=param_hint) from None


def one_character(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and len(value) != 1:
        raise click.BadParameter("must be one character", ctx, param)
    return value


@click.group(
    cls=LeadsGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--api-url",
    envvar="LEADS_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    help="The service's base URL (env LEADS_API_URL).",
)
@click.option("--token", envvar="LEADS_API_TOKEN", help="A workspace token (env LEADS_API_TOKEN).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for each response.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Retries after a network error, 429 or 503 (with backoff, honouring Retry-After).",
)
@click.pass_context
def cli(ctx: click.Context, api_url: str, token: str | None, timeout: float, retries: int):
    """Drive the lead roster of outreach campaigns through the leads HTTP API."""
    ctx.obj = Connection(api_url, token, timeout, retries)


@cli.group()
def campaign():
    """Create, list, show and launch campaigns; manage their leads."""


@campaign.command("create")
@click.option("--type", "type_", type=click.Choice(["email", "linkedin"]), required=True)
@click.option("--name", required=True, help="Unique within the workspace.")
@format_option("table", "json")
@click.pass_context
def create_campaign(ctx: click.Context, type_: str, name: str, output_format: str | None):
    """Create a draft campaign."""
    body = ctx.obj.client(ctx).post("/api/campaigns", body={"name": name, "type": type_})
    if resolve_format(output_format) == "json":
        click.echo(output.to_json(body))
    else:
        click.echo(output.campaign_text(body["campaign"]))


@campaign.command("list")
@format_option("table", "json", "csv")
@click.pass_context
def list_campaigns(ctx: click.Context, output_format: str | None):
    """List the workspace's campaigns, oldest first."""
    body = ctx.obj.client(ctx).get("/api/campaigns")
    output_format = resolve_format(output_format)
    rows = [output.campaign_row(item) for item in body["campaigns"]]
    if output_format == "json":
        click.echo(output.to_json(body))
    elif output_format == "csv":
        output.write_csv(sys.stdout, rows, output.CAMPAIGN_COLUMNS)
    elif rows:
        click.echo(output.table(rows, output.CAMPAIGN_TABLE_COLUMNS))
    else:
        click.echo("No campaigns.")


@campaign.command("show")
@campaign_id_option
@format_option("table", "json")
@click.pass_context
def show_campaign(ctx: click.Context, campaign_id: str, output_format: str | None):
    """Show a campaign and its lead counts per status."""
    body = ctx.obj.client(ctx).get(campaign_path(campaign_id))
    if resolve_format(output_format) == "json":
        click.echo(output.to_json(body))
    else:
        click.echo(output.campaign_text(body["campaign"], body["prospects_by_status"]))


def _transition_command(transition: str, summary: str) -> None:
    @campaign.command(transition, help=summary)
    @campaign_id_option
    @format_option("table", "json")
    @click.pass_context
    def command(ctx: click.Context, campaign_id: str, output_format: str | None):
        body = ctx.obj.client(ctx).post(campaign_path(campaign_id, f"/{transition}"))
        if resolve_format(output_format) == "json":
            click.echo(output.to_json(body))
        else:
            click.echo(output.campaign_text(body["campaign"]))


_transition_command("launch", "Launch a draft campaign (draft -> active); freezes the roster.")
_transition_command("pause", "Pause an active campaign (active -> paused).")
_transition_command("resume", "Resume a paused campaign (paused -> active).")
_transition_command("complete", "Complete a campaign (active or paused -> completed).")


@campaign.group()
def lead():
    """List, add, update and remove the leads of a campaign."""


@lead.command("list")
@campaign_id_option
@click.option("--status", type=click.Choice(LEAD_STATUSES), help="Only leads in this status.")
@click.option("--page", type=click.IntRange(min=1), help="Page number (default 1).")
@click.option("--limit", type=click.IntRange(min=1), help="Leads per page (API default 100).")
@click.option("--all", "all_pages", is_flag=True, help="Every lead, fetching page after page.")
@format_option("table", "json", "csv")
@click.pass_context
def list_leads(
    ctx: click.Context,
    campaign_id: str,
    status: str | None,
    page: int | None,
    limit: int | None,
    all_pages: bool,
    output_format: str | None,
):
    """List a campaign's leads, oldest first."""
    if all_pages and page is not None:
        raise click.UsageError("--all and --page cannot be used together.", ctx)
    client = ctx.obj.client(ctx)
    output_format = resolve_format(output_format)
    out = sys.stdout
    params: dict[str, Any] = {"status": status} if status else {}
    if not all_pages:
        params.update({"page": page or 1, **({"limit": limit} if limit else {})})
        body = client.get(campaign_path(campaign_id, "/leads"), params=params)
        if output_format == "json":
            click.echo(output.to_json(body))
        elif output_format == "csv":
            output.write_csv(out, body["prospects"], output.LEAD_COLUMNS)
        else:
            pages = max(-(-body["total"] // body["limit"]), 1)
            click.echo(_lead_table(body["prospects"]))
            click.echo(f"Page {body['page']} of {pages} ({body['total']} leads)")
        return

    tail: dict[str, Any] = {"total": 0}
    leads = _every_lead(client, campaign_id, params, limit or MAX_PAGE_SIZE, tail)
    if output_format == "json":
        output.write_json_stream(out, "prospects", leads, tail)
    elif output_format == "csv":
        output.write_csv(out, leads, output.LEAD_COLUMNS)
    else:
        click.echo(_lead_table(list(leads)))
        click.echo(f"{tail['total']} leads")


def _lead_table(leads: list[dict]) -> str:
    return output.table(leads, output.LEAD_TABLE_COLUMNS) if leads else "No leads."


def _every_lead(
    client: ApiClient, campaign_id: str, params: dict, limit: int, tail: dict
) -> Iterator[dict]:
    """Page after page until a short page; ids already seen are skipped, so a lead
    added meanwhile never appears twice."""
    seen: set[str] = set()
    page = 1
    while True:
        body = client.get(
            campaign_path(campaign_id, "/leads"), params={**params, "page": page, "limit": limit}
        )
        for item in body["prospects"]:
            if item["id"] not in seen:
                seen.add(item["id"])
                tail["total"] = len(seen)
                yield item
        if len(body["prospects"]) < limit:
            return
        page += 1


def import_options(items_option: str, items_help: str, max_batch: int):
    """The input, batch and output options that every import command shares."""
    options = [
        click.option(items_option, "items_json", help=items_help),
        click.option(
            "--file",
            "file_path",
            type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
            help="A CSV (header row) or JSON Lines file of any size; - reads standard input.",
        ),
        click.option(
            "--input-format",
            type=click.Choice(["csv", "tsv", "jsonl"]),
            help="The file's format (default: from its extension .csv, .tsv, .jsonl, .ndjson).",
        ),
        click.option(
            "--delimiter",
            callback=one_character,
            help="CSV field delimiter (default , or tab for tsv).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(1, max_batch),
            default=max_batch,
            show_default=True,
            help="Rows per request.",
        ),
        click.option(
            "--fresh-keys",
            is_flag=True,
            help="New Idempotency-Keys for this run (to re-import rows removed since an "
            "earlier identical import within 24 hours).",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress bar on stderr (default: when stderr is a terminal).",
        ),
        format_option("table", "json"),
    ]

    def decorate(function):
        @functools.wraps(function)
        def command(*args: Any, **kwargs: Any) -> Any:
            shared = {name: kwargs.pop(name) for name in IMPORT_OPTIONS}
            return function(*args, given=ImportOptions(items_option, **shared), **kwargs)

        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@dataclass(frozen=True)
class ImportOptions:
    """What the options every import command shares say (`import_options`)."""

    items_option: str  # "--prospects", "--entries"
    items_json: str | None
    file_path: Path | None
    input_format: str | None
    delimiter: str | None
    batch_size: int
    fresh_keys: bool
    progress: bool | None
    output_format: str | None

    @property
    def items_name(self) -> str:
        return self.items_option.removeprefix("--")

    def key_salt(self) -> str:
        """New Idempotency-Keys (`--fresh-keys`): a salt of this run's own."""
        return secrets.token_hex(16) if self.fresh_keys else ""


IMPORT_OPTIONS = [item.name for item in fields(ImportOptions) if item.name != "items_option"]


@lead.command("add")
@campaign_id_option
@import_options("--prospects", "A JSON array of lead objects.", MAX_LEADS_PER_ADD)
@click.option(
    "--dedupe",
    type=click.Choice(DEDUPE_MODES),
    help="What a row is a duplicate of: a lead of this campaign (campaign, the API's "
    "default), also of any other campaign of the workspace (workspace), or of the other "
    "campaigns that are not completed (live).",
)
@click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
@click.pass_context
def add_leads(
    ctx: click.Context, campaign_id: str, given: ImportOptions, dedupe: str | None, dry_run: bool
):
    """Add leads from --prospects or --file, in batches, deduplicated by the API.

    Rows without the campaign's identity (email or linkedin_url) and rows the API finds
    invalid are reported with their line numbers; rows the workspace's suppression list
    matches are not added, and named. Safe to re-run after an interruption: rows already
    imported come back as duplicates.
    """
    with ExitStack() as stack:
        source = _open_source(ctx, stack, given, ColumnMapping)
        client = ctx.obj.client(ctx)
        campaign = client.get(campaign_path(campaign_id))["campaign"]
        identity_field = IDENTITY_FIELD[campaign["type"]]
        if source.columns is not None and identity_field not in source.columns:
            raise click.BadParameter(
                f"the file has no {identity_field} column, which {campaign['type']} "
                "campaigns require.",
                ctx,
                param_hint="--file",
            )
        importer = LeadImporter(
            client,
            campaign,
            batch_size=given.batch_size,
            dry_run=dry_run,
            dedupe=dedupe,
            key_salt=given.key_salt(),
        )
        _run_import(ctx, stack, source, importer, given, "Dry run" if dry_run else "Importing")


def _run_import(
    ctx: click.Context,
    stack: ExitStack,
    source: Source,
    importer: BatchImporter,
    given: ImportOptions,
    description: str,
) -> None:
    """Run an import with a progress bar, print its summary however it ends, then exit: 2
    for input found broken part-way, 1 for an import stopped early or rows rejected."""
    show_progress = is_terminal("stderr") if given.progress is None else given.progress
    bar = stack.enter_context(
        tqdm(
            total=source.total_lines,
            unit=" lines",
            desc=description,
            file=sys.stderr,
            disable=not show_progress or source.place_name != "line",
            dynamic_ncols=True,
        )
    )

    def on_batch(position: int, summary: ImportSummary) -> None:
        bar.update(max(position - bar.n, 0))
        bar.set_postfix(summary.counts(), refresh=False)

    failure: Exception | None = None
    try:
        importer.run(source.rows, on_batch)
    except (ServiceError, ApiUnreachable, InputError) as error:
        failure = error
    except KeyboardInterrupt:
        failure = click.Abort()
    bar.close()

    if resolve_format(given.output_format) == "json":
        click.echo(output.to_json(output.summary_data(importer.summary, source.place_name)))
    else:
        click.echo(output.summary_text(importer.summary, source.place_name))
    if isinstance(failure, InputError):
        raise click.BadParameter(str(failure), ctx, param_hint="--file")
    if failure is not None:
        click.echo(
            "leads: the import stopped before the end; re-run the same command to finish it "
            f"({importer.rerun_note}).",
            err=True,
        )
        if isinstance(failure, click.Abort):
            raise failure
        raise click.ClickException(str(failure))
    if importer.summary.rejected:
        ctx.exit(1)


@dataclass
class Source:
    """The rows to import and how to name their places: file lines, or their index in the
    JSON array of `--prospects` / `--entries`."""

    rows: Iterator[SourceRow]
    place_name: str  # "line", "prospects", "entries"
    total_lines: int | None = None  # for the progress bar
    columns: set[str] | None = None  # the item fields a CSV header maps


def _open_source(
    ctx: click.Context,
    stack: ExitStack,
    given: ImportOptions,
    mapping_type: type[ItemMapping],
) -> Source:
    """Open the input and read a CSV header now: bad input fails before anything is sent."""
    if (given.items_json is None) == (given.file_path is None):
        raise click.UsageError(f"Give exactly one of {given.items_option} and --file.", ctx)
    if given.items_json is not None:
        try:
            rows = read_json_array(given.items_json, given.items_name, mapping_type)
        except InputError as error:
            raise click.BadParameter(str(error), ctx, param_hint=given.items_option) from None
        return Source(rows, given.items_name)
    file_path = given.file_path
    assert file_path is not None
    input_format = given.input_format or _input_format(file_path, ctx)
    stream = stack.enter_context(_open_input(file_path, ctx))
    total_lines = _count_lines(file_path) if str(file_path) != "-" else None
    if input_format == "jsonl":
        return Source(read_json_lines(stream, mapping_type), "line", total_lines)
    delimiter = given.delimiter or ("\t" if input_format == "tsv" else ",")
    try:
        mapping, rows = read_csv(stream, delimiter, mapping_type)
    except InputError as error:
        raise click.BadParameter(str(error), ctx, param_hint="--file") from None
    return Source(rows, "line", total_lines, mapping.fields())


def _input_format(file_path: Path, ctx: click.Context) -> str:
    found = INPUT_FORMATS.get(file_path.suffix.lower())
    if found is None:
        raise click.BadParameter(
            "cannot tell the format from the file name; pass --input-format csv, tsv or jsonl.",
            ctx,
            param_hint="--file",
        )
    return found


def _open_input(file_path: Path, ctx: click.Context) -> IO[str]:
    # utf-8-sig: spreadsheets often start a CSV with a byte order mark.
    if str(file_path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    try:
        return open(file_path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as error:
        raise click.BadParameter(
            f"cannot open {str(file_path)!r}: {error.strerror}", ctx, param_hint="--file"
        ) from None


def _count_lines(file_path: Path) -> int:
    """For the progress bar: a quick pass over the bytes, never the whole file at once."""
    lines = 0
    last = b"\n"
    with open(file_path, "rb") as stream:
        while chunk := stream.read(1024 * 1024):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


@lead.command("update")
@campaign_id_option
@click.option("--prospect-id", required=True, help="The lead's id.")
@click.option("--updates", required=True, help='A JSON object, e.g. \'{"company": "Acme"}\'.')
@format_option("table", "json")
@click.pass_context
def update_lead(
    ctx: click.Context,
    campaign_id: str,
    prospect_id: str,
    updates: str,
    output_format: str | None,
):
    """Edit one lead's fields (custom_fields replaces the whole object)."""
    changes = json_option_value(updates, "--updates", ctx)
    if not isinstance(changes, dict):
        raise click.BadParameter("must be a JSON object", ctx, param_hint="--updates")
    body = ctx.obj.client(ctx).patch(
        campaign_path(campaign_id, "/leads"),
        body={"prospect_id": prospect_id, "updates": changes},
    )
    if resolve_format(output_format) == "json":
        click.echo(output.to_json(body))
    else:
        click.echo(output.lead_text(body["prospect"]))


@lead.command("remove")
@campaign_id_option
@click.option("--prospect-ids", help="Comma-separated lead ids.")
@click.option("--all", "remove_all", is_flag=True, help="Every lead of the campaign.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation of --all.")
@format_option("table", "json")
@click.pass_context
def remove_leads(
    ctx: click.Context,
    campaign_id: str,
    prospect_ids: str | None,
    remove_all: bool,
    yes: bool,
    output_format: str | None,
):
    """Remove some leads by id (ids not in the campaign are skipped) or --all of them."""
    if (prospect_ids is None) == (not remove_all):
        raise click.UsageError("Give exactly one of --prospect-ids and --all.", ctx)
    ids: list[str] = []
    if prospect_ids is not None:
        ids = list(dict.fromkeys(item.strip() for item in prospect_ids.split(",") if item.strip()))
        if not ids:
            raise click.BadParameter("no lead id given", ctx, param_hint="--prospect-ids")
    elif not yes and not is_terminal("stdin"):
        raise click.UsageError(
            "--all removes every lead: pass --yes when not running on a terminal.", ctx
        )
    client = ctx.obj.client(ctx)
    path = campaign_path(campaign_id, "/leads")
    if remove_all:
        if not yes:
            shown = client.get(campaign_path(campaign_id))["campaign"]
            click.confirm(
                f"Remove all {shown['stats']['total']} leads of campaign {shown['name']!r}?",
                abort=True,
                err=True,
            )
        body = client.delete(path, body={"all": True})
    else:
        body = {"deleted": 0, "stats": None}
        for start in range(0, len(ids), MAX_IDS_PER_DELETE):
            chunk_ids = ids[start : start + MAX_IDS_PER_DELETE]
            chunk = client.delete(path, body={"prospect_ids": chunk_ids})
            body = {"deleted": body["deleted"] + chunk["deleted"], "stats": chunk["stats"]}
    if resolve_format(output_format) == "json":
        click.echo(output.to_json(body))
    else:
        click.echo(f"Removed {body['deleted']} leads; {body['stats']['total']} left.")


@cli.command("events")
@click.option(
    "--after",
    help="The next_cursor of an earlier read: only the events after it (default: from the "
    "oldest event kept).",
)
@click.option(
    "--type", "event_type", type=click.Choice(EVENT_TYPES), help="Only events of this type."
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_EVENTS_PER_PAGE),
    help=f"Events per request (default: the API's 100; {MAX_EVENTS_PER_PAGE} with --all and "
    "--follow).",
)
@click.option("--all", "all_pages", is_flag=True, help="Every event up to now, page after page.")
@click.option(
    "--follow", is_flag=True, help="Keep polling and print each event as it comes, until Ctrl-C."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    help=f"With --follow: seconds between polls once up to date (default "
    f"{DEFAULT_FOLLOW_INTERVAL:g}).",
)
@format_option("table", "json")
@click.pass_context
def events(
    ctx: click.Context,
    after: str | None,
    event_type: str | None,
    limit: int | None,
    all_pages: bool,
    follow: bool,
    interval: float | None,
    output_format: str | None,
):
    """Read the workspace's change feed: one event per change of a campaign, a roster or the
    suppression list, in the order the changes committed.

    One page by default, --all for every event up to now, --follow to go on printing new
    events (one line each; JSON Lines with --format json) until Ctrl-C. Pass a next_cursor
    as --after to read only what came after it.
    """
    if all_pages and follow:
        raise click.UsageError("--all and --follow cannot be used together.", ctx)
    if interval is not None and not follow:
        raise click.UsageError("--interval goes with --follow.", ctx)
    client = ctx.obj.client(ctx)
    as_json = resolve_format(output_format) == "json"
    query = {"type": event_type} if event_type else {}
    tail: dict[str, Any] = {"next_cursor": after}
    if follow:
        limit = limit or MAX_EVENTS_PER_PAGE
        _follow_feed(client, query, tail, limit, interval or DEFAULT_FOLLOW_INTERVAL, as_json)
        return
    if all_pages:
        limit = limit or MAX_EVENTS_PER_PAGE
    read = _read_feed(client, query, tail, limit, all_pages=all_pages)
    if as_json:
        output.write_json_stream(sys.stdout, "events", read, tail)
        return
    printed = 0
    for event in read:
        click.echo(output.event_line(event))
        printed += 1
    if not printed:
        click.echo("No events.")
    click.echo(f"Next cursor: {tail['next_cursor']}")


def _read_feed(
    client: ApiClient, query: dict, tail: dict, limit: int | None, *, all_pages: bool
) -> Iterator[dict]:
    """The events after tail["next_cursor"]: one page, or page after page until a page
    comes back short (the last event committed was read). tail["next_cursor"] moves past
    each page once all its events are yielded. The first page is read at once, so that a
    refused cursor (400, 410) stops the command before it prints anything."""

    def read_page() -> dict:
        params = {**query, **({"limit": limit} if limit else {})}
        if tail["next_cursor"] is not None:
            params["after"] = tail["next_cursor"]
        return client.get("/api/events", params=params)

    def read(page: dict) -> Iterator[dict]:
        while True:
            yield from page["events"]
            tail["next_cursor"] = page["next_cursor"]
            if not all_pages or len(page["events"]) < limit:
                return
            page = read_page()

    return read(read_page())


def _follow_feed(
    client: ApiClient, query: dict, tail: dict, limit: int, interval: float, as_json: bool
) -> None:
    """Print every event up to now, then each new one as it comes, until Ctrl-C; then name
    the cursor to go on from (exit code 0: stopping is how following ends)."""
    try:
        while True:
            for event in _read_feed(client, query, tail, limit, all_pages=True):
                click.echo(output.json_line(event) if as_json else output.event_line(event))
            time.sleep(interval)
    except KeyboardInterrupt:
        # The cursor moves past a page once all of it is printed, so going on from it never
        # misses an event; the events printed just before Ctrl-C may come again.
        cursor = tail["next_cursor"]
        resume = f"; to go on from here, pass --after {cursor}" if cursor is not None else ""
        click.echo(f"leads: stopped{resume}", err=True)


@cli.command("mcp")
@click.option("--http", "http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="The address to listen on (--http)."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8001,
    show_default=True,
    help="The port to listen on (--http).",
)
@click.option(
    "--mode",
    type=click.Choice(["read", "write", "all"]),
    envvar="LEADS_MCP_MODE",
    default="write",
    show_default=True,
    help="read: no writes; write: irreversible tools need confirm: true; all: they do not "
    "(env LEADS_MCP_MODE).",
)
@click.pass_context
def mcp(ctx: click.Context, http: bool, host: str, port: int, mode: str):
    """Serve the API as MCP tools for AI agents (docs/MCP.md): over stdio, or streamable
    HTTP at http://HOST:PORT/mcp with --http."""
    connection: Connection = ctx.obj
    base_url = connection.base_url(ctx)
    # Over HTTP each MCP request may bring its own token; over stdio there is only this one.
    token = connection.token.strip() if connection.token else None
    if not http:
        token = connection.required_token(ctx)
    # Imported here: the SDK takes longer to load than every other command needs to run.
    from leads_client.mcp_server import ServerConfig, run

    config = ServerConfig(base_url, token or None, mode, connection.timeout, connection.retries)
    run(config, http=http, host=host, port=port)


@cli.group()
def suppression():
    """The workspace's suppression list: identities that no campaign may hold."""


@suppression.command("add")
@import_options(
    "--entries",
    'A JSON array of entry objects, e.g. \'[{"email": "eve@example.com"}]\'.',
    MAX_SUPPRESSIONS_PER_ADD,
)
@click.option(
    "--reason",
    type=click.Choice(SUPPRESSION_REASONS),
    help="The reason of the entries that give none (the API's default: manual).",
)
@click.option(
    "--remove-from-drafts",
    is_flag=True,
    help="Also remove the leads the entries match from every draft campaign of the workspace.",
)
@click.pass_context
def add_suppressions(
    ctx: click.Context, given: ImportOptions, reason: str | None, remove_from_drafts: bool
):
    """Add entries from --entries or --file, in batches, deduplicated by the API.

    Each line gives one entry: exactly one of the columns email, domain and linkedin_url
    (or the columns kind and value, as `suppression list --format csv` writes them), and
    optionally reason and note. Other lines are rejected with their line numbers, as are
    lines the API finds invalid. Safe to re-run after an interruption: entries already
    added come back as duplicates.
    """
    with ExitStack() as stack:
        source = _open_source(ctx, stack, given, EntryMapping)
        if source.columns is not None and not source.columns & {*SUPPRESSION_KINDS, "value"}:
            raise click.BadParameter(
                "the file has none of the columns email, domain and linkedin_url (nor kind "
                "and value).",
                ctx,
                param_hint="--file",
            )
        importer = SuppressionImporter(
            ctx.obj.client(ctx),
            reason=reason,
            remove_from_drafts=remove_from_drafts,
            batch_size=given.batch_size,
            key_salt=given.key_salt(),
        )
        _run_import(ctx, stack, source, importer, given, "Importing")


@suppression.command("list")
@click.option("--kind", type=click.Choice(SUPPRESSION_KINDS), help="Only entries of this kind.")
@click.option("--q", help="Only entries whose value holds this text (case-insensitive).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="At most this many entries (default: every entry, page after page).",
)
@click.option("--cursor", help="Continue where an earlier --limit listing stopped.")
@format_option("table", "json", "csv")
@click.pass_context
def list_suppressions(
    ctx: click.Context,
    kind: str | None,
    q: str | None,
    limit: int | None,
    cursor: str | None,
    output_format: str | None,
):
    """List the suppression list, oldest first."""
    client = ctx.obj.client(ctx)
    output_format = resolve_format(output_format)
    params = {key: value for key, value in (("kind", kind), ("q", q)) if value is not None}
    tail: dict[str, Any] = {"total": 0, "next_cursor": None}
    entries = _every_entry(client, params, limit, cursor, tail)
    if output_format == "json":
        output.write_json_stream(sys.stdout, "suppressions", entries, tail)
    elif output_format == "csv":
        output.write_csv(sys.stdout, entries, output.SUPPRESSION_COLUMNS)
    else:
        shown = list(entries)
        if not shown:
            click.echo("No suppression entries.")
            return
        click.echo(output.table(shown, output.SUPPRESSION_COLUMNS))
        count = f"{len(shown)} of {tail['total']} entries"
        if len(shown) == tail["total"]:
            count = f"{len(shown)} entries"
        more = f"; more with --cursor {tail['next_cursor']}" if tail["next_cursor"] else ""
        click.echo(count + more)


def _every_entry(
    client: ApiClient, params: dict, limit: int | None, cursor: str | None, tail: dict
) -> Iterator[dict]:
    """Page after page by cursor (so that none is skipped or repeated) until the last one,
    or `limit` entries; `tail` gets the total and the cursor that would continue. The first
    page is fetched now, so that a refused request fails before anything is printed."""

    def fetch(cursor: str | None, left: int | None) -> dict:
        size = MAX_PAGE_SIZE if left is None else min(left, MAX_PAGE_SIZE)
        page_params = {**params, "limit": size, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/suppressions", params=page_params)
        tail.update(total=body["total"], next_cursor=body["next_cursor"])
        return body

    def entries(body: dict, left: int | None) -> Iterator[dict]:
        while True:
            yield from body["suppressions"]
            if left is not None:
                left -= len(body["suppressions"])
            if body["next_cursor"] is None or (left is not None and left <= 0):
                return
            body = fetch(body["next_cursor"], left)

    return entries(fetch(cursor, limit), limit)


@suppression.command("remove")
@click.argument("ids", nargs=-1)
@click.option(
    "--file",
    "file_path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Entry ids, one per line, or a CSV with an id column (as `list --format csv` "
    "writes); - reads standard input.",
)
@format_option("table", "json")
@click.pass_context
def remove_suppressions(
    ctx: click.Context, ids: tuple[str, ...], file_path: Path | None, output_format: str | None
):
    """Remove entries by id (ids that are no entry of the workspace are skipped).

    Leads removed because of an entry are not restored; leads it kept out may be added again.
    """
    given = [(f"argument {number}", value) for number, value in enumerate(ids, start=1)]
    if file_path is not None:
        with _open_input(file_path, ctx) as stream:
            try:
                given += [(f"--file line {line}", value) for line, value in read_ids(stream)]
            except InputError as error:
                raise click.BadParameter(str(error), ctx, param_hint="--file") from None
    if not given:
        raise click.UsageError("Give entry ids, or --file.", ctx)
    bad = [f"{place} ({value!r})" for place, value in given if not _is_uuid(value)]
    if bad:
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise click.UsageError(f"Not an entry id: {', '.join(bad[:10])}{more}.", ctx)
    unique = list(dict.fromkeys(str(uuid.UUID(value)) for _, value in given))
    client = ctx.obj.client(ctx)
    deleted = 0
    for start in range(0, len(unique), MAX_IDS_PER_SUPPRESSION_DELETE):
        chunk = unique[start : start + MAX_IDS_PER_SUPPRESSION_DELETE]
        deleted += client.delete("/api/suppressions", body={"ids": chunk})["deleted"]
    if resolve_format(output_format) == "json":
        click.echo(output.to_json({"deleted": deleted}))
    else:
        missing = len(unique) - deleted
        click.echo(
            f"Removed {deleted} suppression entries"
            + (f"; {missing} of the ids named no entry." if missing else ".")
        )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@suppression.command("check")
@click.argument("identities", nargs=-1, required=True)
@format_option("table", "json")
@click.pass_context
def check_suppressions(ctx: click.Context, identities: tuple[str, ...], output_format: str | None):
    """Check emails and LinkedIn profile URLs against the suppression list.

    A value with an @ and no / is checked as an email, one naming linkedin as a LinkedIn URL.
    """
    asked = [_identity(value, ctx) for value in identities]
    client = ctx.obj.client(ctx)
    results = []
    for start in range(0, len(asked), MAX_IDENTITIES_PER_CHECK):
        chunk = asked[start : start + MAX_IDENTITIES_PER_CHECK]
        body = client.post("/api/suppressions/check", body={"identities": chunk})
        results += [
            {
                "index": start + result["index"],
                **chunk[result["index"]],
                "suppressed": result["suppressed"],
                "matched": result["matched"],
            }
            for result in body["results"]
        ]
    if resolve_format(output_format) == "json":
        click.echo(output.to_json({"results": results}))
    else:
        click.echo(output.table(map(output.check_row, results), output.CHECK_COLUMNS))


def _identity(value: str, ctx: click.Context) -> dict[str, str]:
    """`{"email": value}` or `{"linkedin_url": value}`, by the value's shape."""
    text = value.strip()
    if "@" in text and "/" not in text:
        return {"email": value}
    if "linkedin" in text.lower():
        return {"linkedin_url": value}
    raise click.BadParameter(
        f"{value!r} is neither an email address nor a LinkedIn profile URL (a domain is "
        "checked through an address at it, e.g. someone@example.com).",
        ctx,
        param_hint="IDENTITIES",
    )


def main() -> None:
    cli(prog_name="leads")


if __name__ == "__main__":
    main()
