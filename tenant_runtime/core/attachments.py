"""Files attached to CRM records: checked by content and size, stored per tenant outside the web root."""

import contextlib
import os
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event

from common.errors import Invalid
from common.uploads import read_upload, safe_name, sniff

from ..context import TenantSession, current_tenant
from .models import CrmAttachment

_UNCOMMITTED = "tenant_runtime.attachment_files"


def _folder(tenant_id):
    return os.path.join(current_app.config["UPLOAD_DIR"], "tenants", str(int(tenant_id)))


def path_of(attachment, tenant_id=None):
    tenant_id = tenant_id or current_tenant.tenant_id
    return os.path.join(_folder(tenant_id), attachment.stored_name[:2], attachment.stored_name)


def save(file_storage, owner_type, owner_id, principal, field_name="attachment"):
    """Validate and store one upload; 422 naming ``field_name`` when it is not acceptable."""
    data = read_upload(file_storage, field_name, current_app.config["MAX_UPLOAD_BYTES"])
    name = safe_name(file_storage.filename)
    kind = sniff(data[:8], name)
    if kind is None:
        raise Invalid({field_name: [_l("Upload an image, a PDF or an Office (docx, xlsx, pptx) file.")]})
    ext, content_type = kind
    stored = f"{secrets.token_hex(16)}.{ext}"
    attachment = CrmAttachment(owner_type=owner_type, owner_id=owner_id, file_name=name, stored_name=stored,
                               content_type=content_type, size=len(data), created_by=principal.user_id)
    target = path_of(attachment)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    current_tenant.session.info.setdefault(_UNCOMMITTED, []).append(target)
    with open(target, "wb") as fh:
        fh.write(data)
    current_tenant.session.add(attachment)
    return attachment


@event.listens_for(TenantSession, "after_commit")
def _files_kept(session):
    session.info.pop(_UNCOMMITTED, None)


@event.listens_for(TenantSession, "after_transaction_end")
def _files_discarded(session, transaction):
    """A file is written before its row is committed; when the transaction ends without the commit (a
    refusal, an error, a rollback), the file goes too, so that no file is left that no row names."""
    if transaction.parent is not None:
        return
    for path in session.info.pop(_UNCOMMITTED, ()):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def download(attachment_id):
    """Send an attachment to a user who can see the record it belongs to (else 404, as if absent)."""
    from flask import abort, send_file
    from sqlalchemy import select

    from ..followups.models import CrmFollowUp
    from ..followups.resource import follow_ups
    from .scope import current_principal

    session = current_tenant.session
    attachment = session.get(CrmAttachment, attachment_id) if 0 < attachment_id < 2**63 else None
    if attachment is None or attachment.owner_type != "follow_up":
        abort(404)
    principal = current_principal()
    # the follow-up's own visibility (its customer's, or its lead's), never a record that shares its id
    visible = follow_ups.scope(select(CrmFollowUp.id).where(CrmFollowUp.id == attachment.owner_id), principal)
    if not principal.can("followup.view") or session.scalar(visible) is None:
        abort(404)
    path = path_of(attachment)
    if not os.path.exists(path):
        abort(404)
    return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                     download_name=safe_name(attachment.file_name, attachment.content_type))
