"""The API twin of a follow-up's files: the page records a follow-up with a file in one form; the API records
the follow-up (``POST /follow-ups``) and then adds its files, and downloads them with the bearer token."""

from flask import request
from flask_babel import gettext as _

from common.apidoc import endpoint
from common.errors import ApiError, Invalid
from common.uploads import EXTENSIONS

from ..context import current_tenant
from ..core import attachments
from ..core.scope import current_principal
from ..people.permissions import ANY_USER, requires
from .resource import follow_ups
from .schemas import AttachmentSchema

FILE_TYPES = tuple(sorted(set(EXTENSIONS) - {"application/zip"}))  # what core/attachments.save accepts


def register(pages, api):
    @api.post("/follow-ups/<int:record_id>/attachments")
    @endpoint("Add a file (an image, a PDF or an Office document, told by its content) to a follow-up you "
              "recorded (403 not_author on someone else's: a follow-up is its author's record)", status=201,
              upload="attachment", response=AttachmentSchema, errors=(413,))
    def follow_ups_attachment_add(record_id):
        principal = current_principal()
        follow_up = follow_ups.get_visible(record_id, principal)
        if follow_up.created_by != principal.user_id:
            raise ApiError(403, "not_author", _("Only the person who recorded a follow-up adds files to it."))
        upload = request.files.get("attachment")
        if upload is None or not upload.filename:
            raise Invalid({"attachment": [_("Choose a file.")]})
        attachment = attachments.save(upload, "follow_up", follow_up.id, principal)
        current_tenant.session.commit()
        return attachment

    @api.get("/attachments/<int:attachment_id>")
    @endpoint("Download a file of a follow-up on a customer you can see", files=FILE_TYPES)
    def attachment_download_api(attachment_id):
        return attachments.download(attachment_id)

    requires("tenant_api.follow_ups_attachment_add", "followup.create")
    requires("tenant_api.attachment_download_api", ANY_USER)  # the download checks followup.view and the scope
