// visitor.js — the first-party visitor id, kept in the sib_cuid cookie for 13 months
import { newId } from './ids.js'

let id

// Read (or made) and written back once per page, which renews the cookie; kept in memory when cookies are blocked
export const visitor = () => {
  if (!id) {
    try {
      id = (document.cookie.match(/(^|; )sib_cuid=([^;]+)/) || [])[2] || newId()
      document.cookie =
        'sib_cuid=' + id + '; path=/; max-age=34214400; SameSite=Lax' + (location.protocol == 'https:' ? '; Secure' : '')
    } catch {}
  }
  return (id ||= newId())
}

// Consent withdrawn: the cookie is deleted and a later consent starts a new visitor
export const forgetVisitor = () => {
  id = 0
  document.cookie = 'sib_cuid=; path=/; max-age=0'
}
