"""When kept data stops being needed: pure rules, no I/O.

What the gateway keeps about a consent (the sealed identity, the sealed copies
of released features for the borrower's own view) lives under the consent's
data key. Two clocks end it:

- each release's copy ends at the release's `delete_by` (the data life the
  lender agreed to): from then on it reads as deleted, and the sweep erases the
  ciphertext; the consent key stays, because a live consent still needs the
  identity for its next release;
- the whole consent key is destroyed (crypto-shredding, `key.shredded`) when the
  consent has ended and nothing under it is needed any more: at once on revoke,
  reject or the borrower's deletion request; after expiry, once the last
  release's `delete_by` has passed too.

Reads apply these rules themselves, so no background job is needed for
correctness; the sweep (`lendgate keys shred-expired`) only makes the deletion
physical.
"""

from __future__ import annotations

from datetime import datetime

from consent.states import ConsentStatus

ENDED = frozenset({ConsentStatus.EXPIRED, ConsentStatus.REVOKED, ConsentStatus.REJECTED})


def consent_data_life_end(
    status: ConsentStatus,
    *,
    approved: bool,
    ended_at: datetime | None,
    valid_until: datetime,
    request_expires_at: datetime,
    last_delete_by: datetime | None,
) -> datetime | None:
    """When nothing kept under the consent's key is needed any more; None while it is live.

    `status` is the consent's status with the clock applied; `approved` whether it
    was ever approved; `last_delete_by` the latest `delete_by` of its releases.
    """
    if status not in ENDED:
        return None
    if status is not ConsentStatus.EXPIRED:
        # Revoked or rejected: deleted at the decision, whatever the releases' deadlines.
        return ended_at or valid_until
    if ended_at is not None:
        expired_at = ended_at
    elif approved:
        expired_at = valid_until
    else:
        expired_at = request_expires_at
    if last_delete_by is not None and last_delete_by > expired_at:
        return last_delete_by
    return expired_at


def copy_deleted_at(delete_by: datetime, now: datetime) -> datetime | None:
    """When a release's copy was deleted (its `delete_by`), or None while it may be kept."""
    return delete_by if delete_by <= now else None


def deleted_at(
    shredded_at: datetime | None, data_life_end: datetime | None, now: datetime
) -> datetime | None:
    """When the borrower's data counts as deleted: the end of its data life or the key's
    destruction, whichever came first; None while it is kept."""
    ended = data_life_end if data_life_end is not None and data_life_end <= now else None
    moments = [moment for moment in (shredded_at, ended) if moment is not None]
    return min(moments, default=None)
