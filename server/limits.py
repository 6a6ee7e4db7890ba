"""The documented size limits on everything a client may send."""

BATCH_BYTES = 500 * 1024
BATCH_MESSAGES = 100
MESSAGE_BYTES = 32 * 1024
NAME_CHARS = 255
URL_CHARS = 2048
ID_CHARS = 64
