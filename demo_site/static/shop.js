/* Sibyl demo shop: cart updates and Brevo-style tracking calls (sendinblue.*). Plain ES5 + fetch. */
(function () {
  'use strict';

  var EMAIL_RE = /^[^@\s<>()\[\],;:"]+@[^@\s<>()\[\],;:"]+\.[^@\s<>()\[\],;:"]+$/;  /* same as users.py */

  /* Call window.sendinblue[method] if the tracking snippet is on the page; never throw. */
  function sib(method, args) {
    var s = window.sendinblue;
    if (!s || typeof s[method] !== 'function') { return; }
    try { s[method].apply(s, args); } catch (e) {
      if (window.console) { window.console.warn('sendinblue.' + method + ' failed', e); }
    }
  }

  function copy(obj) {
    var out = {}, k;
    for (k in obj) { if (Object.prototype.hasOwnProperty.call(obj, k)) { out[k] = obj[k]; } }
    return out;
  }

  function money(n) {
    return '$' + Number(n).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  /* ---- sign-in / newsletter form: identify, then let the form post ---- */
  function initSignin() {
    var form = document.getElementById('signin');
    if (!form) { return; }
    form.addEventListener('submit', function () {
      var email = (form.elements.email.value || '').replace(/^\s+|\s+$/g, '');
      if (!EMAIL_RE.test(email)) { return; }
      var attrs = {};
      var first = (form.elements.firstname.value || '').replace(/^\s+|\s+$/g, '');
      var last = (form.elements.lastname.value || '').replace(/^\s+|\s+$/g, '');
      if (first) { attrs.FIRSTNAME = first; }
      if (last) { attrs.LASTNAME = last; }
      sib('identify', [email, attrs]);
    });
  }

  function post(url, body) {
    return window.fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (json) {
        if (!res.ok) { throw new Error(json.error || ('HTTP ' + res.status)); }
        return json;
      });
    });
  }

  /* ---- the cart, as tracked: one event for every change, whichever page made it ---- */
  function trackItems(cart) {
    var out = [], i, it;
    for (i = 0; i < cart.items.length; i++) {
      it = cart.items[i];
      out.push({name: it.name, price: it.price, quantity: it.quantity, url: it.url, image: it.image});
    }
    return out;
  }

  /* The whole cart after a change (an add, a removal, a new quantity); cart_deleted once it is empty.
     data.url is the cart's own link: it restores the cart in the browser the recovery email is opened in. */
  function trackCartChange(before, cart, properties) {
    if (cart.items.length) {
      sib('track', ['cart_updated', copy(properties), {
        id: 'cart:' + cart.id,
        data: {items: trackItems(cart), total: cart.total, currency: cart.currency, url: cart.url}
      }]);
    } else if (before.items.length) {
      sib('track', ['cart_deleted', copy(properties), {id: 'cart:' + before.id}]);
    }
  }

  /* ---- Add to cart (product and home pages): save, track, then show the cart ---- */
  function initAddButtons() {
    if (!window.fetch) { return; }
    document.addEventListener('submit', function (e) {
      var form = e.target;
      if (!form.classList || !form.classList.contains('add-form')) { return; }
      e.preventDefault();
      var button = form.querySelector('button');
      if (button) { button.disabled = true; }
      post(form.getAttribute('action'), {}).then(function (json) {
        trackCartChange({items: []}, json.cart, json.properties);
        window.location.assign(form.getAttribute('data-next'));
      }).catch(function () {
        form.submit();  /* the plain form post still adds the item */
      });
    });
  }

  /* ---- cart page ---- */
  function initCart() {
    var dataEl = document.getElementById('cart-data');
    var form = document.getElementById('cart-form');
    if (!dataEl || !form || !window.fetch) { return; }
    var state;
    try { state = JSON.parse(dataEl.textContent); } catch (e) { return; }
    var queue = Promise.resolve();  /* one change at a time, each tracked with the cart the server answered */
    var sentQuantities = quantitiesKey(state.cart);
    var message = document.getElementById('cart-message');

    function say(text, isError) {
      if (!message) { return; }
      message.textContent = text;
      message.className = 'message' + (isError ? ' error' : '');
    }

    function render(cart) {
      var rows = form.querySelectorAll('tr.cart-line'), i, j, row, item, input;
      for (i = 0; i < rows.length; i++) {
        row = rows[i];
        item = null;
        for (j = 0; j < cart.items.length; j++) {
          if (cart.items[j].slug === row.getAttribute('data-slug')) { item = cart.items[j]; }
        }
        if (!item) { row.parentNode.removeChild(row); continue; }
        input = row.querySelector('input.qty');
        if (input) { input.value = item.quantity; }
        row.querySelector('.line-total').textContent = money(item.line_total);
      }
      var total = document.getElementById('cart-total');
      if (total) { total.textContent = money(cart.total); total.setAttribute('data-total', cart.total); }
      var count = document.getElementById('cart-count');
      if (count) { count.textContent = cart.count; }
      if (!cart.items.length) {
        form.parentNode.removeChild(form);
        document.getElementById('cart-empty').hidden = false;
      }
    }

    function quantitiesKey(cart) {
      var out = {}, i;
      for (i = 0; i < cart.items.length; i++) { out[cart.items[i].slug] = cart.items[i].quantity; }
      return JSON.stringify(out);
    }

    /* POST a change after those before it, then track it with the cart the server answered. */
    function change(url, body, doneText) {
      say('Saving…');
      queue = queue.then(function () {
        return post(url, body).then(function (json) {
          var before = state.cart;
          state = {cart: json.cart, properties: json.properties};
          sentQuantities = quantitiesKey(json.cart);
          render(json.cart);
          trackCartChange(before, json.cart, json.properties);
          say(json.cart.items.length ? doneText : '');
        }, function (err) {
          say('Sorry, the cart could not be saved: ' + err.message, true);
        });
      });
    }

    /* The quantities as typed; nothing is sent when they are the ones last sent (a change, then Enter). */
    function updateCart() {
      var inputs = form.querySelectorAll('input.qty[data-slug]'), quantities = {}, i, n, key;
      for (i = 0; i < state.cart.items.length; i++) {
        quantities[state.cart.items[i].slug] = state.cart.items[i].quantity;
      }
      for (i = 0; i < inputs.length; i++) {
        n = parseInt(inputs[i].value, 10);
        if (!isNaN(n)) { quantities[inputs[i].getAttribute('data-slug')] = Math.max(0, n); }
      }
      key = JSON.stringify(quantities);
      if (key === sentQuantities) { return; }
      sentQuantities = key;
      change(form.getAttribute('action'), {quantities: quantities}, 'Cart updated.');
    }

    function checkout(checkoutForm) {
      say('Placing your order…');
      queue = queue.then(function () {
        return post(checkoutForm.getAttribute('action'), {}).then(function (json) {
          var order = json.order;
          sib('track', ['order_completed', copy(json.properties), {
            id: 'cart:' + order.id,
            data: {total: order.total, currency: order.currency, items: trackItems(order)}
          }]);
          window.location.assign(json.redirect);
        }, function (err) {
          say('Sorry, the order could not be placed: ' + err.message, true);
        });
      });
    }

    /* A new quantity is sent as soon as it is set (arrows, or typed and left), not only by Update cart. */
    form.addEventListener('change', function (e) {
      if (e.target.classList.contains('qty')) { updateCart(); }
    });

    /* Every cart action is a real form (works without JS); with JS we take them over. */
    document.addEventListener('submit', function (e) {
      var target = e.target;
      if (target === form) {
        e.preventDefault();
        updateCart();
      } else if (target.id === 'checkout-form') {
        e.preventDefault();
        checkout(target);
      } else if (target.id && target.id.indexOf('remove-') === 0 && target.elements.slug) {
        e.preventDefault();
        change(target.getAttribute('action'), {slug: target.elements.slug.value}, 'Item removed.');
      }
    });
  }

  initSignin();
  initAddButtons();
  initCart();
})();
