// pageviews.js — a page view whenever a single-page app moves to another path
export const watchPaths = (page) => {
  let path = location.pathname
  const changed = () => path != (path = location.pathname) && page()
  // pushState and replaceState return nothing
  for (const k of ['pushState', 'replaceState']) {
    const original = history[k]
    history[k] = function () {
      original.apply(this, arguments)
      changed()
    }
  }
  addEventListener('popstate', changed)
}
