// Sealgate web mail: progressive enhancement only; every page works without it.
(function () {
  'use strict';
  var csrf = document.body.getAttribute('data-csrf');

  var toggle = document.getElementById('menu-toggle');
  if (toggle) {
    toggle.addEventListener('click', function () {
      document.getElementById('folders').classList.toggle('open');
    });
  }

  var all = document.getElementById('select-all');
  if (all) {
    all.addEventListener('change', function () {
      document.querySelectorAll('#messages input[name=uid]').forEach(function (c) { c.checked = all.checked; });
    });
  }

  document.querySelectorAll('button[value=delete]').forEach(function (b) {
    if (/forever/.test(b.textContent)) {
      b.addEventListener('click', function (e) {
        if (!window.confirm('Delete for good? This cannot be undone.')) { e.preventDefault(); }
      });
    }
  });

  // New mail without reload: poll the status endpoint; update unread counts everywhere, and
  // on the first page of a folder refresh the message list when its UIDNEXT moves.
  if (!csrf) { return; }
  var list = document.getElementById('list-form');
  var uidnext = list ? parseInt(list.getAttribute('data-uidnext'), 10) : 0;
  var box = list ? list.getAttribute('data-box') : null;
  var live = list && list.getAttribute('data-live') === '1';

  function updateCounts(folders) {
    folders.forEach(function (f) {
      document.querySelectorAll('.folders li').forEach(function (li) {
        if (li.getAttribute('data-folder') !== f.name) { return; }
        var c = li.querySelector('.count');
        c.textContent = String(f.unseen);
        c.hidden = f.unseen === 0;
      });
    });
  }

  function refreshList() {
    fetch(window.location.href, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var fresh = doc.querySelector('#messages tbody');
      var form = doc.getElementById('list-form');
      if (!fresh || !form) { return; }
      var checked = {};
      document.querySelectorAll('#messages input[name=uid]:checked').forEach(function (c) { checked[c.value] = true; });
      document.querySelector('#messages tbody').replaceWith(fresh);
      document.querySelectorAll('#messages input[name=uid]').forEach(function (c) { c.checked = !!checked[c.value]; });
      var h1 = doc.querySelector('.toolbar h1');
      if (h1) { document.querySelector('.toolbar h1').replaceWith(h1); }
      uidnext = parseInt(form.getAttribute('data-uidnext'), 10);
      document.getElementById('newmail').hidden = false;
    });
  }

  function poll() {
    fetch('/mail/api/status', { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (st) {
        updateCounts(st.folders);
        if (!live) { return; }
        st.folders.forEach(function (f) {
          if (f.name === box && f.uidnext !== uidnext) { refreshList(); }
        });
      })
      .catch(function () { /* offline or logged out: try again later */ });
  }
  var every = parseInt(document.body.getAttribute('data-poll') || '5000', 10);
  window.setInterval(poll, every);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { poll(); } });
})();
