// api.js — the public calls: validate the arguments and turn each call into a queued message
import { off, sib } from './config.js'
import { consent } from './consent.js'
import { newId } from './ids.js'
import { MAX_BYTES } from './limits.js'
import { add } from './queue.js'
import { schedule, size } from './transport.js'

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

// Call-time URL and timestamp of a call replayed from the loader stub's queue
let at = {}

export const check = (ok, what) => {
  if (!ok) throw 'Sibyl: invalid ' + what
}

const named = (name) => (check(typeof name == 'string' && name && name.length < 256, 'name'), name)

const props = (p) => (check(p == null || (typeof p == 'object' && !Array.isArray(p)), 'properties'), p || undefined)

const enqueue = (type, name, properties, extra) => {
  const message = {
    id: newId(),
    type,
    ts: at.t || Date.now(),
    url: (at.u || location.href).slice(0, 2048), // the server's URL limit
    name,
    email: EMAIL.test(sib.email_id) ? sib.email_id : undefined,
    properties,
    ...extra,
  }
  // An identified message carries the browser's IANA time zone (none without Intl), for quiet hours in its own time
  try {
    message.email && (message.tz = Intl.DateTimeFormat().resolvedOptions().timeZone)
  } catch {}
  check(size(message) <= MAX_BYTES, 'size')
  if (off()) return
  add(message)
  schedule()
}

export const track = (event, properties, eventdata) => {
  enqueue('track', named(event), props(properties), { eventdata: props(eventdata) })
}

export const identify = (email, properties) => {
  check(EMAIL.test(email), 'email')
  enqueue('identify', undefined, props(properties), { email })
}

export const page = (name, properties) => {
  const url = new URL(at.u || location.href)
  enqueue('page', named(name || (document.title || url.pathname).slice(0, 255)), {
    ma_url: url.href,
    ma_path: url.pathname,
    ma_title: document.title,
    ma_referrer: document.referrer,
    ...props(properties),
  })
}

export const trackLink = (elements, properties) => {
  properties = props(properties)
  for (const el of elements.nodeType ? [elements] : elements)
    el.addEventListener('click', safe(() => enqueue('link', named(el.href), properties)))
}

// Public entry points return nothing and never throw into the page: a bad call is ignored with one warning
export const safe =
  (fn) =>
  (...args) => {
    try {
      fn(...args)
    } catch (e) {
      console.warn(e)
    }
  }

export const api = { track, identify, page, trackLink, consent }

// Calls queued by the loader stub ({track: [args], u: url, t: ms}), in call order, each at its own time and URL
export const replay = (calls) => {
  for (const call of calls)
    for (const k in api)
      if (call[k]) {
        at = call
        sib[k](...call[k])
        at = {}
      }
}
