// config.js — where messages go: the /collect endpoint next to sa.js, and the site's client key
export const sib = (window.sib ||= {})

const src = new URL((document.currentScript || document.getElementById('sendinblue-js') || {}).src || location.href)

export const endpoint = new URL('collect', src).href

// The snippet's window.sib.client_key, else ?key= on sa.js's URL; Brevo's "init" command may set it later
sib.client_key ||= src.searchParams.get('key')

const optedOut = () => {
  try {
    return localStorage.sib_optout == '1'
  } catch {}
}

// The site disabled tracking, the visitor opted out, or the site honours Do-Not-Track and the browser asks for it
export const off = () =>
  sib.disabled || optedOut() || (sib.respect_dnt && (navigator.doNotTrack == '1' || navigator.globalPrivacyControl))
