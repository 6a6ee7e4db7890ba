// config.js — where messages go (the /collect endpoint next to sa.js, the site's client key) and whether they may
export const sib = (window.sib ||= {})

const src = new URL((document.currentScript || document.getElementById('sendinblue-js') || {}).src || location.href)

export const endpoint = new URL('collect', src)

// The snippet's window.sib.client_key, else ?key= on sa.js's URL; Brevo's "init" command may set it later
sib.client_key ||= src.searchParams.get('key')

// localStorage[key] == '1'; undefined when storage is blocked
const stored = (key) => {
  try {
    return localStorage[key] == '1'
  } catch {}
}

// The site disabled tracking, the visitor opted out, or the site honours Do-Not-Track and the browser asks for it
export const off = () =>
  sib.disabled || stored('sib_optout') || (sib.respect_dnt && (navigator.doNotTrack == '1' || navigator.globalPrivacyControl))

let given // consent given on this page, for when localStorage cannot remember it

// Records the visitor's consent (or its withdrawal) for this page and, in localStorage, for later ones
export const remember = (yes) => {
  given = yes
  try {
    yes ? (localStorage.sib_consent = 1) : delete localStorage.sib_consent
  } catch {}
}

// Nothing is sent or stored: tracking is off, or consent mode (window.sib.require_consent) waits for consent
export const held = () => off() || (sib.require_consent && !(stored('sib_consent') ?? given))
