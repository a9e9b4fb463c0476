// Login and roles in the browser: a callback refused for the user's role shows the reason as a
// toast; an ended session goes back to the login page.
(function () {
  var fetch0 = window.fetch;
  window.fetch = function (input, init) {
    return fetch0.apply(this, arguments).then(function (resp) {
      var url = typeof input === 'string' ? input : (input && input.url) || '';
      if (url.indexOf('_dash-update-component') < 0 || (resp.status !== 401 && resp.status !== 403)) {
        return resp;
      }
      if (resp.status === 401) {
        // the canvas stays in this tab's session storage and comes back after logging in:
        // leaving for the login page needs no "unsaved changes" question
        window.SEER_SESSION_ENDED = true;
        window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname);
      } else {
        resp.json().then(function (body) {
          if (window.SEER && window.SEER.toast) window.SEER.toast(body.error || 'Not allowed.', 'error');
        }).catch(function () {});
      }
      // Dash takes 204 as "nothing to update": the page stays as it was
      return new Response(null, {status: 204});
    });
  };
})();

// the user menu closes on a choice or a click elsewhere
document.addEventListener('click', function (e) {
  var menu = document.getElementById('session-area');
  if (menu && menu.open && (!menu.contains(e.target) || e.target.closest('.menu .tab'))) {
    menu.open = false;
  }
});
