"""A job's artifacts: one file as an attachment, or a directory as a zip streamed while it is written.

Shells like training/views/jobs.py: parse, call one selector, answer.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from ..selectors import job_artifact_path, job_for_user

ZIP_CHUNK = 1 << 20  # bytes read per step while streaming a zip


@require_GET
@login_required
def job_artifact_download(request: HttpRequest, job_id: int, path: str = "") -> HttpResponse:
    """One artifact file of a job (as an attachment), or a directory (the whole one for no path) as a zip.
    For those who may see the job; a path outside its artifact directory is a 404."""
    job = job_for_user(user=request.user, job_id=job_id)
    target = job_artifact_path(job=job, path=path)
    if target.is_file():
        return FileResponse(target.open("rb"), as_attachment=True, filename=target.name)
    name = f"job-{job.pk}" + (f"-{target.name}" if path.strip("/") else "") + ".zip"
    response = StreamingHttpResponse(_zip_stream(target), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class _Sink:
    """A write-only file for zipfile that hands out what was written so far (zipfile can write to a stream)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _zip_stream(directory: Path) -> Iterator[bytes]:
    """The files under `directory` as a zip, produced while it is sent (stored, not deflated: weights do not
    compress). Symlinks leading out of the directory are left out."""
    root = directory.resolve()
    sink = _Sink()
    archive_file = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True)  # type: ignore[arg-type]
    with archive_file as archive:
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or not path.resolve().is_relative_to(root):
                continue
            info = zipfile.ZipInfo.from_file(path, path.relative_to(directory).as_posix())
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as dest:
                while chunk := source.read(ZIP_CHUNK):
                    dest.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
