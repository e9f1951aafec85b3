"""The transport manifest as a PDF (commerce.md §9.7), drawn with fpdf2 (pure Python)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF, XPos, YPos

MISSING = "-"


@dataclass(frozen=True)
class ManifestParty:
    """A store on the manifest; `licenses` are its verified ones as (number, type, state)."""

    role: str
    company_name: str
    dba_name: str | None
    address: str
    phone: str | None
    licenses: list[tuple[str, str, str]]


@dataclass(frozen=True)
class ManifestLine:
    name: str
    sku: str | None
    category: str | None
    unit: str
    qty: int


@dataclass(frozen=True)
class ManifestData:
    """Everything the manifest shows; `agent` is (name, user id) or None when unassigned."""

    order_number: int
    order_id: uuid.UUID
    generated_at: datetime
    vendor: ManifestParty
    buyer: ManifestParty
    lines: list[ManifestLine]
    agent: tuple[str, uuid.UUID] | None
    created_at: datetime
    ready_at: datetime | None
    pickup_at: datetime | None
    delivered_at: datetime | None


def _text(value: str) -> str:
    # The built-in PDF fonts cover Latin-1 only; other characters are replaced rather than failing.
    return value.encode("latin-1", "replace").decode("latin-1")


def _moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else MISSING


def _line(pdf: FPDF, text: str, *, size: float = 10, bold: bool = False, height: float = 5.5) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", size)
    pdf.multi_cell(0, height, _text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _party(pdf: FPDF, party: ManifestParty) -> None:
    _line(pdf, party.role, size=12, bold=True, height=7)
    name = party.company_name + (f" (dba {party.dba_name})" if party.dba_name else "")
    _line(pdf, name)
    _line(pdf, party.address)
    _line(pdf, f"Phone: {party.phone or MISSING}")
    if party.licenses:
        for number, kind, state in party.licenses:
            _line(pdf, f"License: {number} ({kind}, {state})")
    else:
        _line(pdf, "License: none verified")
    pdf.ln(3)


def render(data: ManifestData) -> bytes:
    """The manifest PDF: parties, lines, agent and timestamps."""
    pdf = FPDF(format="letter")
    pdf.set_title(_text(f"Transport manifest - order {data.order_number}"))
    pdf.set_creator("PackFinderz")
    pdf.set_creation_date(data.generated_at)
    pdf.add_page()
    _line(pdf, "PackFinderz transport manifest", size=16, bold=True, height=9)
    _line(pdf, f"Order number: {data.order_number}")
    _line(pdf, f"Order id: {data.order_id}")
    _line(pdf, f"Generated: {_moment(data.generated_at)}")
    pdf.ln(3)
    _party(pdf, data.vendor)
    _party(pdf, data.buyer)
    _line(pdf, "Items", size=12, bold=True, height=7)
    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(70, 35, 30, 25, 15), text_align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT")
    ) as table:
        header = table.row()
        for title in ("Name", "SKU", "Category", "Unit", "Qty"):
            header.cell(title)
        for item in data.lines:
            row = table.row()
            for value in (item.name, item.sku or MISSING, item.category or MISSING, item.unit, str(item.qty)):
                row.cell(_text(value))
    pdf.ln(3)
    agent = f"{data.agent[0]} ({data.agent[1]})" if data.agent else "unassigned"
    _line(pdf, f"Delivery agent: {agent}", bold=True)
    _line(pdf, f"Created: {_moment(data.created_at)}")
    _line(pdf, f"Ready for dispatch: {_moment(data.ready_at)}")
    _line(pdf, f"Picked up: {_moment(data.pickup_at)}")
    _line(pdf, f"Delivered: {_moment(data.delivered_at)}")
    return bytes(pdf.output())
