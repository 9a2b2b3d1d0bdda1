from flask import Blueprint, send_file

from common.uploads import safe_name
from extensions import db

from .models import StoredFile
from .storage import absolute_path

bp = Blueprint("files", __name__, url_prefix="/files")


@bp.get("/<file_id>")
def download(file_id):
    stored = db.get_or_404(StoredFile, file_id)
    # Names stored before they were made safe at upload are made safe here: a CR/LF would be a 500.
    return send_file(absolute_path(stored), mimetype=stored.content_type,
                     download_name=safe_name(stored.original_name, stored.content_type),
                     as_attachment=stored.content_type == "application/pdf", max_age=0)
