"""The synthetic world: institutions, people, companies, hubs, wallets and their accounts.

Ids are the ones :mod:`finintel.resolve` computes from each entity's identifiers, so a tabular dataset written by
the generator and the goAML files written from it resolve to exactly the same ids (labels work for both).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finintel.resolve import account_id_of, party_id_of

FIRST_NAMES = {
    "DE": ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Mia", "Paul", "Hannah", "Tim", "Laura", "Jan", "Sophie"],
    "LT": ["Mantas", "Austėja", "Lukas", "Gabija", "Matas", "Emilija", "Jonas", "Ugnė", "Tomas", "Ieva"],
    "EE": ["Rasmus", "Sofia", "Robin", "Maria", "Oliver", "Eliise", "Karl", "Mia", "Martin", "Liisa"],
    "LV": ["Roberts", "Sofija", "Markuss", "Alise", "Daniels", "Anna", "Kristers", "Marta", "Jānis", "Ieva"],
    "NL": ["Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Levi", "Tess", "Finn", "Sara"],
    "FR": ["Gabriel", "Louise", "Raphaël", "Emma", "Léo", "Jade", "Louis", "Alice", "Hugo", "Chloé"],
    "CY": ["Andreas", "Maria", "Georgios", "Eleni", "Christos", "Andri", "Nikos", "Sofia", "Marios", "Katerina"],
    "_": ["Alex", "Sam", "Maria", "John", "Elena", "David", "Anna", "Peter", "Sara", "Michael"],
}
LAST_NAMES = {
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"],
    "LT": ["Kazlauskas", "Jankauskas", "Petrauskas", "Stankevičius", "Vasiliauskas", "Žukauskas", "Butkus"],
    "EE": ["Tamm", "Saar", "Sepp", "Mägi", "Kask", "Kukk", "Rebane", "Ilves", "Pärn", "Koppel"],
    "LV": ["Bērziņš", "Kalniņš", "Ozoliņš", "Jansons", "Liepiņš", "Krūmiņš", "Balodis", "Zariņš"],
    "NL": ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer"],
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"],
    "CY": ["Georgiou", "Charalambous", "Ioannou", "Constantinou", "Christodoulou", "Nicolaou", "Pavlou"],
    "_": ["Smith", "Novak", "Horvat", "Popescu", "Ivanova", "Kowalski", "Nagy", "Rossi", "Silva", "Jensen"],
}
COMPANY_WORDS = [
    "Nord",
    "Baltic",
    "Amber",
    "Vista",
    "Delta",
    "Orion",
    "Kestrel",
    "Harbor",
    "Summit",
    "Linden",
    "Cobalt",
    "Meridian",
    "Aurora",
    "Granite",
    "Willow",
    "Falcon",
    "Atlas",
    "Beacon",
    "Crescent",
    "Juniper",
    "Solstice",
    "Vantor",
    "Rivet",
    "Halcyon",
]
COMPANY_NOUNS = [
    "Logistics",
    "Trading",
    "Foods",
    "Systems",
    "Retail",
    "Consulting",
    "Energy",
    "Textiles",
    "Media",
    "Construction",
    "Pharma",
    "Motors",
    "Properties",
    "Software",
    "Metals",
    "Agro",
]
LEGAL_FORM = {
    "DE": ("GmbH", "GMBH"),
    "LT": ("UAB", "LTD"),
    "EE": ("OÜ", "LTD"),
    "LV": ("SIA", "LTD"),
    "NL": ("B.V.", "BV"),
    "FR": ("SAS", "SA"),
    "CY": ("Ltd", "LTD"),
    "GB": ("Ltd", "LTD"),
    "MT": ("Ltd", "LTD"),
    "VG": ("Ltd", "IBC"),
    "SC": ("Ltd", "IBC"),
    "BZ": ("Ltd", "IBC"),
    "PA": ("S.A.", "SA"),
    "MH": ("Inc.", "INC"),
    "KY": ("Ltd", "LTD"),
}
BANK_NAMES = [
    "Handelsbank",
    "Sparbank",
    "Citizens Bank",
    "Merchant Bank",
    "Savings Bank",
    "Commerce Bank",
    "Union Bank",
    "Credit Bank",
    "Capital Bank",
]
CITY = {
    "DE": "Köln",
    "LT": "Vilnius",
    "EE": "Tallinn",
    "LV": "Rīga",
    "NL": "Rotterdam",
    "FR": "Lyon",
    "CY": "Limassol",
    "GB": "London",
    "MT": "Valletta",
    "VG": "Road Town",
    "SC": "Victoria",
    "BZ": "Belize City",
    "PA": "Panama City",
    "MH": "Majuro",
    "KY": "George Town",
}
#: (bank code digits, account digits) of national BBANs, numeric form (close enough to each country's layout).
BBAN = {
    "DE": (8, 10),
    "LT": (5, 11),
    "EE": (4, 12),
    "LV": (4, 13),
    "NL": (4, 10),
    "FR": (10, 13),
    "CY": (8, 16),
    "GB": (4, 14),
    "MT": (4, 23),
    "_": (6, 12),
}
SECRECY = ["VG", "SC", "BZ", "PA", "MH", "KY"]
ALPHA = "ABCDEFGHJKLMNPQRSTUVWXYZ"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def iban(country: str, bban: str) -> str:
    """An IBAN with correct ISO 7064 mod-97 check digits."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


@dataclass
class Institution:
    rentity_id: int
    name: str
    country: str
    kind: str  # bank | vasp
    bic: str | None
    code: str | None
    party_id: str = ""


@dataclass
class World:
    """Everything that exists: rows for the parties/accounts/relations tables, and indices the generator uses."""

    rng: np.random.Generator
    start: dt.date
    days: int
    jurisdictions: list[str]
    banks: list[Institution] = field(default_factory=list)
    vasps: list[Institution] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    account_institution: dict[str, Institution] = field(default_factory=dict)
    account_holder: dict[str, str] = field(default_factory=dict)
    accounts_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    party_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    _names: set[tuple[str, str]] = field(default_factory=set)
    _org_names: set[tuple[str, str]] = field(default_factory=set)
    _passports: set[tuple[str, str]] = field(default_factory=set)
    _serial: int = 0

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def _digits(self, n: int) -> str:
        return "".join(str(d) for d in self.rng.integers(0, 10, n))

    # -- institutions ----------------------------------------------------------------------------------------------

    def add_institutions(self, banks_per_jurisdiction: int, n_vasps: int) -> None:
        rid = 1000
        for j in self.jurisdictions:
            for b in range(banks_per_jurisdiction):
                rid += 1
                name = f"{CITY.get(j, j)} {BANK_NAMES[(rid + b) % len(BANK_NAMES)]}"
                bic = f"{ALPHA[rid % 24]}{ALPHA[(rid // 24) % 24]}{ALPHA[b % 24]}B{j}{2 + b}X"
                inst = Institution(rid, name, j, "bank", bic, None)
                org = self.new_organization(j, name=name, business_type="bank", employees=800 + 50 * b, age_days=15000)
                inst.party_id = org["party_id"]
                self.banks.append(inst)
        vasp_countries = ["EE", "LT", "MT", "CY", "LV"]
        for v in range(n_vasps):
            rid = 7001 + v
            country = vasp_countries[v % len(vasp_countries)]
            name = f"{COMPANY_WORDS[(v * 7) % len(COMPANY_WORDS)]} Digital Exchange"
            inst = Institution(rid, name, country, "vasp", None, f"{country}-VASP-{v + 1:04d}")
            org = self.new_organization(
                country,
                name=name,
                business_type="exchange",
                employees=40 + 10 * v,
                age_days=2000,
                business="Virtual asset exchange service provider",
            )
            inst.party_id = org["party_id"]
            self.vasps.append(inst)

    def bank_in(self, country: str) -> Institution:
        local = [b for b in self.banks if b.country == country] or self.banks
        return local[int(self.rng.integers(0, len(local)))]

    # -- parties ---------------------------------------------------------------------------------------------------

    def _add_party(self, row: dict[str, Any]) -> dict[str, Any]:
        row["party_id"] = party_id_of(row)
        self.parties.append(row)
        self.party_by_id[row["party_id"]] = row
        return row

    def new_person(self, country: str, *, birth_year: tuple[int, int] = (1950, 2004)) -> dict[str, Any]:
        firsts = FIRST_NAMES.get(country, FIRST_NAMES["_"])
        lasts = LAST_NAMES.get(country, LAST_NAMES["_"])
        while True:
            first = firsts[int(self.rng.integers(0, len(firsts)))]
            last = lasts[int(self.rng.integers(0, len(lasts)))]
            year = int(self.rng.integers(birth_year[0], birth_year[1] + 1))
            birth = dt.date(year, 1, 1) + dt.timedelta(days=int(self.rng.integers(0, 365)))
            # name + birth date is a (weak) resolution key: keep it unique so no two people merge
            if (f"{first} {last}", birth.isoformat()) not in self._names:
                self._names.add((f"{first} {last}", birth.isoformat()))
                break
        while True:  # the passport is a strong resolution key: two people must never share one
            passport = f"{ALPHA[self.serial() % 24]}{self._digits(8)}"
            if (country, passport) not in self._passports:
                self._passports.add((country, passport))
                break
        return self._add_party(
            {
                "kind": "person",
                "name": f"{first} {last}",
                "first_name": first,
                "last_name": last,
                "gender": "F" if first[-1] in "aeiė" else "M",
                "birth_date": birth,
                "nationality": country,
                "residence": country,
                "passport_number": passport,
                "passport_country": country,
                "address": f"{self._digits(2).lstrip('0') or '1'} Market Street",
                "city": CITY.get(country, country),
                "country": country,
            }
        )

    def new_organization(
        self,
        country: str,
        *,
        name: str | None = None,
        business_type: str = "company",
        employees: int | None = None,
        age_days: int | None = None,
        address: str | None = None,
        business: str | None = None,
        legal_form: str | None = None,
        incorporated: dt.date | None = None,
    ) -> dict[str, Any]:
        display, code = LEGAL_FORM.get(country, ("Ltd", "LTD"))
        if name is None:
            while True:
                w = COMPANY_WORDS[int(self.rng.integers(0, len(COMPANY_WORDS)))]
                n = COMPANY_NOUNS[int(self.rng.integers(0, len(COMPANY_NOUNS)))]
                name = f"{w} {n} {display}"
                if (country, name) in self._org_names:
                    name = f"{w} {n} {self.serial()} {display}"
                if (country, name) not in self._org_names:
                    break
        self._org_names.add((country, name))
        if incorporated is None:
            age = age_days if age_days is not None else int(self.rng.integers(800, 12000))
            incorporated = self.start - dt.timedelta(days=age)
        return self._add_party(
            {
                "kind": "organization",
                "name": name,
                "legal_form": legal_form or code,
                "registration_number": f"{country}{self._digits(8)}{self.serial()}",
                "incorporation_country": country,
                "incorporation_date": incorporated,
                "business_type": business_type,
                "business": business or business_type.replace("_", " "),
                "employee_count": employees if employees is not None else int(self.rng.integers(2, 300)),
                "address": address or f"{self._digits(2).lstrip('0') or '1'} Industrial Road",
                "city": CITY.get(country, country),
                "country": country,
            }
        )

    def relate(
        self, kind: str, source: str, target: str, target_type: str, share: float | None = None, role: str | None = None
    ) -> None:
        self.relations.append(
            {
                "relation_id": f"rel_{kind}:{source}>{target}",
                "kind": kind,
                "source_id": source,
                "target_id": target,
                "target_type": target_type,
                "share": share,
                "role": role,
            }
        )

    # -- accounts --------------------------------------------------------------------------------------------------

    def _add_account(self, row: dict[str, Any], holder: str | None, institution: Institution | None) -> str:
        row["account_id"] = account_id_of(row)
        self.accounts.append(row)
        self.accounts_by_id[row["account_id"]] = row
        if holder is not None:
            self.account_holder[row["account_id"]] = holder
            self.relate("holds", holder, row["account_id"], "account", role="OWN")
        if institution is not None:
            self.account_institution[row["account_id"]] = institution
        return str(row["account_id"])

    def bank_account(self, holder: dict[str, Any], bank: Institution | None = None) -> str:
        bank = bank or self.bank_in(
            holder["country"]
            if holder["country"] in self.jurisdictions
            else self.jurisdictions[int(self.rng.integers(0, len(self.jurisdictions)))]
        )
        code_len, acct_len = BBAN.get(bank.country, BBAN["_"])
        bank_code = str(int(hashlib.sha256(bank.name.encode()).hexdigest(), 16))[:code_len].zfill(code_len)
        number = iban(bank.country, bank_code + self._digits(acct_len))
        return self._add_account(
            {
                "kind": "bank",
                "institution_name": bank.name,
                "swift": bank.bic,
                "number": number,
                "iban": number,
                "name": holder["name"],
                "currency": "EUR",
                "country": bank.country,
                "account_type": "BUS" if holder["kind"] == "organization" else "CUR",
                "opened": dt.datetime.combine(
                    self.start - dt.timedelta(days=int(self.rng.integers(30, 4000))), dt.time()
                ),
            },
            holder["party_id"],
            bank,
        )

    def custodial_account(self, holder: dict[str, Any], vasp: Institution) -> str:
        return self._add_account(
            {
                "kind": "vasp",
                "institution_name": vasp.name,
                "institution_code": vasp.code,
                "number": f"CUST-{self._digits(8)}",
                "name": holder["name"],
                "currency": "EUR",
                "country": vasp.country,
                "account_type": "CUST",
            },
            holder["party_id"],
            vasp,
        )

    def wallet(
        self,
        chain: str,
        *,
        label: str | None = None,
        holder: dict[str, Any] | None = None,
        vasp: Institution | None = None,
    ) -> str:
        if chain == "BTC":
            address = "bc1q" + "".join(BECH32[int(i)] for i in self.rng.integers(0, 32, 38))
        elif chain == "ETH":
            address = "0x" + "".join("0123456789abcdef"[int(i)] for i in self.rng.integers(0, 16, 40))
        elif chain == "TRX":
            address = "T" + "".join(B58[int(i)] for i in self.rng.integers(0, 58, 33))
        else:  # pragma: no cover - only the chains above are generated
            raise ValueError(chain)
        return self._add_account(
            {
                "kind": "wallet",
                "institution_name": vasp.name if vasp else "Unhosted wallet",
                "institution_code": vasp.code if vasp else None,
                "number": address,
                "currency": chain,
                "chain": chain,
                "address": address,
                "label": label,
            },
            holder["party_id"] if holder else None,
            vasp,
        )

    def reporter_of(self, account_id: str) -> Institution | None:
        return self.account_institution.get(account_id)

    # -- time ------------------------------------------------------------------------------------------------------

    def moment(self, day: int, hour: float) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time()) + dt.timedelta(days=day, hours=hour)
