"""``tanpo ledger ...`` and ``tanpo execute``: the embedded ledger from the command line.

::

    tanpo ledger init --ledger sqlite:///book.db
    tanpo ledger load data/sample_book.json --ledger sqlite:///book.db [--registrar BOJ]
    tanpo ledger call today.json --ledger sqlite:///book.db [--party JSCC ...]
    tanpo ledger positions --party MIZUHO --ledger sqlite:///book.db [--export]
    tanpo ledger verify --ledger sqlite:///book.db
    tanpo execute PLAN.json --ledger sqlite:///book.db [--per-group] [--party MIZUHO]

``--ledger`` takes ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a
``postgresql://`` URL (default: ``$TANPO_LEDGER``); ``load``, ``call``, ``positions`` and
``execute`` also take a Canton participant's ``http(s)://`` JSON Ledger API URL
(token from ``$TANPO_CANTON_TOKEN`` or ``$TANPO_CANTON_TOKEN_FILE``). ``execute`` acts for the pledgors the
plan names (its ``owner`` fields) unless ``--party`` says otherwise; running it again
reports "already applied" and changes nothing. ``call`` acts for the book's pledgees
(or the ``--party`` pledgees): it moves requirements and valuations on the ledger to the
book's (a margin call or return, new prices); again, it has "nothing to change". Every error (bad input, a stale or
refused plan, a ledger that does not verify or reconcile) is one line on stderr and
exit status 2.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger_adapter.connect import open_embedded, open_ledger
from ledger_adapter.embedded import EmbeddedLedger
from valuation.errors import InputError, TanpoError

LedgerOption = Annotated[
    str,
    typer.Option(
        "--ledger",
        envvar="TANPO_LEDGER",
        help="sqlite:///path.db, sqlite:////abs/path.db, postgresql://... or http(s)://participant ($TANPO_LEDGER)",
    ),
]
PartyOption = Annotated[
    list[str] | None, typer.Option("--party", help="A party to act or read as (repeatable).")
]

ledger_app = typer.Typer(
    name="ledger",
    help="The embedded ledger: init, load a book, call margin, positions, verify.",
    no_args_is_help=True,
)


class LedgerCheckFailed(TanpoError):  # noqa: N818 - says what happened, as the CLI reports it
    """``verify`` found problems or a plan did not reconcile."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is no error
    except FileNotFoundError:
        raise InputError(str(path), "(file)", "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "(file)", "is a directory, not a JSON file") from None
    except OSError as exc:
        raise InputError(str(path), "(file)", f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "(file)", "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "(file)", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(
            str(path), "(file)", "JSON nested too deeply to be a plan or book"
        ) from None


@ledger_app.command("init")
def init(ledger: LedgerOption) -> None:
    """Create an empty ledger (a SQLite file or the tables in PostgreSQL)."""
    with open_embedded(ledger, create=True) as opened:
        end = opened.ledger_end()
        state = f"already holds {end} transaction(s)" if end else "is empty"
        typer.echo(f"ledger {opened.ledger_id} at {ledger} {state}")


@ledger_app.command("load")
def load(
    book: Annotated[Path, typer.Argument(help="A book in the optimizer's problem format.")],
    ledger: LedgerOption,
    registrar: Annotated[str, typer.Option(help="The registrar party.")] = "BOJ",
) -> None:
    """Put a book on the ledger: holdings, agreements, obligations, existing pledges.

    A ledger that holds another load of these parties is refused (nothing written):
    move requirements and valuations with ``tanpo ledger call``.
    """
    from ledger_adapter.book import load_book, parse_book

    parsed = parse_book(_read_json(book))
    with closing(open_ledger(ledger)) as opened:
        report = load_book(opened, parsed, registrar=registrar)
    verb = "was already loaded" if report.already_loaded else "loaded"
    if report.resumed:
        verb = "loaded (its set-up was on the ledger: the pledges step is done now)"
    typer.echo(
        f"book {report.book} {verb}: {report.holdings} holdings, {report.agreements}"
        f" agreements, {report.obligations} obligations, {report.pledges} pledged rows"
        f" (offsets {report.setup_offset}, {report.pledges_offset})"
    )


@ledger_app.command("call")
def call(
    book: Annotated[Path, typer.Argument(help="Today's book in the optimizer's problem format.")],
    ledger: LedgerOption,
    party: Annotated[
        list[str] | None,
        typer.Option("--party", help="Only this pledgee's obligations (repeatable)."),
    ] = None,
    user_id: Annotated[str, typer.Option("--user-id", help="The ledger user.")] = "tanpo",
) -> None:
    """As the pledgees: move the obligations' requirements and valuations to the book's."""
    from ledger_adapter.book import parse_book
    from ledger_adapter.margin_call import CallStatus, call_margin

    parsed = parse_book(_read_json(book))
    with closing(open_ledger(ledger)) as opened:
        report = call_margin(opened, parsed, pledgees=party or None, user_id=user_id)
    for c in report.changes:
        who = f"{c.obligation} ({c.pledgor} to {c.pledgee})"
        if c.old_required_value is None:
            typer.echo(
                f"{who}: created, requirement {c.new_required_value:,},"
                f" {len(c.revalued)} ISIN(s) valued"
            )
            continue
        moved = (
            f"requirement {c.old_required_value:,} -> {c.new_required_value:,}"
            if c.called
            else f"requirement {c.new_required_value:,} unchanged"
        )
        typer.echo(f"{who}: {moved}, {len(c.revalued)} ISIN(s) revalued")
    for obligation in report.not_in_book:
        typer.echo(f"{obligation}: on the ledger, not in the book: left alone")
    pledgees = ", ".join(report.pledgees)
    if report.status is CallStatus.NOTHING_TO_CHANGE:
        typer.echo(
            f"book {report.book}: nothing to change: {len(report.unchanged)} obligation(s)"
            f" of {pledgees} match the ledger"
        )
        return
    typer.echo(
        f"book {report.book}: {len(report.changes)} obligation(s) of {pledgees}"
        f" {report.status} at offset {report.offset} ({report.command_id});"
        f" {len(report.unchanged)} unchanged"
    )


@ledger_app.command("positions")
def positions_command(
    ledger: LedgerOption,
    party: PartyOption = None,
    export: Annotated[
        bool, typer.Option("--export", help="JSON holdings in the problem format, to re-plan.")
    ] = False,
) -> None:
    """What a party sees: holdings by column and the obligation each pledge secures."""
    from ledger_adapter.positions import export_holdings, positions

    if not party:
        raise InputError("positions", "--party", "name at least one party")
    with closing(open_ledger(ledger)) as opened:
        if isinstance(opened, EmbeddedLedger):  # a participant knows its own parties only
            _refuse_unknown(party, opened.known_parties())
        if export:
            typer.echo(json.dumps(export_holdings(opened, party), indent=2))
            return
        rows = positions(opened, party)
    typer.echo(
        f"{'owner':<10} {'account':<10} {'isin':<13} {'column':<15} {'obligation':<22} {'face':>20}"
    )
    for p in rows:
        column = "holdings" if p.column == "HoldingsColumn" else f"pledge:{p.pledgee}"
        typer.echo(
            f"{p.owner:<10} {p.account:<10} {p.isin:<13} {column:<15} "
            f"{p.obligation or '-':<22} {p.face:>20,}"
        )
    typer.echo(f"{len(rows)} position(s)")


def _refuse_unknown(parties: list[str], known: frozenset[str]) -> None:
    """A party no contract on the ledger names: an input error, not an empty answer."""
    for name in parties:
        if name not in known:
            shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
            raise InputError(
                "positions",
                "--party",
                f"{name!r}: no contract on this ledger names that party"
                f" (parties on it: {shown or 'none'})",
            )


@ledger_app.command("verify")
def verify_command(ledger: LedgerOption) -> None:
    """Check the hash chain, the derived tables and the model's invariants."""
    from ledger_adapter.integrity import verify
    from ledger_adapter.invariants import invariant_violations

    with open_embedded(ledger) as opened:
        report = verify(opened)
        # the invariants read the log and the tables as sound: only once they verify
        problems = list(report.problems) or invariant_violations(opened)
    for problem in problems:
        typer.echo(f"problem: {problem}")
    if problems:
        raise LedgerCheckFailed(
            f"ledger does not verify: {len(problems)} problem(s): {problems[0]}"
        )
    typer.echo(
        f"ok: {report.transactions} transactions, {report.contracts} active contracts,"
        f" ledger end {report.ledger_end}, head {report.head_hash}"
    )


def execute(
    plan: Annotated[Path, typer.Argument(help="The optimizer's plan (tanpo optimize -o).")],
    ledger: LedgerOption,
    per_group: Annotated[
        bool, typer.Option("--per-group", help="One transaction per group, not one in all.")
    ] = False,
    party: PartyOption = None,
    user_id: Annotated[str, typer.Option("--user-id", help="The ledger user.")] = "tanpo",
) -> None:
    """Carry a plan out on the ledger, exactly once, and reconcile."""
    from ledger_adapter.executor import execute_plan
    from ledger_adapter.plan import parse_plan

    parsed = parse_plan(_read_json(plan))
    parties = party or sorted(parsed.owners)
    if not parties:
        raise InputError(str(plan), "owner", "the plan names no owner; pass --party PLEDGOR")
    with closing(open_ledger(ledger)) as opened:
        report = execute_plan(opened, parsed, parties=parties, per_group=per_group, user_id=user_id)
    for unit in report.units:
        where = f" at offset {unit.offset}" if unit.offset is not None else ""
        typer.echo(f"{unit.command_id}: {unit.moves} move(s) {unit.status}{where}")
    if not report.reconciled:
        first = report.mismatches[0]
        raise LedgerCheckFailed(
            f"plan {report.plan_id} {report.status} but the ledger does not match its"
            f" allocations ({len(report.mismatches)} difference(s)): {first}"
        )
    typer.echo(f"plan {report.plan_id} {report.status}; ledger pledges match its allocations")


def register(app: typer.Typer) -> None:
    """Add ``tanpo ledger ...`` and ``tanpo execute`` to ``app``."""
    app.add_typer(ledger_app)
    app.command("execute")(execute)
