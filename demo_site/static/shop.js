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

  /* ---- cart page ---- */
  function trackItems(cart) {
    var out = [], i, it;
    for (i = 0; i < cart.items.length; i++) {
      it = cart.items[i];
      out.push({name: it.name, price: it.price, quantity: it.quantity, url: it.url, image: it.image});
    }
    return out;
  }

  function trackCartChange(before, cart, properties) {
    if (cart.items.length) {
      sib('track', ['cart_updated', copy(properties), {
        id: 'cart:' + cart.id,
        data: {total: cart.total, currency: cart.currency, url: cart.url, items: trackItems(cart)}
      }]);
    } else if (before.items.length) {
      sib('track', ['cart_deleted', copy(properties), {id: 'cart:' + before.id}]);
    }
  }

  function initCart() {
    var dataEl = document.getElementById('cart-data');
    var form = document.getElementById('cart-form');
    if (!dataEl || !form || !window.fetch) { return; }
    var state;
    try { state = JSON.parse(dataEl.textContent); } catch (e) { return; }
    var busy = false;
    var message = document.getElementById('cart-message');

    function say(text, isError) {
      if (!message) { return; }
      message.textContent = text;
      message.className = 'message' + (isError ? ' error' : '');
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

    /* POST a change, then track it with the cart the server answered. */
    function change(url, body, doneText) {
      if (busy) { return; }
      busy = true;
      say('Saving…');
      post(url, body).then(function (json) {
        var before = state.cart;
        state = {cart: json.cart, properties: json.properties};
        render(json.cart);
        trackCartChange(before, json.cart, json.properties);
        say(json.cart.items.length ? doneText : '');
      }).catch(function (err) {
        say('Sorry, the cart could not be saved: ' + err.message, true);
      }).then(function () { busy = false; });
    }

    function updateCart() {
      var inputs = form.querySelectorAll('input.qty[data-slug]'), quantities = {}, i, n;
      for (i = 0; i < inputs.length; i++) {
        n = parseInt(inputs[i].value, 10);
        if (!isNaN(n)) { quantities[inputs[i].getAttribute('data-slug')] = Math.max(0, n); }
      }
      change(form.getAttribute('action'), {quantities: quantities}, 'Cart updated.');
    }

    function checkout(checkoutForm) {
      if (busy) { return; }
      busy = true;
      say('Placing your order…');
      post(checkoutForm.getAttribute('action'), {}).then(function (json) {
        var order = json.order;
        sib('track', ['order_completed', copy(json.properties), {
          id: 'cart:' + order.id,
          data: {total: order.total, currency: order.currency, items: trackItems(order)}
        }]);
        window.location.assign(json.redirect);
      }).catch(function (err) {
        busy = false;
        say('Sorry, the order could not be placed: ' + err.message, true);
      });
    }

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
  initCart();
})();
