// modules.js — the entry of a build with optional modules: the core, then what the build's flags (OUTBOUND, DOWNLOADS,
// FORMS, TAGGED) turn on: clicks on outbound links, downloads and tagged elements, and form submissions, as custom events
import './index.js'
import { sib } from './config.js'
import { EMAIL, identify, safe, track } from './api.js'

// File extensions that make a link a download, unless the page sets window.sib.downloads = 'pdf,epub'
const FILES = 'pdf,zip,gz,7z,rar,csv,txt,rtf,docx,xlsx,pptx,odt,ods,mp3,wav,mp4,mov,avi,dmg,pkg,exe,msi,apk'

// A click (a modifier-click too) or a middle-click: what the link or the tagged element says; navigation untouched
const clicked = (e) => {
  if (e.button > 1) return
  const a = (OUTBOUND || DOWNLOADS) && e.target.closest('a[href]')
  if (a) {
    const url = a.href
    const file = /\.(\w+)$/.exec(a.pathname)?.[1].toLowerCase()
    if (DOWNLOADS && file && (sib.downloads || FILES).split(/\W+/).includes(file)) track('file_downloaded', { url })
    else if (OUTBOUND && /^http/.test(a.protocol) && a.hostname != location.hostname)
      track('outbound_link_clicked', { url })
  }
  const tagged = TAGGED && e.target.closest('[data-sib-event]')
  if (tagged) {
    const properties = {}
    for (const { name, value } of tagged.attributes)
      name.startsWith('data-sib-prop-') && (properties[name.slice(14)] = value)
    track(tagged.dataset.sibEvent, properties)
  }
}

// A form sent: its id or name and the page, then identify by its email field when that holds an address
const submitted = (e) => {
  const form = e.target
  track('form_submitted', { form: form.getAttribute('id') || form.getAttribute('name'), url: location.href })
  const email = form.querySelector('input[type=email],input[name=email]:not([type=password])')?.value.trim()
  EMAIL.test(email) && identify(email)
}

// Once per page, like the core (sa.js may be loaded twice); capture, so that a page stopping the event changes nothing
if (!sib.modules) {
  sib.modules = 1
  if (OUTBOUND || DOWNLOADS || TAGGED) for (const type of ['click', 'auxclick']) addEventListener(type, safe(clicked), true)
  FORMS && addEventListener('submit', safe(submitted), true)
}
