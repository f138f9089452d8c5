"""Root resolvers for the pipeline's status and its dead letters."""

from __future__ import annotations

from strawberry.types import Info

from domain import InvalidArgument
from schema import arguments
from schema.context import Context
from schema.pipeline import MAX_CYCLES, DeadLetterConnection, PipelineStatus, reason_counts
from storage.offload import offload


async def pipeline_status(info: Info[Context, None]) -> PipelineStatus:
    """Ingest cycles (up to the last 1,000) and dead-letter counts."""
    stores = info.context.stores
    return PipelineStatus(
        dead_letter_count=await offload(stores.dead_letters.count),
        dead_letters_by_reason=reason_counts(await offload(stores.dead_letters.reasons)),
        cycle_reports=await offload(stores.cycles.recent_cycles, MAX_CYCLES),
    )


async def dead_letters(
    info: Info[Context, None],
    first: int = 100,
    after: str | None = None,
    reason: str | None = None,
) -> DeadLetterConnection:
    """Records that were not stored, oldest first, optionally of one reason."""
    arguments.page_size(first, info.context.settings.max_page_size)
    if reason is not None and not reason.strip():
        raise InvalidArgument("reason must not be blank")
    page = await offload(
        info.context.stores.dead_letters.list, first=first, after=after, reason=reason
    )
    return DeadLetterConnection.from_page(page)
