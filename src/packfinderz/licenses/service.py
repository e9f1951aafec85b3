"""License rules (identity.md §10): submit, list, delete, admin review; every change recomputes KYC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.events.outbox import Actor, emit
from packfinderz.events.registry import LicenseStatusChanged
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from packfinderz.kit.pagination import PageParams
from packfinderz.licenses import repository
from packfinderz.licenses.kyc import recompute_kyc
from packfinderz.licenses.repository import AdminLicenseFilters
from packfinderz.licenses.schemas import AdminLicenseDTO, LicenseDTO, LicenseIn, LicenseStore, VerifyIn
from packfinderz.media import repository as media_repository
from packfinderz.media.attachments import reconcile
from packfinderz.media.files import Files
from packfinderz.media.service import MIME_GROUPS, store_media
from packfinderz.models.identity import Store
from packfinderz.models.licenses import License
from packfinderz.models.media import Media

log = structlog.get_logger("licenses")

DOCUMENT_MIME_TYPES = MIME_GROUPS["pdf"] | MIME_GROUPS["images"]
DELETABLE_STATUSES = ("rejected", "expired")
_CONFLICTS = {
    "uq_licenses_issuing_state_number": "license number already registered",
    "uq_licenses_media_id": "media already attached to a license",
}


def _check_dates(body: LicenseIn, now: datetime) -> None:
    if body.expiration_date is not None:
        if body.expiration_date <= now:
            raise ValidationFailed(details={"expiration_date": "must be in the future"})
        if body.issue_date is not None and body.expiration_date <= body.issue_date:
            raise ValidationFailed(details={"expiration_date": "must be after issue_date"})


def _check_document(media: Media) -> None:
    if media.kind != "license_doc":
        raise ValidationFailed(details={"media_id": "must be a license_doc media"})
    if not media.readable:
        raise Conflict("media not ready")
    if media.mime_type not in DOCUMENT_MIME_TYPES:
        raise ValidationFailed(details={"media_id": "must be a PDF or an image"})


async def _document_url(files: Files, document: Media | None) -> str | None:
    return await files.read_url(document) if document is not None else None


async def to_dto(session: AsyncSession, files: Files, license_: License) -> LicenseDTO:
    """LicenseDTO with a fresh signed URL of its document."""
    document = await media_repository.get_media(session, license_.media_id)
    return LicenseDTO.of(license_, await _document_url(files, document))


async def to_dtos(session: AsyncSession, files: Files, licenses: list[License]) -> list[LicenseDTO]:
    """LicenseDTOs of a page, loading every document in one query."""
    documents = await repository.document_keys(session, [lic.media_id for lic in licenses])
    return [LicenseDTO.of(lic, await _document_url(files, documents.get(lic.media_id))) for lic in licenses]


def _audit_payload(license_: License, **extra: object) -> dict[str, object]:
    """`{number, status, reason?, kyc_status_after?}` (identity.md §16.2)."""
    return {"number": license_.number, "status": license_.status} | {
        k: v for k, v in extra.items() if v is not None
    }


async def create_license(
    session: AsyncSession, files: Files, ctx_store_id: uuid.UUID, actor: Actor, body: LicenseIn
) -> LicenseDTO:
    """identity.md §10.2: validate, check the document, insert pending, attach, recompute KYC, emit, audit."""
    _check_dates(body, datetime.now(UTC))
    document = await store_media(session, ctx_store_id, body.media_id)
    _check_document(document)
    try:
        async with session.begin_nested():
            license_ = await repository.insert_license(
                session,
                id=uuid.uuid4(),
                store_id=ctx_store_id,
                user_id=actor.user_id,
                status="pending",
                media_id=document.id,
                issuing_state=body.issuing_state,
                type=body.type,
                number=body.number,
                issue_date=body.issue_date,
                expiration_date=body.expiration_date,
            )
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
        if constraint in _CONFLICTS:
            raise Conflict(_CONFLICTS[constraint], {"constraint": constraint}) from None
        raise
    await reconcile(
        session,
        entity_type="license",
        entity_id=license_.id,
        store_id=ctx_store_id,
        old_media_ids=[],
        new_media_ids=[document.id],
    )
    kyc = await recompute_kyc(session, ctx_store_id)
    await emit(
        session,
        LicenseStatusChanged(license_id=license_.id, store_id=ctx_store_id, status="pending"),
        actor=actor,
    )
    await audit.record(
        session,
        action="license.created",
        target_type="license",
        target_id=license_.id,
        actor=actor,
        payload=_audit_payload(license_, kyc_status_after=kyc),
    )
    return LicenseDTO.of(license_, await files.read_url(document))


async def store_license(
    session: AsyncSession, store_id: uuid.UUID, license_id: uuid.UUID, *, lock: bool = False
) -> License:
    """A license of the caller's store: 404 when missing, 403 when it belongs to another store."""
    license_ = await repository.get_license(session, license_id, lock=lock)
    if license_ is None:
        raise NotFound("license not found")
    if license_.store_id != store_id:
        raise Forbidden("license belongs to another store")
    return license_


async def list_licenses(
    session: AsyncSession, files: Files, store_id: uuid.UUID, status: str | None, page: PageParams
) -> tuple[list[LicenseDTO], str | None]:
    """A page of the store's licenses with their document URLs."""
    rows, cursor = await repository.store_licenses_page(session, store_id, status, page)
    return await to_dtos(session, files, rows), cursor


async def get_license(
    session: AsyncSession, files: Files, store_id: uuid.UUID, license_id: uuid.UUID
) -> LicenseDTO:
    """One license of the store."""
    return await to_dto(session, files, await store_license(session, store_id, license_id))


async def delete_license(
    session: AsyncSession, store_id: uuid.UUID, license_id: uuid.UUID, actor: Actor
) -> None:
    """identity.md §10.4: only rejected or expired licenses; the document stays (now unprotected)."""
    license_ = await store_license(session, store_id, license_id, lock=True)
    if license_.status not in DELETABLE_STATUSES:
        raise Conflict("only rejected or expired licenses can be deleted")
    await reconcile(
        session,
        entity_type="license",
        entity_id=license_.id,
        store_id=store_id,
        old_media_ids=[license_.media_id],
        new_media_ids=[],
    )
    await repository.delete_license(session, license_.id)
    kyc = await recompute_kyc(session, store_id)
    await audit.record(
        session,
        action="license.deleted",
        target_type="license",
        target_id=license_.id,
        actor=actor,
        payload=_audit_payload(license_, kyc_status_after=kyc),
    )


# --- admin ----------------------------------------------------------------------------------------


def _admin_dto(license_: License, store: Store, document_url: str | None) -> AdminLicenseDTO:
    return AdminLicenseDTO(
        **LicenseDTO.of(license_, document_url).model_dump(),
        decided_by_user_id=license_.decided_by_user_id,
        store=LicenseStore(id=store.id, company_name=store.company_name, type=store.type),
    )


async def admin_list(
    session: AsyncSession, files: Files, filters: AdminLicenseFilters, page: PageParams
) -> tuple[list[AdminLicenseDTO], str | None, int]:
    """Licenses (newest first, or oldest first for the review queue) with stores, document URLs and the
    filtered total."""
    rows, cursor, total = await repository.admin_licenses_page(session, filters, page)
    documents = await repository.document_keys(session, [lic.media_id for lic, _ in rows])
    items = [
        _admin_dto(lic, store, await _document_url(files, documents.get(lic.media_id))) for lic, store in rows
    ]
    return items, cursor, total


async def admin_get(session: AsyncSession, files: Files, license_id: uuid.UUID) -> AdminLicenseDTO:
    """One license with its decider and store."""
    license_ = await repository.get_license(session, license_id)
    if license_ is None:
        raise NotFound("license not found")
    return await _admin_view(session, files, license_)


async def _admin_view(session: AsyncSession, files: Files, license_: License) -> AdminLicenseDTO:
    store = await session.get(Store, license_.store_id)
    assert store is not None  # licenses cascade with their store
    document = await media_repository.get_media(session, license_.media_id)
    return _admin_dto(license_, store, await _document_url(files, document))


async def verify(
    session: AsyncSession, files: Files, license_id: uuid.UUID, actor: Actor, body: VerifyIn
) -> AdminLicenseDTO:
    """identity.md §10.3: decide a pending license once (409 afterwards), recompute KYC, emit, audit."""
    if body.decision == "rejected" and body.reason is None:
        raise ValidationFailed(details={"reason": "is required to reject"})
    license_ = await repository.get_license(session, license_id, lock=True)
    if license_ is None:
        raise NotFound("license not found")
    if license_.status != "pending":
        raise Conflict("license already finalized")
    license_.status = body.decision
    license_.status_reason = body.reason
    license_.decided_by_user_id = actor.user_id
    license_.decided_at = datetime.now(UTC)
    license_ = await repository.refresh(session, license_)
    kyc = await recompute_kyc(session, license_.store_id)
    await emit(
        session,
        LicenseStatusChanged(
            license_id=license_.id, store_id=license_.store_id, status=body.decision, reason=body.reason
        ),
        actor=actor,
    )
    await audit.record(
        session,
        action=f"license.{body.decision}",
        target_type="license",
        target_id=license_.id,
        actor=actor,
        payload=_audit_payload(license_, reason=body.reason, kyc_status_after=kyc),
    )
    log.info("license.decided", license_id=str(license_.id), decision=body.decision, kyc_status=kyc)
    return await _admin_view(session, files, license_)
