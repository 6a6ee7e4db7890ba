// queue.js — unsent messages, in memory and mirrored to localStorage (key sib_q) until the server acknowledges them
import { held } from './config.js'
import { MAX_QUEUE } from './limits.js'

let saving

// The stored queue; none yet (undefined is no JSON), unreadable or blocked: empty
const read = () => {
  try {
    return JSON.parse(localStorage.sib_q)
  } catch {
    return []
  }
}

export let queue = read()

// Merge by id with what other tabs stored, so that no tab erases another's unsent messages; nothing before consent
const store = (messages, removed = []) => {
  if (held()) return
  try {
    const skip = new Set(removed.map((m) => m.id))
    localStorage.sib_q = JSON.stringify(
      read()
        .concat(messages)
        .filter((m) => !skip.has(m.id) && skip.add(m.id))
        .slice(-MAX_QUEUE)
    )
  } catch {}
}

// Writes to localStorage are slow: one write per burst of calls, just after them (or now, when the page hides)
export const save = () => {
  if (saving) {
    clearTimeout(saving)
    saving = 0
    store(queue)
  }
}

export const add = (message) => {
  queue = queue.concat(message).slice(-MAX_QUEUE)
  saving ||= setTimeout(save)
}

// Out of this page's hands (sent by beacon): stays stored until a later fetch is acknowledged
export const release = (messages) => {
  queue = queue.filter((m) => !messages.includes(m))
}

// Acknowledged or refused by the server: gone for good
export const forget = (messages) => {
  release(messages)
  store([], messages)
}

// Consent withdrawn: the unsent messages are dropped, here and in storage
export const clear = () => {
  queue = []
  try {
    delete localStorage.sib_q
  } catch {}
}
