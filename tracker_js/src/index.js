// index.js — takes over from the loader stubs: installs the API, flushes on hide, replays queued calls, tracks page views
import { sib } from './config.js'
import { api, replay, safe } from './api.js'
import { takeOverBrevo } from './brevo.js'
import { watchPaths } from './pageviews.js'
import { beacon, schedule } from './transport.js'

safe(() => {
  if (sib.page) return // sa.js already ran on this page
  const calls = (sib.equeue || []).splice(0)
  const stub = (window.sendinblue ||= {})
  for (const k in api) stub[k] = sib[k] = safe(api[k])
  addEventListener('pagehide', safe(beacon))
  addEventListener('visibilitychange', safe(() => document.hidden && beacon()))
  watchPaths(sib.page)
  replay(calls)
  if (!calls.some((call) => call.page)) sib.page()
  takeOverBrevo()
  schedule()
})()
