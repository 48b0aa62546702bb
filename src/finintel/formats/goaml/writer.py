"""goAML XML writer: model tables -> one report file per report, written as a stream.

Each transaction's sides are written in the ``_my_client`` form when the side's account is held at the reporting
institution (or, for a cash side, when the depositor is that institution's customer), else in the counterparty form;
as ``t_from``/``t_to`` or, for a report written in the multi-party form, as SND/RCV parties in ``involved_parties``.
Accounts carry their holder (``t_entity`` for organizations, a primary ``signatory`` for persons) and organizations
their directors and owners, so reading the files back gives the same resolved ids as the tables they came from.
The rendered XML of each account and party is cached: writing is string concatenation per transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape

import polars as pl

_REL_ROLE = {"directs": "DIR", "nominee": "NOM", "controls": "UBO", "owns": "SHR"}


def _v(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float):
        return f"{value:.2f}"
    return escape(str(value))


def _el(name: str, value: Any) -> str:
    return "" if value is None or value == "" else f"<{name}>{_v(value)}</{name}>"


class GoamlWriter:
    """Renders transactions of one dataset. ``institutions`` maps account id -> (rentity_id, country)."""

    def __init__(
        self,
        parties: Mapping[str, Mapping[str, Any]],
        accounts: Mapping[str, Mapping[str, Any]],
        relations: Iterable[Mapping[str, Any]],
    ) -> None:
        self.parties = parties
        self.accounts = accounts
        self.holder: dict[str, str] = {}
        self.directors: dict[str, list[tuple[str, str]]] = {}
        self.owners: dict[str, list[tuple[str, Any]]] = {}
        for r in relations:
            kind = r["kind"]
            if kind == "holds" and r["target_type"] == "account":
                self.holder.setdefault(r["target_id"], r["source_id"])
            elif r["target_type"] == "party" and kind in _REL_ROLE:
                src = self.parties.get(r["source_id"])
                if src is None:
                    continue
                if kind == "owns" and src["kind"] == "organization":
                    self.owners.setdefault(r["target_id"], []).append((r["source_id"], r.get("share")))
                elif src["kind"] == "person":
                    self.directors.setdefault(r["target_id"], []).append((r["source_id"], _REL_ROLE[kind]))
        self._cache: dict[tuple[str, str, bool], str] = {}

    # -- parties ---------------------------------------------------------------------------------------------------

    def _person_body(self, p: Mapping[str, Any]) -> str:
        address = ""
        if p.get("address") and p.get("city") and p.get("country"):
            address = (
                f"<addresses><address><address_type>H</address_type>{_el('address', p['address'])}"
                f"{_el('city', p['city'])}{_el('country_code', p['country'])}</address></addresses>"
            )
        return (
            f"{_el('gender', p.get('gender'))}{_el('first_name', p.get('first_name') or p['name'])}"
            f"{_el('last_name', p.get('last_name') or p['name'])}{_el('birthdate', p.get('birth_date'))}"
            f"{_el('ssn', p.get('ssn'))}{_el('passport_number', p.get('passport_number'))}"
            f"{_el('passport_country', p.get('passport_country'))}{_el('nationality1', p.get('nationality'))}"
            f"{_el('residence', p.get('residence'))}{address}{_el('occupation', p.get('occupation'))}"
            f"{_el('tax_number', p.get('tax_number'))}"
        )

    def person(self, tag: str, party_id: str) -> str:
        key = ("p:" + tag, party_id, False)
        cached = self._cache.get(key)
        if cached is None:
            cached = f"<{tag}>{self._person_body(self.parties[party_id])}</{tag}>"
            self._cache[key] = cached
        return cached

    def entity(self, tag: str, party_id: str, depth: int = 0) -> str:
        key = ("e:" + tag, party_id, depth > 0)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        o = self.parties[party_id]
        address = ""
        if o.get("address") and o.get("city") and o.get("country"):
            address = (
                f"<addresses><address><address_type>R</address_type>{_el('address', o['address'])}"
                f"{_el('city', o['city'])}{_el('country_code', o['country'])}</address></addresses>"
            )
        directors = (
            "".join(
                f"<director_id>{self._person_body(self.parties[pid])}<role>{role}</role></director_id>"
                for pid, role in self.directors.get(party_id, [])
            )
            if depth == 0
            else ""
        )
        related = ""
        if depth == 0 and self.owners.get(party_id):
            related = (
                "<related_entities>"
                + "".join(
                    f"<related_entity><entity_entity_relation>OWN</entity_entity_relation>"
                    f"{_el('share_percentage', share)}{self.entity('entity', owner, depth + 1)}</related_entity>"
                    for owner, share in self.owners[party_id]
                )
                + "</related_entities>"
            )
        cached = (
            f"<{tag}>{_el('name', o['name'])}{_el('incorporation_legal_form', o.get('legal_form'))}"
            f"{_el('incorporation_number', o.get('registration_number'))}{_el('business', o.get('business'))}"
            f"{address}{_el('incorporation_country_code', o.get('incorporation_country'))}{directors}"
            f"{_el('incorporation_date', o.get('incorporation_date'))}{_el('tax_number', o.get('tax_number'))}"
            f"{related}</{tag}>"
        )
        self._cache[key] = cached
        return cached

    def account(self, tag: str, account_id: str, my_client: bool) -> str:
        key = ("a:" + tag, account_id, my_client)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        a = self.accounts[account_id]
        holder_xml = ""
        holder = self.holder.get(account_id)
        if holder is not None:
            h = self.parties[holder]
            if h["kind"] == "organization":
                holder_xml = self.entity("t_entity", holder)
            else:
                holder_xml = (
                    f"<signatory><is_primary>true</is_primary>{self.person('t_person', holder)}<role>OWN</role>"
                    "</signatory>"
                )
        non_bank = a["kind"] in ("vasp", "wallet")
        cached = (
            f"<{tag}>{_el('institution_name', a.get('institution_name'))}"
            f"{_el('institution_code', a.get('institution_code'))}{_el('swift', a.get('swift'))}"
            f"{'<non_bank_institution>true</non_bank_institution>' if non_bank else ''}"
            f"{_el('account', a.get('number') or a.get('address'))}{_el('currency_code', a.get('currency'))}"
            f"{_el('account_name', a.get('name'))}{_el('iban', a.get('iban'))}"
            f"{_el('personal_account_type', a.get('account_type'))}{holder_xml}"
            f"{_el('opened', a.get('opened'))}</{tag}>"
        )
        self._cache[key] = cached
        return cached

    # -- transactions ----------------------------------------------------------------------------------------------

    def side(
        self,
        tx: Mapping[str, Any],
        side: str,
        rentity: int,
        institution_of: Mapping[str, int],
        role: str | None = None,
    ) -> str:
        """One side of ``tx``: ``t_from``/``t_to`` (``t_from_my_client``/``t_to_my_client`` for the institution's own
        client), or with ``role`` an ``involved_parties`` party in that role (its subject ``account``,
        ``account_my_client``, ``person_my_client``, ...)."""
        account_id = tx[f"{side}_account_id"]
        party_id = tx[f"{side}_party_id"]
        if account_id is not None:
            mine, kind = institution_of.get(account_id) == rentity, "account"
        elif party_id is not None:
            # a cash side: the person is the reporting institution's customer (they hold the other side's account)
            mine, kind = True, "person" if self.parties[party_id]["kind"] == "person" else "entity"
        else:  # pragma: no cover - generated transactions always have both sides
            raise ValueError(f"transaction {tx['transaction_id']} has no {side} side")
        tag = f"{side}_{kind}" if role is None else f"{kind}_my_client" if mine else kind
        subject = (
            self.account(tag, account_id, mine)
            if kind == "account"
            else self.person(tag, party_id)
            if kind == "person"
            else self.entity(tag, party_id)
        )
        funds, country = tx[f"{side}_funds_x"], tx[f"{side}_country_x"]
        if role is not None:
            return (
                f"<party><role>{role}</role>{subject}<funds_code>{funds}</funds_code><country>{country}</country>"
                "</party>"
            )
        outer = f"t_{side}_my_client" if mine else f"t_{side}"
        return (
            f"<{outer}><{side}_funds_code>{funds}</{side}_funds_code>{subject}"
            f"<{side}_country>{country}</{side}_country></{outer}>"
        )

    def transaction(
        self, tx: Mapping[str, Any], rentity: int, institution_of: Mapping[str, int], parties: bool = False
    ) -> str:
        """``tx`` is a row of :func:`prepare`: value columns already rendered and escaped (``*_x``). With
        ``parties``, its sides are written as senders and receivers in ``involved_parties`` (the multi-party form)."""
        if parties:
            sides = (
                f"<involved_parties>{self.side(tx, 'from', rentity, institution_of, 'SND')}"
                f"{self.side(tx, 'to', rentity, institution_of, 'RCV')}</involved_parties>"
            )
        else:
            sides = f"{self.side(tx, 'from', rentity, institution_of)}{self.side(tx, 'to', rentity, institution_of)}"
        return (
            f"<transaction><transactionnumber>{tx['number_x']}</transactionnumber>{tx['description_x']}"
            f"<date_transaction>{tx['timestamp_x']}</date_transaction>"
            f"<transmode_code>{tx['transmode_x']}</transmode_code><amount_local>{tx['amount_x']}</amount_local>"
            f"{sides}</transaction>\n"
        )

    def write_report(
        self,
        out: TextIO,
        report: Mapping[str, Any],
        transactions: Iterable[Mapping[str, Any]],
        institution_of: Mapping[str, int],
        location: Mapping[str, str] | None = None,
        parties: bool = False,
    ) -> int:
        """Write one report; with ``parties``, its transactions in the multi-party form (``involved_parties``)."""
        rentity = int(report["rentity_id"])
        loc = ""
        if location:
            loc = (
                f"<location><address_type>B</address_type>{_el('address', location.get('address'))}"
                f"{_el('city', location.get('city'))}{_el('country_code', location.get('country'))}</location>"
            )
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<report>'
            f"<rentity_id>{rentity}</rentity_id><submission_code>{_v(report.get('submission_code') or 'E')}"
            f"</submission_code><report_code>{_v(report['report_code'])}</report_code>"
            f"{_el('entity_reference', report.get('entity_reference'))}"
            f"<submission_date>{_v(report['submission_date'])}</submission_date>"
            f"<currency_code_local>{_v(report['currency_code_local'])}</currency_code_local>{loc}"
            f"{_el('reason', report.get('reason'))}\n"
        )
        n = 0
        for tx in transactions:
            out.write(self.transaction(tx, rentity, institution_of, parties))
            n += 1
        indicators = report.get("indicators") or []
        if indicators:
            out.write("<report_indicators>" + "".join(_el("indicator", i) for i in indicators) + "</report_indicators>")
        out.write("</report>\n")
        return n


def _escaped(col: str) -> pl.Expr:
    return (
        pl.col(col)
        .cast(pl.String)
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def prepare(transactions: pl.DataFrame) -> pl.DataFrame:
    """Render the value columns of many transactions at once (vectorised): what :meth:`GoamlWriter.transaction`
    reads. Rows without a description get an empty string (the element is optional)."""
    return transactions.with_columns(
        _escaped("transaction_number").alias("number_x"),
        pl.when(pl.col("description").is_not_null())
        .then(pl.format("<transaction_description>{}</transaction_description>", _escaped("description")))
        .otherwise(pl.lit(""))
        .alias("description_x"),
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S").alias("timestamp_x"),
        pl.col("amount_local").cast(pl.Decimal(38, 2)).cast(pl.String).alias("amount_x"),
        _escaped("transmode_code").alias("transmode_x"),
        _escaped("from_funds_code").fill_null("A").alias("from_funds_x"),
        _escaped("to_funds_code").fill_null("A").alias("to_funds_x"),
        _escaped("from_country").alias("from_country_x"),
        _escaped("to_country").alias("to_country_x"),
    )


def write_report_file(
    path: Path,
    writer: GoamlWriter,
    report: Mapping[str, Any],
    transactions: Iterable[Mapping[str, Any]],
    institution_of: Mapping[str, int],
    location: Mapping[str, str] | None = None,
    parties: bool = False,
) -> int:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        return writer.write_report(fh, report, transactions, institution_of, location, parties)
