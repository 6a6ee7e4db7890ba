// brevo.js — Brevo's newer API: window.Brevo is an array of commands until sa.js loads, then runs each command pushed
import { sib } from './config.js'
import { api, check, identify, safe } from './api.js'

// Installs Brevo.{track, identify, page, trackLink, push}, then runs the commands pushed before load, in order
export const takeOverBrevo = () => {
  const brevo = (window.Brevo ||= [])
  const pushed = brevo.splice(0)
  for (const k in api) brevo[k] = sib[k]
  brevo.identify = safe((visitor) => identify(visitor.identifiers.email_id, visitor.attributes))
  // A function (called now that the tracker is ready), ["init", {client_key}] or [call, ...its arguments]
  brevo.push = safe((command) => {
    if (typeof command == 'function') return command()
    const [name, ...args] = command
    if (name == 'init') return (sib.client_key = args[0].client_key)
    check(api[name], 'command')
    brevo[name](...args)
  })
  for (const command of pushed) brevo.push(command)
}
