"""An upload handler that refuses a file over PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES while it streams in.

Django saves an upload (to memory or a temporary file) before a view sees it, so a size check in
the view comes after the whole file has been received. This handler, put first, counts the bytes
as they arrive and raises TooLarge (a 413) at the first chunk past the limit. A view installs it
before the request body is read: `upload_handlers_capped(request)`.
"""
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from .errors import TooLarge
from .importing.records import size_text

SETTING = "PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES"


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"the file is larger than the {size_text(limit)} upload limit ({SETTING})", field="file")


class CappedUploadHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = settings.PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES if limit is None else limit

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        # The whole body (the file and the form fields around it) may be a little larger than the
        # file; refuse a body announced much larger before reading any of it.
        if content_length and content_length > self.limit + 64 * 1024:
            raise too_large(self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            raise too_large(self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the handlers after this one make the file


def upload_handlers_capped(request: HttpRequest) -> None:
    """Put CappedUploadHandler first; call before anything reads request.POST or request.FILES."""
    request.upload_handlers.insert(0, CappedUploadHandler(request))
