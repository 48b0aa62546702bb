"""The goAML reader on every element form: my_client vs counterparty, account / person / entity sides,
multi-party transactions, activity reports, wallets, foreign currency, namespaces, report wrappers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from conftest import FROM_ACCOUNT, NOW, SAMPLE, TO_ACCOUNT, report, transaction
from finintel.formats.goaml.reader import GoamlReader, PartyUnit, RejectedUnit, ReportUnit, TransactionUnit


def read(path: Path) -> tuple[list, GoamlReader]:
    reader = GoamlReader(path, now=NOW)
    return list(reader), reader


def only_tx(units: list) -> TransactionUnit:
    txs = [u for u in units if isinstance(u, TransactionUnit)]
    assert len(txs) == 1, units
    return txs[0]


def entities(unit: TransactionUnit, role: str) -> list:
    return [m.entity for m in unit.mentions if m.role == role]


def test_account_to_account_counterparties(write) -> None:
    units, reader = read(write("r.xml", report(transaction())))
    tx = only_tx(units).transaction
    assert tx.transaction_id == "100:TX-1"
    assert tx.amount == Decimal("1000.00") and tx.currency == "EUR"
    assert tx.from_account_id and tx.to_account_id and not tx.from_party_id
    assert tx.from_my_client is False and tx.to_my_client is False
    [src] = entities(only_tx(units), "from")
    assert src.kind == "bank" and src.iban == "DE89370400440532013000" and src.country == "DE"
    assert reader.problems == []


def test_my_client_person_and_entity_sides(write) -> None:
    sides = """
    <t_from_my_client>
      <from_funds_code>K</from_funds_code>
      <t_conductor><first_name>Carl</first_name><last_name>Cond</last_name>
        <birthdate>1980-05-05T00:00:00</birthdate><ssn>X-1</ssn><nationality1>GB</nationality1></t_conductor>
      <from_person>
        <first_name>Ann</first_name><last_name>Lee</last_name><birthdate>1990-01-01T00:00:00</birthdate>
        <passport_number>P1</passport_number><passport_country>GB</passport_country><nationality1>GB</nationality1>
      </from_person>
      <from_country>GB</from_country>
    </t_from_my_client>
    <t_to>
      <to_funds_code>W</to_funds_code>
      <to_entity>
        <name>Acme Ltd</name><incorporation_number>123</incorporation_number>
        <incorporation_country_code>GB</incorporation_country_code>
        <director_id><first_name>Dan</first_name><last_name>Dir</last_name><role>DIR</role></director_id>
      </to_entity>
      <to_country>GB</to_country>
    </t_to>"""
    units, reader = read(write("r.xml", report(transaction(sides=sides))))
    unit = only_tx(units)
    tx = unit.transaction
    assert tx.from_my_client and not tx.to_my_client
    assert tx.from_party_id and tx.to_party_id and not tx.from_account_id and not tx.to_account_id
    [person] = entities(unit, "from")
    assert person.name == "Ann Lee" and str(person.birth_date) == "1990-01-01"
    [org] = entities(unit, "to")
    assert org.kind == "organization" and org.registration_number == "123"
    [conductor] = entities(unit, "conductor")
    assert tx.conductor_party_id == conductor.party_id
    [director] = entities(unit, "director")
    [rel] = unit.relations
    assert (rel.kind, rel.source_id, rel.target_id) == ("directs", director.party_id, org.party_id)
    assert [p.code for p in reader.problems] == []


def test_account_holders_and_signatories(write) -> None:
    sides = (
        FROM_ACCOUNT
        + """
    <t_to_my_client>
      <to_funds_code>A</to_funds_code>
      <to_account>
        <institution_name>Bank B</institution_name><account>999</account>
        <t_entity><name>Acme Ltd</name><incorporation_number>1</incorporation_number>
          <incorporation_country_code>GB</incorporation_country_code></t_entity>
        <signatory><is_primary>true</is_primary>
          <t_person><first_name>Ann</first_name><last_name>Lee</last_name></t_person><role>SIG</role></signatory>
      </to_account>
      <to_country>GB</to_country>
    </t_to_my_client>"""
    )
    units, _ = read(write("r.xml", report(transaction(sides=sides))))
    unit = only_tx(units)
    kinds = sorted((r.kind, r.target_type) for r in unit.relations)
    assert kinds == [("holds", "account"), ("signatory", "account")]


def test_multi_party_transaction_maps_roles(write) -> None:
    sides = """
    <involved_parties>
      <party><role>SND</role><person><first_name>A</first_name><last_name>One</last_name></person>
        <country>DE</country></party>
      <party><role>RCV</role><account><institution_name>B</institution_name><account>42</account></account>
        <country>FR</country></party>
    </involved_parties>"""
    units, reader = read(write("r.xml", report(transaction(sides=sides))))
    tx = only_tx(units).transaction
    assert tx.from_party_id and tx.to_account_id
    assert tx.from_country == "DE" and tx.to_country == "FR"
    assert reader.problems == []


def test_foreign_currency_sets_transaction_currency(write) -> None:
    fc = (
        "<from_foreign_currency><foreign_currency_code>USD</foreign_currency_code>"
        "<foreign_amount>1100.00</foreign_amount><foreign_exchange_rate>0.9091</foreign_exchange_rate>"
        "</from_foreign_currency>"
    )
    sides = FROM_ACCOUNT.replace("<from_account>", fc + "<from_account>") + TO_ACCOUNT
    units, reader = read(write("r.xml", report(transaction(sides=sides))))
    tx = only_tx(units).transaction
    assert (tx.amount, tx.currency) == (Decimal("1100.00"), "USD")
    assert (tx.amount_local, tx.currency_local) == (Decimal("1000.00"), "EUR")
    assert reader.problems == []


def test_wallets_and_vasp_accounts() -> None:
    units, reader = read(SAMPLE / "goaml" / "tdx_ee_str_2026_0019.xml")
    accounts = {
        m.entity.number: m.entity
        for u in units
        if isinstance(u, TransactionUnit)
        for m in u.mentions
        if m.entity.__class__.__name__ == "Account"
    }
    btc = accounts["bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"]
    assert (btc.kind, btc.chain) == ("wallet", "BTC")
    eth = accounts["0x8A3f21B6C2d4E5f60718293a4B5c6D7e8F901a2B"]
    assert (eth.kind, eth.chain, eth.address) == ("wallet", "ETH", "0x8a3f21b6c2d4e5f60718293a4b5c6d7e8f901a2b")
    assert accounts["TDX-CUST-0048812"].kind == "vasp"
    assert accounts["DE44 5001 0517 5407 3249 31"].iban == "DE44500105175407324931"  # IBAN found in <account>
    assert reader.problems == []


def test_activity_report_parties() -> None:
    units, reader = read(SAMPLE / "goaml" / "nbk_lt_sar_2026_0080.xml")
    parties = [u for u in units if isinstance(u, PartyUnit)]
    assert len(parties) == 3
    [rep] = [u for u in units if isinstance(u, ReportUnit)]
    assert rep.report.report_code == "SAR" and rep.report.party_count == 3 and rep.report.transaction_count == 0
    owns = [r for u in parties for r in u.relations if r.kind == "owns"]
    assert len(owns) == 1 and owns[0].share == Decimal("100")
    assert reader.schema_version == "5.x"  # related_entities is a 5.x element


def test_report_header_fields() -> None:
    units, _ = read(SAMPLE / "goaml" / "rhb_de_str_2026_0142.xml")
    [rep] = [u.report for u in units if isinstance(u, ReportUnit)]
    assert rep.report_id == "1042:RHB-STR-2026-0142"
    assert rep.jurisdiction == "DE" and rep.report_code == "STR" and rep.transaction_count == 6
    assert len(rep.indicators) == 3 and rep.reason and rep.source_sha256


def test_namespaced_and_wrapped_reports(write) -> None:
    body = report(transaction("A"), reference="R1").split("\n", 1)[1].replace("<report>", '<report xmlns="urn:x">')
    text = f'<?xml version="1.0"?>\n<reports>{body}{report(transaction("B"), reference="R2").split(chr(10), 1)[1]}'
    text += "</reports>"
    units, reader = read(write("multi.xml", text))
    reps = [u.report.report_id for u in units if isinstance(u, ReportUnit)]
    assert reps == ["100:R1", "100:R2"]
    assert reader.problems == []
    assert [u.transaction.transaction_number for u in units if isinstance(u, TransactionUnit)] == ["A", "B"]


def test_reportdata_transactions_wrapper(write) -> None:
    text = report(transaction("A")).replace("<report>", "<reportdata>").replace("</report>", "</reportdata>")
    text = text.replace("<transaction>", "<transactions><transaction>", 1).replace(
        "</transaction>", "</transaction></transactions>", 1
    )
    units, reader = read(write("v5.xml", text))
    assert only_tx(units).transaction.transaction_number == "A"
    assert reader.schema_version == "5.x"
    assert reader.problems == []


def test_unusable_transaction_is_rejected_with_reasons(write) -> None:
    units, _ = read(write("r.xml", report(transaction("A", amount="-5"), transaction("B"))))
    [rejected] = [u for u in units if isinstance(u, RejectedUnit)]
    assert rejected.ref == "A" and [p.code for p in rejected.reasons] == ["FI-V001"]
    assert only_tx(units).transaction.transaction_number == "B"


def _peak_children(path: Path) -> int:
    reader = GoamlReader(path, now=NOW)
    peak = 0
    for unit in reader:
        if isinstance(unit, TransactionUnit):
            assert reader._report is not None
            peak = max(peak, len(reader._report.element))
    return peak


def test_memory_is_released_while_streaming(write) -> None:
    """Processed transactions are removed from the tree: what the report element holds does not grow with the
    number of transactions (only lxml's read-ahead chunk is ever in memory)."""
    small = _peak_children(write("small.xml", report(*[transaction(f"T{i}") for i in range(300)])))
    large = _peak_children(write("large.xml", report(*[transaction(f"T{i}") for i in range(3000)])))
    assert large <= small + 5
    assert large < 300


PARTY = "<report_party><person><first_name>A</first_name><last_name>B</last_name></person></report_party>"


def problems_of(write, text: str) -> set[tuple[str, str | None]]:
    _units, reader = read(write("r.xml", text))
    return {(p.code, p.path) for p in reader.problems}


def test_the_wrappers_of_streamed_units_are_checked_too(write) -> None:
    """transactions, activity and report_parties hold the streamed units; what else they hold is walked at the end."""
    wrapped = report(transaction()).replace("<transaction>", "<transactions><bogus>1</bogus><transaction>", 1)
    wrapped = wrapped.replace("</transaction>\n</report>", "</transaction></transactions>\n</report>")
    assert problems_of(write, wrapped) == {("FI-S003", "/report/transactions/bogus")}

    activity = report(transaction()).replace(transaction(), "")
    goods = "<goods_services><item><estimated_value>abc</estimated_value><bogus2/></item></goods_services>"
    text = activity.replace(
        "</report>", f"<activity><report_parties>{PARTY}</report_parties>{goods}<x/></activity>\n</report>"
    )
    assert problems_of(write, text) == {
        ("FI-S005", "/report/activity/goods_services/item[1]/estimated_value"),
        ("FI-S003", "/report/activity/goods_services/item[1]/bogus2"),
        ("FI-S003", "/report/activity/x"),
    }
    no_parties = activity.replace("</report>", f"<activity>{goods}</activity>\n</report>").replace("abc", "5")
    assert ("FI-S001", "/report/activity/report_parties") in problems_of(write, no_parties.replace("<bogus2/>", ""))
    empty = activity.replace("</report>", "<activity><report_parties></report_parties></activity>\n</report>")
    assert ("FI-S001", "/report/activity/report_parties/report_party") in problems_of(write, empty)
    clean = activity.replace(
        "</report>", f"<activity><report_parties>{PARTY}{PARTY}</report_parties></activity></report>"
    )
    assert problems_of(write, clean) == set()
