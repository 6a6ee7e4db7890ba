// transport.js — delivers the queue to /collect: batched keepalive fetch with backoff, sendBeacon when the page hides
import { endpoint, held, sib } from './config.js'
import { DELAY, MAX_BACKOFF, MAX_BYTES, MAX_COUNT } from './limits.js'
import { forget, queue, release, save } from './queue.js'
import { visitor } from './visitor.js'

let timer
let flying = []
let tries = 0

const encoder = new TextEncoder()
// Bytes of a message as JSON
export const size = (message) => encoder.encode(JSON.stringify(message)).length

const body = (messages) => JSON.stringify({ key: sib.client_key, cuid: visitor(), messages })

// The oldest messages, as many as fit in one request
const batch = () => {
  const out = []
  let total = 0
  for (const m of queue) {
    total += size(m)
    if (out.length == MAX_COUNT || (out.length && total > MAX_BYTES)) break
    out.push(m)
  }
  return out
}

export const schedule = (ms = DELAY) => {
  timer ||= setTimeout(() => {
    timer = 0
    send()
  }, ms)
}

// One request at a time: 2xx and other 4xx settle the batch; network errors, 408, 429 and 5xx retry it
const send = async () => {
  if (flying.length || held() || !(flying = batch()).length) return
  const sent = flying
  let r
  try {
    r = await fetch(endpoint, { method: 'POST', body: body(sent), keepalive: true })
  } catch {}
  flying = []
  if (!r || /408|429|^5/.test(r.status)) {
    clearTimeout(timer)
    timer = 0
    return schedule(r?.headers.get('Retry-After') * 1000 || Math.min(MAX_BACKOFF, DELAY * 2 ** tries++) * (0.5 + Math.random()))
  }
  tries = 0
  forget(sent)
  send()
}

// The page may be going away: the request in flight (keepalive) and beacons carry the rest; all stay
// stored until a later fetch is acknowledged, and this page does not send them again
export const beacon = () => {
  if (held()) return
  save()
  release(flying)
  for (let b; (b = batch()).length && navigator.sendBeacon(endpoint, body(b)); ) release(b)
}
