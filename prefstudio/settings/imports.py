"""Imports: size limits of uploaded files and texts, and when an upload becomes a background job.

Every limit is checked while the file is read (in bounded pieces), before the data is held in
memory, and an error names the setting that was exceeded. A gzip upload of 1 MB can inflate to
gigabytes, so the compressed size alone bounds nothing.
"""
from .env import env_int

_MiB = 1 << 20

# Bytes of an upload as sent (compressed, if gzipped); a larger upload is refused with a 413 while it
# streams in. The command line (manage.py import_data) reads local files and has no such limit.
PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES = env_int("PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES", 256 * _MiB)
PREFSTUDIO_MAX_IMPORT_BYTES = PREFSTUDIO_IMPORT_MAX_UPLOAD_BYTES  # the older name of the same limit
# Bytes of a file once decompressed (every import, the command line's too): about 1 GB of Python
# objects per 400 MB of JSON while the import runs, so this bounds a worker's memory.
PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES = env_int("PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES", 512 * _MiB)
# Bytes of one JSONL line (one item with its prompt, responses and labels).
PREFSTUDIO_IMPORT_MAX_LINE_BYTES = env_int("PREFSTUDIO_IMPORT_MAX_LINE_BYTES", 8 * _MiB)
# Characters of one text on every write path: a prompt message, a response, a label's rationale, raw judge
# output or edited text (imports, the API, the labeling pages). 400k characters is about 100k tokens.
PREFSTUDIO_MAX_TEXT_CHARS = env_int("PREFSTUDIO_MAX_TEXT_CHARS", 400_000)
# An upload with more than this many (decompressed) bytes runs as an import job on the `default` queue, with
# progress, instead of inside the web request: uploads over it (as sent) go straight to a job; smaller ones
# are read inline up to this many decompressed bytes and handed to a job if they turn out larger.
PREFSTUDIO_IMPORT_INLINE_MAX_BYTES = env_int("PREFSTUDIO_IMPORT_INLINE_MAX_BYTES", 8 * _MiB)
