"""The registry's rows as FHIR R4 resources following IHE mCSD (Practitioner, PractitionerRole, Organization,
Location), plus the Bundle, OperationOutcome and CapabilityStatement around them. Pure mapping: no queries.

Identifier systems and the extensions documented here are the registry's; the README's API section lists them.
"""
from datetime import datetime

from ..models.institution import CATEGORIES
from ..models.profile import PERSONNEL_TYPES, SAMPLING_QUESTIONS, TESTING_QUESTIONS

MCSD = "https://profiles.ihe.net/ITI/mCSD/StructureDefinition/IHE.mCSD."
PROFILES = {t: MCSD + t for t in ("Practitioner", "PractitionerRole", "Organization", "Location")}
# GB 11643 (citizen identity number) and GB 32100 (unified social credit code): the standards the numbers follow.
SYSTEM_RESIDENT_ID = "urn:cn:gb11643:resident-id"
SYSTEM_USCC = "urn:cn:gb32100:uscc"
SYSTEM_REGION = "urn:cn:gb2260:region"
CS_PERSONNEL_TYPE = "urn:hwr:fhir:CodeSystem:personnel-type"
CS_CATEGORY = "urn:hwr:fhir:CodeSystem:institution-category"
# PractitionerRole.extension: one per answered questionnaire item, url = EXT_ANSWER + field name, valueBoolean
# (pcr_years: valueInteger).
EXT_ANSWER = "urn:hwr:fhir:StructureDefinition:qualification-answer:"
QUESTIONS = (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
# Health commissions are government bodies, the rest providers (FHIR's organization-type codes).
ORG_TYPE_CODES = {"commission": ("govt", "Government")}


def instant(value: datetime | None) -> str | None:
    """A naive UTC timestamp as a FHIR instant."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if value else None


def _meta(kind: str, updated: datetime | None) -> dict:
    meta = {"profile": [PROFILES[kind]]}
    if updated is not None:
        meta["lastUpdated"] = instant(updated)
    return meta


def photo_type(avatar: str) -> str:
    """The media type of a stored avatar (uploads keep PNG or JPEG)."""
    return "image/png" if avatar.endswith(".png") else "image/jpeg"


def practitioner(profile, email: str | None = None, resident_id: str | None = None, base: str | None = None) -> dict:
    """An approved staff profile as an mCSD Practitioner; `resident_id` only for tokens granted full numbers; the
    photo as a link to /fhir/Practitioner/<id>/photo (the same token reads it) when `base` is given."""
    out = {"resourceType": "Practitioner", "id": str(profile.id), "meta": _meta("Practitioner", profile.updated_at),
           "active": True, "name": [{"use": "official", "text": profile.name}]}
    if resident_id:
        out["identifier"] = [{"use": "official", "system": SYSTEM_RESIDENT_ID, "value": resident_id}]
    telecom = []
    if profile.phone:
        telecom.append({"system": "phone", "value": profile.phone, "use": "mobile"})
    if email:
        telecom.append({"system": "email", "value": email, "use": "work"})
    if telecom:
        out["telecom"] = telecom
    if profile.gender in ("male", "female"):
        out["gender"] = profile.gender
    if profile.birth_date:
        out["birthDate"] = profile.birth_date.isoformat()
    if base and profile.avatar:
        out["photo"] = [{"contentType": photo_type(profile.avatar), "url": f"{base}Practitioner/{profile.id}/photo"}]
    return out


def practitioner_role(profile) -> dict:
    """The staff member's post: practitioner + organization + personnel type, the questionnaire as extensions."""
    out = {"resourceType": "PractitionerRole", "id": str(profile.id),
           "meta": _meta("PractitionerRole", profile.updated_at), "active": True,
           "practitioner": {"reference": f"Practitioner/{profile.id}", "display": profile.name}}
    if profile.institution_id:
        out["organization"] = {"reference": f"Organization/{profile.institution_id}"}
    if profile.personnel_type in PERSONNEL_TYPES:
        out["code"] = [{"coding": [{"system": CS_PERSONNEL_TYPE, "code": profile.personnel_type,
                                    "display": PERSONNEL_TYPES[profile.personnel_type]}]}]
    ext = [{"url": EXT_ANSWER + q, "valueBoolean": getattr(profile, q)} for q in QUESTIONS
           if getattr(profile, q) is not None]
    if profile.pcr_years is not None:
        ext.append({"url": EXT_ANSWER + "pcr_years", "valueInteger": profile.pcr_years})
    if ext:
        out["extension"] = ext
    return out


def organization(inst) -> dict:
    """An institution as an mCSD Organization: USCC identifier, category type, partOf its supervising institution."""
    kind, display = ORG_TYPE_CODES.get(inst.category, ("prov", "Healthcare Provider"))
    out = {"resourceType": "Organization", "id": str(inst.id), "meta": _meta("Organization", inst.updated_at),
           "active": True, "name": inst.name,
           "type": [{"coding": [{"system": ORG_TYPE, "code": kind, "display": display},
                                {"system": CS_CATEGORY, "code": inst.category,
                                 "display": CATEGORIES.get(inst.category, CATEGORIES["other"])}]}]}
    if inst.uscc:
        out["identifier"] = [{"use": "official", "system": SYSTEM_USCC, "value": inst.uscc}]
    if inst.parent_id:
        out["partOf"] = {"reference": f"Organization/{inst.parent_id}"}
    address = {}
    if inst.address:
        address["text"] = inst.address
    if inst.region_code:
        address["district"] = inst.region.name if inst.region is not None else inst.region_code
        address["country"] = "CN"
    if address:
        out["address"] = [address]
    return out


def location(region) -> dict:
    """A GB/T 2260 region as an mCSD Location of physical type jurisdiction, partOf its parent region."""
    out = {"resourceType": "Location", "id": region.code, "meta": _meta("Location", region.updated_at),
           "status": "active", "mode": "instance", "name": region.name,
           "identifier": [{"system": SYSTEM_REGION, "value": region.code}],
           "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "jdn", "display": "Jurisdiction"}]}}
    if region.parent_code:
        out["partOf"] = {"reference": f"Location/{region.parent_code}"}
    return out


def bundle(base: str, entries: list[tuple[dict, str]], self_url: str, next_url: str | None,
           now: datetime) -> dict:
    """A searchset Bundle of (resource, search mode) entries with self and next links (no total: it costs a
    count of the whole match, which paging by cursor exists to avoid)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {"resourceType": "Bundle", "type": "searchset", "timestamp": instant(now), "link": links,
            "entry": [{"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
                      for r, mode in entries]}


def outcome(code: str, diagnostics: str) -> dict:
    """An OperationOutcome with one error issue (FHIR issue-type code, message)."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}


SEARCH_PARAMS = {
    "Practitioner": ("_id", "_lastUpdated", "name", "identifier", "active", "organization"),
    "PractitionerRole": ("_id", "_lastUpdated", "active", "organization", "practitioner"),
    "Organization": ("_id", "_lastUpdated", "name", "identifier", "active", "partof"),
    "Location": ("_id", "_lastUpdated", "name", "identifier", "partof"),
}
PARAM_TYPES = {"_id": "token", "_lastUpdated": "date", "name": "string", "identifier": "token", "active": "token",
               "organization": "reference", "practitioner": "reference", "partof": "reference"}


def capability_statement(base: str, now: datetime, software: str) -> dict:
    """What the server offers: read and search-type of the four mCSD resources, JSON only, no history."""
    resources = []
    for kind, params in SEARCH_PARAMS.items():
        entry = {"type": kind, "profile": PROFILES[kind],
                 "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": p, "type": PARAM_TYPES[p]} for p in params]
                 + [{"name": "_count", "type": "number"}]}
        if kind == "PractitionerRole":
            entry["searchInclude"] = ["PractitionerRole:practitioner"]
        resources.append(entry)
    return {"resourceType": "CapabilityStatement", "status": "active", "date": instant(now), "kind": "instance",
            "fhirVersion": "4.0.1", "format": ["application/fhir+json"],
            "instantiates": ["https://profiles.ihe.net/ITI/mCSD/CapabilityStatement/IHE.mCSD.Directory"],
            "software": {"name": software}, "implementation": {"description": software, "url": base},
            "rest": [{"mode": "server",
                      "security": {"cors": False, "description": "Authorization: Bearer <token> of a consuming "
                                   "system registered by a platform admin (flask api-client create)."},
                      "resource": resources}]}
