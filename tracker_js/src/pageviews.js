// pageviews.js — a page view whenever a single-page app moves to another path
export function watchPaths(page) {
  let path = location.pathname
  const changed = () => {
    if (path != location.pathname) {
      path = location.pathname
      page()
    }
  }
  for (const k of ['pushState', 'replaceState']) {
    const original = history[k]
    history[k] = function () {
      const result = original.apply(this, arguments)
      changed()
      return result
    }
  }
  addEventListener('popstate', changed)
}
