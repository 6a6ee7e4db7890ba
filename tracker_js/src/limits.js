// limits.js — the numbers the tracker keeps to, in a module without imports so that the build writes them in place
export const MAX_BYTES = 32000 // of a message as JSON (the server's limit), and of a request (keepalive shares 64 KB)
export const MAX_COUNT = 50 // messages per request
export const MAX_QUEUE = 200 // unsent messages kept
export const DELAY = 1000 // ms to wait after the first message, to batch what follows
export const MAX_BACKOFF = 60000 // ms between two tries at most
