"""`specqc serve`: the QC dashboard and its JSON API over a results store.

A Starlette application with Jinja2 templates (autoescaped: every string from
an input file is shown as text), served by uvicorn. Pages: home (batches and
analyses, filtered and paged), batch, analysis (the full report, its plots,
signatures and the review form), trends, the watch ledger, and downloads.

Who may do what: when the store has accounts (`specqc users add`), every page
needs a login and a review needs a reviewer who re-enters the password. A store
without accounts is shown read-only (and `serve` keeps it on loopback).
Everything the server answers carries a strict Content-Security-Policy: the
pages have no script at all.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError, InputError, TransientError
from ..records import reviews
from ..records.chain import sha
from ..records.store import Store
from .sessions import COOKIE, Sessions, token_matches

HERE = Path(__file__).parent
PAGE_SIZE = 50
TREND_POINTS = 300  # the latest samples a trend shows
API_LIMIT_MAX = 500
RECORD_ID = re.compile(r"^[0-9a-f]{4,24}$")
VERDICTS = ("pass", "fail", "inconclusive")
REVIEW_FILTERS = ("approved", "rejected", "none")
EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "csv-long": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# a report file served for download is shown, if opened, with nothing allowed to run
DOWNLOAD_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
log = logging.getLogger("specqc.web")


class Database:
    """The one store connection, used by one request thread at a time."""

    def __init__(self, store: Store):
        self.store = store
        self.lock = threading.Lock()

    async def run(self, function, *args, **kwargs):
        def call():
            with self.lock:
                return function(self.store, *args, **kwargs)

        return await run_in_threadpool(call)


@dataclass
class Visitor:
    account: reviews.Account | None
    accounts_exist: bool

    @property
    def may_review(self) -> bool:
        return self.account is not None and self.account.may_review


class NeedsLogin(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


# ---------------------------------------------------------------- helpers


def _visitor(store: Store, name: str | None) -> Visitor:
    exist = reviews.authentication_configured(store)
    account = None
    if name is not None:
        row = store.user(name)
        if row is not None and row["active"]:
            account = reviews.Account(row["name"], row["role"], True)
    return Visitor(account, exist)


async def page_visitor(request: Request) -> Visitor:
    """The visitor of a page; a login is asked for when the store has accounts."""
    visitor = await request.app.state.db.run(_visitor, request.state.session.user)
    if visitor.accounts_exist and visitor.account is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise NeedsLogin(target)
    return visitor


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        name, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise HTTPException(401, "malformed Basic credentials") from None
    return name, password


async def api_visitor(request: Request) -> tuple[Visitor, str | None]:
    """The API caller (session cookie or HTTP Basic) and, for Basic, the password given."""
    credentials = _basic_credentials(request)
    if credentials is not None:

        def check(store):
            account = reviews.authenticate(store, *credentials)
            return Visitor(account, True)

        try:
            return await request.app.state.db.run(check), credentials[1]
        except reviews.AuthenticationError:
            raise HTTPException(401, "unknown account or wrong password") from None
    visitor = await request.app.state.db.run(_visitor, request.state.session.user)
    if visitor.accounts_exist and visitor.account is None:
        raise HTTPException(401, "log in first (session) or send HTTP Basic credentials")
    return visitor, None


def render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    template = request.app.state.templates.get_template(name)
    html = template.render(
        request=request, csrf=request.state.session.csrf, store_name=request.app.state.store_name, **context
    )
    return HTMLResponse(html, status)


def _page_number(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1_000_000))
    except ValueError:
        raise HTTPException(400, "page must be a number") from None


def _choice(value: str | None, allowed) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise HTTPException(400, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _record_id(value: str) -> str:
    if not RECORD_ID.match(value):
        raise HTTPException(404, "no such analysis")
    return value


def _safe_filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "batch"


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---------------------------------------------------------------- data for pages (run in the store's thread)


def _home_data(store: Store, q, batch, stage, verdict, review, page) -> dict:
    rows, total = store.analysis_summaries(
        search=q,
        batch=batch,
        stage=stage,
        verdict=verdict,
        review=review,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    batches, batch_total = store.batch_summaries(limit=12)
    return {
        "analyses": rows,
        "total": total,
        "batches": batches,
        "batch_total": batch_total,
        "stages": store.trend_choices(("stages",))["stages"],
    }


def _batch_data(store: Store, name: str) -> dict:
    from ..records.export import batch_records

    records = batch_records(store, name)
    latest = [r for r in records if r["latest"]]
    older: dict[tuple[str, str], list[str]] = {}
    for r in records:
        if not r["latest"]:
            older.setdefault((r["stage"], r["sample"]), []).append(r["record_id"])
    return {"records": latest, "older": older, "all_count": len(records)}


def _analysis_data(store: Store, analysis_id: str) -> dict:
    from .plots import report_plots

    row = store.analysis(analysis_id)
    report_text = row["report_json"]
    report = json.loads(report_text)
    files = [dict(f) for f in store.rows("report_files", row["id"])]
    return {
        "row": dict(row),
        "report": report,
        "report_intact": sha(report_text) == row["report_sha256"],
        "inputs": [
            dict(i) | {"instrument": json.loads(i["instrument_json"] or "{}")} for i in store.rows("inputs", row["id"])
        ],
        "files": files,
        "reviews": [dict(r) for r in store.reviews(row["id"])],
        "superseded_by": store.superseded_by(row["id"]),
        "plots": report_plots(files),
    }


def _trend_data(store: Store, species: str | None, check: str | None, stage: str | None) -> dict:
    from ..report import svg

    choices = store.trend_choices()
    data: dict[str, Any] = {"choices": choices, "points": [], "plot": None, "limit": TREND_POINTS}
    if species:
        points = [dict(r) for r in store.species_trend(species, stage, limit=TREND_POINTS)]
        data["points"] = points
        series = []
        for key, label, color in (
            ("ms_area_pct", "MS area %", svg.PALETTE[0]),
            ("nmr_mol_pct", "NMR mol %", svg.PALETTE[1]),
        ):
            xs = [i + 1 for i, p in enumerate(points) if p[key] is not None]
            ys = [p[key] for p in points if p[key] is not None]
            if xs:
                series.append(_series(xs, ys, label, color))
        if series:
            data["plot"] = _plot(
                f"{species}{' at ' + stage if stage else ''}: amount per sample, oldest first",
                "sample (oldest first; numbers as in the table)",
                "%",
                series,
            )
    elif check:
        points = [dict(r) for r in store.check_trend(check, stage, limit=TREND_POINTS)]
        data["points"] = points
        purity = [(i + 1, p["purity_pct"]) for i, p in enumerate(points) if p["purity_pct"] is not None]
        status_value = {"pass": 1.0, "fail": 0.0}
        assessed = [(i + 1, status_value[p["status"]]) for i, p in enumerate(points) if p["status"] in status_value]
        if check == "purity" and purity:
            numbers, values = zip(*purity)
            data["plot"] = _plot(
                f"purity figure of the samples judged by '{check}'",
                "sample (oldest first)",
                "purity %",
                [_series(numbers, values, "purity %", svg.PALETTE[2])],
            )
        elif assessed:
            numbers, values = zip(*assessed)
            data["plot"] = _plot(
                f"check '{check}'{' at ' + stage if stage else ''}: 1 = pass, 0 = fail",
                "sample (oldest first)",
                "status",
                [_series(numbers, values, check, svg.PALETTE[0])],
            )
    return data


def _series(xs, ys, label, color):
    import numpy as np

    from ..report import svg

    return svg.Series(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), label, color)


def _plot(title, x_label, y_label, series) -> Markup:
    from ..report import svg

    low = min(float(s.x.min()) for s in series)
    high = max(float(s.x.max()) for s in series)
    plot = svg.Plot(title, x_label, y_label, series, x_range=(low - 0.5, high + 0.5), height=280)
    return Markup(svg.render(plot))  # svg.render escapes every text it writes


def _watch_data(store: Store) -> dict:
    rows = [dict(r) for r in store.ledger_summary()]
    claims = {c.holder: c for c in store.claims()}
    services: dict[str, dict] = {}
    for row in rows:
        holder = row.get("holder") or "(service not recorded)"
        service = services.setdefault(
            holder, {"holder": holder, "counts": {}, "open": [], "last_at": row["at"], "claim": claims.get(holder)}
        )
        state = row["state"]
        service["counts"][state] = service["counts"].get(state, 0) + 1
        service["last_at"] = max(service["last_at"], row["at"])
        if state not in ("done", "blank"):
            service["open"].append(row)
    for service in services.values():
        service["open"].sort(key=lambda r: r["seq"], reverse=True)
    return {"services": sorted(services.values(), key=lambda s: s["last_at"], reverse=True), "total": len(rows)}


def _report_file(store: Store, analysis_id: str, index: int) -> tuple[Path, str]:
    """A recorded report file of the analysis, by its position: never a path from the request."""
    from ..provenance import sha256_of

    row = store.analysis(analysis_id)
    files = store.rows("report_files", row["id"])
    if not 0 <= index < len(files):
        raise HTTPException(404, "no such report file")
    item = files[index]
    path = Path(item["path"])
    if not path.is_file():
        raise HTTPException(404, f"report file {path.name} is no longer at its recorded place")
    if sha256_of(path) != item["sha256"]:
        raise HTTPException(409, f"report file {path.name} changed since it was recorded; not served")
    return path, item["format"]


# ---------------------------------------------------------------- pages


async def home(request: Request) -> Response:
    visitor = await page_visitor(request)
    params = request.query_params
    q = (params.get("q") or "").strip()[:200] or None
    batch = (params.get("batch") or "").strip() or None
    stage = (params.get("stage") or "").strip() or None
    verdict = _choice(params.get("verdict"), VERDICTS)
    review = _choice(params.get("review"), REVIEW_FILTERS)
    page = _page_number(params.get("page"))
    data = await request.app.state.db.run(_home_data, q, batch, stage, verdict, review, page)
    pages = max(1, math.ceil(data["total"] / PAGE_SIZE))
    filters = {
        k: v for k, v in (("q", q), ("batch", batch), ("stage", stage), ("verdict", verdict), ("review", review)) if v
    }

    def page_link(number):
        return "/?" + urlencode({**filters, "page": number})

    return render(
        request,
        "home.html",
        {
            "visitor": visitor,
            **data,
            "filters": filters,
            "page": page,
            "pages": pages,
            "page_link": page_link,
            "verdicts": VERDICTS,
            "review_filters": REVIEW_FILTERS,
        },
    )


async def batch_page(request: Request) -> Response:
    visitor = await page_visitor(request)
    name = request.query_params.get("name")
    if not name:
        raise HTTPException(404, "no batch named")
    try:
        data = await request.app.state.db.run(_batch_data, name)
    except InputError:
        raise HTTPException(404, "no analyses recorded for this batch") from None
    return render(request, "batch.html", {"visitor": visitor, "batch": name, **data, "quote": quote})


async def batch_export(request: Request) -> Response:
    await page_visitor(request)
    name = request.query_params.get("name")
    export_format = request.query_params.get("format", "csv")
    if not name or export_format not in EXPORT_FORMATS:
        raise HTTPException(404, "no such export")
    from ..records import export

    try:
        records = await request.app.state.db.run(export.batch_records, name)
    except InputError:
        raise HTTPException(404, "no analyses recorded for this batch") from None
    body: bytes | str
    if export_format == "xlsx":
        body, suffix = await run_in_threadpool(export.to_xlsx, records, name), "xlsx"
    elif export_format == "json":
        body, suffix = await run_in_threadpool(export.to_json, records, name), "json"
    else:
        body, suffix = export.to_csv(records, export_format == "csv-long"), "csv"
    filename = f"{_safe_filename(name)}{'-species' if export_format == 'csv-long' else ''}.{suffix}"
    return Response(
        body,
        media_type=EXPORT_FORMATS[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def analysis_page(
    request: Request, message: str | None = None, status: int = 200, form: dict | None = None
) -> Response:
    visitor = await page_visitor(request)
    analysis_id = _record_id(request.path_params["analysis_id"])
    try:
        data = await request.app.state.db.run(_analysis_data, analysis_id)
    except InputError:
        raise HTTPException(404, "no such analysis") from None
    return render(
        request,
        "analysis.html",
        {"visitor": visitor, **data, "message": message, "form": form or {}, "meanings": reviews.MEANINGS},
        status,
    )


async def review_form(request: Request) -> Response:
    """The review form's POST: CSRF token, logged-in reviewer, password re-entered."""
    analysis_id = _record_id(request.path_params["analysis_id"])
    form = await request.form()
    session = request.state.session
    if not token_matches(session.csrf, form.get("csrf")):
        raise HTTPException(403, "the form expired or did not come from this site; reload the page and sign again")
    visitor = await request.app.state.db.run(_visitor, session.user)
    if visitor.account is None:
        raise HTTPException(401, "log in to review")
    if not visitor.may_review:
        raise HTTPException(403, f"account {visitor.account.name} (role {visitor.account.role}) may not review")
    decision, comment = str(form.get("decision") or ""), str(form.get("comment") or "")
    kept = {"decision": decision, "comment": comment}
    try:
        await request.app.state.db.run(
            reviews.sign_review,
            analysis_id,
            name=visitor.account.name,
            password=str(form.get("password") or ""),
            decision=decision,
            comment=comment,
            report_sha256=str(form.get("report_sha256") or "") or None,
            client=_client(request),
        )
    except reviews.AuthenticationError:
        return await analysis_page(request, "Signature refused: the password is not this account's.", 401, kept)
    except reviews.NotPermittedError as exc:
        raise HTTPException(403, exc.message) from None
    except InputError as exc:
        return await analysis_page(request, f"Not signed: {exc.message}", 409, kept)
    return RedirectResponse(f"/analyses/{analysis_id}#signatures", status_code=303)


async def analysis_report(request: Request) -> Response:
    """The stored report as JSON, or as specqc's HTML report rendered from it (no plots), or
    that page printed to PDF by the same renderer as ``analyze --format pdf``."""
    await page_visitor(request)
    analysis_id = _record_id(request.path_params["analysis_id"])
    kind = request.path_params["kind"]
    if kind not in ("json", "html", "pdf"):
        raise HTTPException(404, "no such report format")
    try:
        row = await request.app.state.db.run(lambda store: dict(store.analysis(analysis_id)))
    except InputError:
        raise HTTPException(404, "no such analysis") from None
    if kind == "json":
        return Response(
            row["report_json"],
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{row["id"]}.json"'},
        )
    from ..report.html import render_html

    html = await run_in_threadpool(render_html, json.loads(row["report_json"]))
    if kind == "pdf":
        from ..report.pdf import html_to_pdf

        paper = request.query_params.get("paper", "a4")
        if paper not in ("a4", "letter"):
            raise HTTPException(404, "paper must be a4 or letter")
        try:
            pdf = await run_in_threadpool(html_to_pdf, html, paper)
        except ConfigError as exc:  # no Chromium on this server
            raise HTTPException(503, exc.message) from None
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{row["id"]}.pdf"'},
        )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": DOWNLOAD_POLICY,
            "Content-Disposition": f'attachment; filename="{row["id"]}.html"',
        },
    )


async def analysis_file(request: Request) -> Response:
    await page_visitor(request)
    analysis_id = _record_id(request.path_params["analysis_id"])
    index = request.path_params["index"]
    try:
        path, kind = await request.app.state.db.run(_report_file, analysis_id, index)
    except InputError:
        raise HTTPException(404, "no such analysis") from None
    media = {"html": "text/html; charset=utf-8", "json": "application/json", "pdf": "application/pdf"}.get(
        kind, "application/octet-stream"
    )
    body = await run_in_threadpool(path.read_bytes)
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Security-Policy": DOWNLOAD_POLICY,
            "Content-Disposition": f'attachment; filename="{_safe_filename(path.name)}"',
        },
    )


async def trends(request: Request) -> Response:
    visitor = await page_visitor(request)
    params = request.query_params
    species = (params.get("species") or "").strip() or None
    check = (params.get("check") or "").strip() or None
    stage = (params.get("stage") or "").strip() or None
    data = await request.app.state.db.run(_trend_data, species, check if not species else None, stage)
    return render(
        request, "trends.html", {"visitor": visitor, **data, "species": species, "check": check, "stage": stage}
    )


async def watch_page(request: Request) -> Response:
    visitor = await page_visitor(request)
    data = await request.app.state.db.run(_watch_data)
    return render(request, "watch.html", {"visitor": visitor, **data})


async def login(request: Request) -> Response:
    next_path = request.query_params.get("next") or "/"
    if request.method == "GET":
        return render(request, "login.html", {"visitor": None, "next": next_path, "message": None})
    form = await request.form()
    session = request.state.session
    next_path = str(form.get("next") or "/")
    if not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        next_path = "/"  # only a page of this site
    if not token_matches(session.csrf, form.get("csrf")):
        return render(
            request,
            "login.html",
            {"visitor": None, "next": next_path, "message": "The form expired; please log in again."},
            403,
        )
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    sessions: Sessions = request.app.state.sessions
    if sessions.held_off(name):
        return render(
            request,
            "login.html",
            {"visitor": None, "next": next_path, "message": "Too many failed logins for this account; wait a minute."},
            429,
        )
    try:
        account = await request.app.state.db.run(reviews.authenticate, name, password)
    except reviews.AuthenticationError:
        sessions.failed(name)
        return render(
            request,
            "login.html",
            {"visitor": None, "next": next_path, "message": "Unknown account or wrong password."},
            401,
        )
    sessions.succeeded(name)
    request.state.session = sessions.log_in(session, account.name)
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    session = request.state.session
    if not token_matches(session.csrf, form.get("csrf")):
        raise HTTPException(403, "the form expired; reload the page")
    request.app.state.sessions.drop(session.id)
    request.state.session = request.app.state.sessions.new()
    return RedirectResponse("/login", status_code=303)


# ---------------------------------------------------------------- JSON API


async def api_analyses(request: Request) -> Response:
    await api_visitor(request)
    params = request.query_params
    try:
        limit = max(1, min(int(params.get("limit") or PAGE_SIZE), API_LIMIT_MAX))
        offset = max(0, int(params.get("offset") or 0))
    except ValueError:
        raise HTTPException(400, "limit and offset must be numbers") from None

    def listing(store):
        return store.analysis_summaries(
            search=params.get("q") or None,
            batch=params.get("batch") or None,
            stage=params.get("stage") or None,
            verdict=_choice(params.get("verdict"), VERDICTS),
            review=_choice(params.get("review"), REVIEW_FILTERS),
            limit=limit,
            offset=offset,
        )

    rows, total = await request.app.state.db.run(listing)
    return JSONResponse(
        {
            "total": total,
            "limit": limit,
            "offset": offset,
            "analyses": [
                {
                    "id": r["id"],
                    "sample": r["sample"],
                    "batch": r["batch"],
                    "stage": r["stage"],
                    "route_id": r["route_id"],
                    "revision": r["revision"],
                    "latest": not r["superseded"],
                    "verdict": r["verdict"],
                    "analysed_at": r["recorded_at"],
                    "review": r["review"],
                }
                for r in rows
            ],
        }
    )


def _review_json(row) -> dict:
    return {
        k: row[k]
        for k in (
            "seq",
            "analysis_id",
            "reviewer",
            "role",
            "decision",
            "meaning",
            "comment",
            "report_sha256",
            "signed_at",
        )
    }


async def api_analysis(request: Request) -> Response:
    await api_visitor(request)
    analysis_id = _record_id(request.path_params["analysis_id"])

    def one(store):
        row = store.analysis(analysis_id)
        return dict(row), store.superseded_by(row["id"]), [_review_json(r) for r in store.reviews(row["id"])]

    try:
        row, newer, signed = await request.app.state.db.run(one)
    except InputError:
        raise HTTPException(404, "no such analysis") from None
    return JSONResponse(
        {
            "id": row["id"],
            "sample": row["sample"],
            "batch": row["batch"],
            "stage": row["stage"],
            "route_id": row["route_id"],
            "revision": row["revision"],
            "supersedes": row["supersedes"],
            "superseded_by": newer,
            "verdict": row["verdict"],
            "analysed_at": row["recorded_at"],
            "report_sha256": row["report_sha256"],
            "report": json.loads(row["report_json"]),
            "reviews": signed,
        }
    )


async def api_review(request: Request) -> Response:
    """{"decision": "approved"|"rejected", "comment": ..., "password": ...}; with HTTP Basic the
    Basic password is the signature, with a session the body's password and the X-CSRF-Token header."""
    analysis_id = _record_id(request.path_params["analysis_id"])
    visitor, basic_password = await api_visitor(request)
    if basic_password is None and not token_matches(request.state.session.csrf, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    if visitor.account is None:
        raise HTTPException(401, "reviews need an account: none is configured (specqc users add)")
    if not visitor.may_review:
        raise HTTPException(403, f"account {visitor.account.name} (role {visitor.account.role}) may not review")
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    password = basic_password if basic_password is not None else body.get("password")
    if not isinstance(password, str) or not password:
        raise HTTPException(401, 'the signature needs the password ("password" in the body)')
    try:
        row = await request.app.state.db.run(
            reviews.sign_review,
            analysis_id,
            name=visitor.account.name,
            password=password,
            decision=str(body.get("decision") or ""),
            comment=str(body.get("comment") or ""),
            report_sha256=body.get("report_sha256") if isinstance(body.get("report_sha256"), str) else None,
            client=_client(request),
        )
    except reviews.AuthenticationError:
        raise HTTPException(401, "signature refused: wrong password") from None
    except reviews.NotPermittedError as exc:
        raise HTTPException(403, exc.message) from None
    except InputError as exc:
        if "no record" in exc.message:
            raise HTTPException(404, "no such analysis") from None
        raise HTTPException(
            409 if "superseded" in exc.message or "not the one stored" in exc.message else 400, exc.message
        ) from None
    return JSONResponse(_review_json(row), status_code=201)


# ---------------------------------------------------------------- errors and middleware


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def http_error(request: Request, exc: HTTPException) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=SECURITY_HEADERS)
    if not hasattr(request.state, "session"):
        request.state.session = request.app.state.sessions.new()
    response = render(
        request, "error.html", {"visitor": None, "status": exc.status_code, "detail": exc.detail}, exc.status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


async def store_busy(request: Request, exc: TransientError) -> Response:
    """The store is locked by a long write or cannot be written: the machine's fault, worth a retry."""
    return await http_error(
        request, HTTPException(503, f"the results store is busy or not writable; try again in a moment ({exc.message})")
    )


async def needs_login(request: Request, exc: NeedsLogin) -> Response:
    return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), status_code=303)


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug: logged on the server; the browser gets a page (or JSON), never a traceback."""
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    detail = "internal error: the server's log has the details"
    if _wants_json(request):
        return JSONResponse({"error": detail}, status_code=500, headers=SECURITY_HEADERS)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>specqc: error 500</title>'
        f'<link rel="stylesheet" href="/static/app.css"></head><body><main><h1>Error 500</h1>'
        f'<p>{detail}</p><p><a href="/">Home</a></p></main></body></html>'
    )
    return HTMLResponse(page, status_code=500, headers=SECURITY_HEADERS)


class SessionMiddleware(BaseHTTPMiddleware):
    """Attach the server-side session (new if none), set its cookie, add security headers."""

    def __init__(self, app, secure_cookies: bool):
        super().__init__(app)
        self.secure_cookies = secure_cookies

    async def dispatch(self, request: Request, call_next) -> Response:
        if request.url.path.startswith("/static/"):
            response = await call_next(request)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            return response
        sessions: Sessions = request.app.state.sessions
        request.state.session = sessions.get(request.cookies.get(COOKIE)) or sessions.new()
        response = await call_next(request)
        session = request.state.session
        if session.fresh:
            response.set_cookie(
                COOKIE, session.id, httponly=True, samesite="strict", secure=self.secure_cookies, path="/"
            )
            session.fresh = False
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def create_app(store: Store, *, secure_cookies: bool = False) -> Starlette:
    """The dashboard over an open store (kept open for the application's life)."""
    routes = [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/batch", batch_page),
        Route("/batch/export", batch_export),
        Route("/analyses/{analysis_id}", analysis_page),
        Route("/analyses/{analysis_id}/review", review_form, methods=["POST"]),
        Route("/analyses/{analysis_id}/report.{kind:str}", analysis_report),
        Route("/analyses/{analysis_id}/files/{index:int}", analysis_file),
        Route("/trends", trends),
        Route("/watch", watch_page),
        Route("/api/analyses", api_analyses),
        Route("/api/analyses/{analysis_id}", api_analysis),
        Route("/api/analyses/{analysis_id}/review", api_review, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # each handler takes the exception class it is registered for (Starlette types them all as taking Exception)
    handlers: dict[Any, Callable[[Request, Any], Awaitable[Response]]] = {
        HTTPException: http_error,
        NeedsLogin: needs_login,
        TransientError: store_busy,
        Exception: internal_error,
    }
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SessionMiddleware, secure_cookies=secure_cookies)],
        exception_handlers=handlers,
    )
    app.state.db = Database(store)
    app.state.sessions = Sessions()
    app.state.store_name = Path(str(store.path)).name
    app.state.templates = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    app.state.templates.filters["fmt"] = _fmt
    return app


def _fmt(value, pattern: str = "{:.2f}") -> str:
    if value is None or value == "":
        return ""
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)
