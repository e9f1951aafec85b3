"""The one attachment reconciler (identity.md §11.4), used by every owner of media in its transaction.

Owners: licenses (`license`), stores (`store_logo`, `store_banner`), products (`product_gallery`,
`product_coa`), ads (`ad`), order manifests (`order_manifest`, insert only).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.errors import NotFound, ValidationFailed
from packfinderz.media import repository


async def reconcile(
    session: AsyncSession,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    store_id: uuid.UUID,
    old_media_ids: Iterable[uuid.UUID | None],
    new_media_ids: Iterable[uuid.UUID | None],
) -> None:
    """Make the entity's attachments go from the old media set to the new one (nulls dropped).

    Added media must exist (404) and belong to `store_id` (400 `media belongs to different store`);
    they are attached with their storage key. Removed ones are detached. Work happens in sorted order
    so concurrent reconciliations lock rows in the same order.
    """
    old = {m for m in old_media_ids if m is not None}
    new = {m for m in new_media_ids if m is not None}
    added = sorted(new - old)
    removed = sorted(old - new)
    found = await repository.media_by_ids(session, added)
    rows = []
    for media_id in added:
        media = found.get(media_id)
        if media is None:
            raise NotFound("media not found")
        if media.store_id != store_id:
            raise ValidationFailed("media belongs to different store", {"media_id": str(media_id)})
        rows.append(
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "media_id": media_id,
                "store_id": store_id,
                "storage_key": media.storage_key,
            }
        )
    await repository.insert_attachments(session, rows)
    await repository.delete_attachments(session, entity_type, entity_id, removed)
