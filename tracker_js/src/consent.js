// consent.js — sendinblue.consent(): consent given sends the calls kept so far; consent(false) forgets the visitor
import { remember, sib } from './config.js'
import { add, clear } from './queue.js'
import { schedule } from './transport.js'
import { forgetVisitor } from './visitor.js'

export const consent = (yes = true) => {
  remember(yes)
  if (yes) {
    add([]) // stores the calls that waited for consent
    return schedule()
  }
  sib.require_consent = 1
  clear()
  forgetVisitor()
}
