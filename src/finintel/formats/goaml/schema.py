"""The goAML report structure as data: element types, their children in schema order, cardinalities, value types.

Written from the UNODC "goAML XML Reporting Schema Description" (v4.0, with the 4.x/5.x additions seen in public
profiles). Each FIU publishes its own profile of this schema; a :class:`~finintel.codes.Profile` adds mandatory
elements and sets the code lists.

Value types: ``text``, ``int``, ``decimal``, ``datetime``, ``bool``, ``country``, ``currency``, ``asset`` (ISO 4217
or a virtual-asset ticker), ``code:<list>`` (a profile code list). Any other type name is a complex type below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNBOUNDED = 1 << 30

LEAF_TYPES = frozenset({"text", "int", "decimal", "datetime", "bool", "country", "currency", "asset"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str
    min: int = 0
    max: int = 1
    is_leaf: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_leaf", self.type in LEAF_TYPES or self.type.startswith("code:"))


@dataclass(frozen=True, slots=True)
class Choice:
    """Of ``names``, between ``min`` and ``max`` distinct elements may be present."""

    names: tuple[str, ...]
    min: int
    max: int


@dataclass(slots=True)
class ComplexType:
    name: str
    fields: tuple[FieldSpec, ...]
    choices: tuple[Choice, ...] = ()
    index: dict[str, tuple[int, FieldSpec]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {f.name: (i, f) for i, f in enumerate(self.fields)}


def _f(name: str, type_: str = "text", min_: int = 0, max_: int = 1) -> FieldSpec:
    return FieldSpec(name, type_, min_, max_)


def _req(name: str, type_: str = "text") -> FieldSpec:
    return FieldSpec(name, type_, 1, 1)


def _many(name: str, type_: str, min_: int = 0) -> FieldSpec:
    return FieldSpec(name, type_, min_, UNBOUNDED)


_PHONE = (
    _f("tph_contact_type", "code:contact_type"),
    _f("tph_communication_type", "code:communication_type"),
    _f("tph_country_prefix"),
    _req("tph_number"),
    _f("tph_extension"),
    _f("comments"),
)

_ADDRESS = (
    _req("address_type", "code:contact_type"),
    _req("address"),
    _f("town"),
    _req("city"),
    _f("zip"),
    _req("country_code", "country"),
    _f("state"),
    _f("comments"),
)

_IDENTIFICATION = (
    _req("type", "code:identifier_type"),
    _req("number"),
    _f("issue_date", "datetime"),
    _f("expiry_date", "datetime"),
    _f("issued_by"),
    _req("issue_country", "country"),
    _f("comments"),
)

_PERSON = (
    _f("gender", "code:gender"),
    _f("title"),
    _req("first_name"),
    _f("middle_name"),
    _f("prefix"),
    _req("last_name"),
    _f("birthdate", "datetime"),
    _f("birth_place"),
    _f("mothers_name"),
    _f("alias"),
    _f("ssn"),
    _f("passport_number"),
    _f("passport_country", "country"),
    _f("id_number"),
    _f("nationality1", "country"),
    _f("nationality2", "country"),
    _f("nationality3", "country"),
    _f("residence", "country"),
    _f("phones", "phones"),
    _f("addresses", "addresses"),
    _many("email", "text"),
    _f("occupation"),
    _f("employer_name"),
    _f("employer_address_id", "t_address"),
    _f("employer_phone_id", "t_phone"),
    _many("identification", "t_person_identification"),
    _f("deceased", "bool"),
    _f("date_deceased", "datetime"),
    _f("tax_number"),
    _f("tax_reg_number"),
    _f("source_of_wealth"),
    _f("comments"),
)

_ENTITY = (
    _req("name"),
    _f("commercial_name"),
    _f("incorporation_legal_form", "code:legal_form"),
    _f("incorporation_number"),
    _f("business"),
    _f("phones", "phones"),
    _f("addresses", "addresses"),
    _f("email"),
    _f("url"),
    _f("incorporation_state"),
    _f("incorporation_country_code", "country"),
    _many("director_id", "t_person_director"),
    _f("incorporation_date", "datetime"),
    _f("business_closed", "bool"),
    _f("date_business_closed", "datetime"),
    _f("tax_number"),
    _f("tax_reg_number"),
    _f("related_entities", "related_entities"),
    _f("comments"),
)


def _account(entity_type: str, person_type: str) -> tuple[FieldSpec, ...]:
    return (
        _f("institution_name"),
        _f("institution_code"),
        _f("swift"),
        _f("non_bank_institution", "bool"),
        _f("branch"),
        _req("account"),
        _f("currency_code", "asset"),
        _f("account_name"),
        _f("iban"),
        _f("client_number"),
        _f("personal_account_type", "code:account_type"),
        _f("t_entity", entity_type),
        _many("signatory", "signatory" if person_type == "t_person" else "signatory_my_client"),
        _f("related_persons", "related_persons"),
        _f("opened", "datetime"),
        _f("closed", "datetime"),
        _f("balance", "decimal"),
        _f("date_balance", "datetime"),
        _f("status_code", "code:account_status"),
        _f("beneficiary"),
        _f("beneficiary_comment"),
        _f("comments"),
    )


_INSTITUTION_CHOICE = (Choice(("institution_name", "institution_code"), 1, 2),)


def _side(prefix: str, my_client: bool) -> tuple[tuple[FieldSpec, ...], tuple[Choice, ...]]:
    suffix = "_my_client" if my_client else ""
    fields: list[FieldSpec] = [
        _req(f"{prefix}_funds_code", "code:funds_type"),
        _f(f"{prefix}_funds_comment"),
        _f(f"{prefix}_foreign_currency", "t_foreign_currency"),
    ]
    if prefix == "from":
        fields.append(_f("t_conductor", f"t_person{suffix}"))
    fields += [
        _f(f"{prefix}_account", f"t_account{suffix}"),
        _f(f"{prefix}_person", f"t_person{suffix}"),
        _f(f"{prefix}_entity", f"t_entity{suffix}"),
        _req(f"{prefix}_country", "country"),
    ]
    choice = Choice((f"{prefix}_account", f"{prefix}_person", f"{prefix}_entity"), 1, 1)
    return tuple(fields), (choice,)


_SUBJECT_CHOICE_NAMES = ("person", "person_my_client", "account", "account_my_client", "entity", "entity_my_client")
_SUBJECTS = (
    _f("person", "t_person"),
    _f("person_my_client", "t_person_my_client"),
    _f("account", "t_account"),
    _f("account_my_client", "t_account_my_client"),
    _f("entity", "t_entity"),
    _f("entity_my_client", "t_entity_my_client"),
)


def _build() -> dict[str, ComplexType]:
    types: dict[str, ComplexType] = {}

    def add(name: str, fields: tuple[FieldSpec, ...], choices: tuple[Choice, ...] = ()) -> None:
        types[name] = ComplexType(name, fields, choices)

    add("t_phone", _PHONE)
    add("phones", (_many("phone", "t_phone"),))
    add("t_address", _ADDRESS)
    add("addresses", (_many("address", "t_address"),))
    add("t_person_identification", _IDENTIFICATION)
    add("t_person", _PERSON)
    add("t_person_my_client", _PERSON)
    add("t_person_registration_in_report", _PERSON)
    add("t_person_director", (*_PERSON, _f("role", "code:entity_person_role")))
    add("t_entity", _ENTITY)
    add("t_entity_my_client", _ENTITY)
    add(
        "related_entity",
        (
            _f("entity_entity_relation", "code:entity_relation"),
            _f("share_percentage", "decimal"),
            _f("relation_date_range_valid_from", "datetime"),
            _f("relation_date_range_valid_to", "datetime"),
            _f("comments"),
            _req("entity", "t_entity"),
        ),
    )
    add("related_entities", (_many("related_entity", "related_entity"),))
    add("signatory", (_f("is_primary", "bool"), _req("t_person", "t_person"), _f("role", "code:account_person_role")))
    add(
        "signatory_my_client",
        (_f("is_primary", "bool"), _req("t_person", "t_person_my_client"), _f("role", "code:account_person_role")),
    )
    add(
        "account_related_person",
        (
            _f("is_primary", "bool"),
            _req("t_person", "t_person"),
            _f("role", "code:account_person_role"),
            _f("comments"),
        ),
    )
    add("related_persons", (_many("account_related_person", "account_related_person"),))
    add("t_account", _account("t_entity", "t_person"), _INSTITUTION_CHOICE)
    add("t_account_my_client", _account("t_entity_my_client", "t_person_my_client"), _INSTITUTION_CHOICE)
    add(
        "t_foreign_currency",
        (
            _req("foreign_currency_code", "currency"),
            _req("foreign_amount", "decimal"),
            _req("foreign_exchange_rate", "decimal"),
        ),
    )
    for prefix, side in (("from", "t_from"), ("to", "t_to")):
        fields, choices = _side(prefix, my_client=False)
        add(side, fields, choices)
        fields, choices = _side(prefix, my_client=True)
        add(f"{side}_my_client", fields, choices)
    add(
        "party",
        (
            _f("role", "code:party_role"),
            *_SUBJECTS,
            _f("funds_code", "code:funds_type"),
            _f("funds_comment"),
            _f("foreign_currency", "t_foreign_currency"),
            _f("country", "country"),
            _f("significance", "int"),
            _f("comments"),
        ),
        (Choice(_SUBJECT_CHOICE_NAMES, 1, 1),),
    )
    add("involved_parties", (_many("party", "party", 1),))
    add(
        "transaction",
        (
            _req("transactionnumber"),
            _f("internal_ref_number"),
            _f("transaction_location"),
            _f("transaction_description"),
            _req("date_transaction", "datetime"),
            _f("teller"),
            _f("authorized"),
            _f("late_deposit", "bool"),
            _f("date_posting", "datetime"),
            _f("value_date", "datetime"),
            _f("transaction_type"),
            _req("transmode_code", "code:conduction_type"),
            _f("transmode_comment"),
            _req("amount_local", "decimal"),
            _f("t_from_my_client", "t_from_my_client"),
            _f("t_from", "t_from"),
            _f("t_to_my_client", "t_to_my_client"),
            _f("t_to", "t_to"),
            _f("involved_parties", "involved_parties"),
            _f("goods_services", "goods_services"),
            _f("comments"),
        ),
        (
            Choice(("t_from_my_client", "t_from"), 0, 1),
            Choice(("t_to_my_client", "t_to"), 0, 1),
        ),
    )
    add("goods_services", (_many("item", "t_trans_item"),))
    add(
        "t_trans_item",
        (
            _f("item_type"),
            _f("item_make"),
            _f("description"),
            _f("previously_registered_to"),
            _f("presently_registered_to"),
            _f("estimated_value", "decimal"),
            _f("status_code"),
            _f("status_comments"),
            _f("disposed_value", "decimal"),
            _f("currency_code", "currency"),
            _f("size", "decimal"),
            _f("size_uom"),
            _f("address", "t_address"),
            _f("registration_date", "datetime"),
            _f("registration_number"),
            _f("identification_number"),
            _f("comments"),
        ),
    )
    add(
        "report_party",
        (*_SUBJECTS, _f("significance", "int"), _f("reason"), _f("comments")),
        (Choice(_SUBJECT_CHOICE_NAMES, 1, 1),),
    )
    add("report_parties", (_many("report_party", "report_party", 1),))
    add("activity", (_req("report_parties", "report_parties"), _f("goods_services", "goods_services")))
    add("report_indicators", (_many("indicator", "text", 1),))
    # The report header: transactions and activity are streamed separately and checked on their own.
    add(
        "report",
        (
            _req("rentity_id", "int"),
            _f("rentity_branch"),
            _req("submission_code", "code:submission_code"),
            _req("report_code", "code:report_code"),
            _f("entity_reference"),
            _f("fiu_ref_number"),
            _req("submission_date", "datetime"),
            _req("currency_code_local", "currency"),
            _f("reporting_person", "t_person_registration_in_report"),
            _f("location", "t_address"),
            _f("reason"),
            _f("action"),
            _many("transaction", "transaction"),
            _f("transactions", "transactions"),
            _f("activity", "activity"),
            _f("report_indicators", "report_indicators"),
        ),
        (Choice(("transaction", "transactions", "activity"), 0, 1),),
    )
    add("transactions", (_many("transaction", "transaction"),))
    return types


TYPES: dict[str, ComplexType] = _build()

#: Elements streamed out of the report tree as soon as they end (they can number in the millions).
STREAMED = frozenset({"transaction", "report_party"})
