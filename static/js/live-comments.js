// The post page's comments, live: new ones appear as they are posted (on any of the site's
// servers), edited ones change in place, hidden and deleted ones go. Without this script, or
// while the socket is down, the page is exactly as the server made it.
(function () {
  'use strict';
  var section = document.getElementById('comments');
  if (!section || !section.dataset.live || !window.WebSocket || !window.JSON) return;
  var title = document.getElementById('comments-title');
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + section.dataset.live;
  var retry = 1000; // ms; doubles after each failure, up to a minute

  function comments() { return section.querySelectorAll('[data-comment]'); }

  function newest() {
    var max = 0;
    comments().forEach(function (c) { max = Math.max(max, Number(c.dataset.comment) || 0); });
    return max;
  }

  function recount() {
    var n = comments().length;
    title.textContent = n === 0 ? 'Comments' : n + (n === 1 ? ' comment' : ' comments');
  }

  function parse(html) {
    var t = document.createElement('template');
    t.innerHTML = html; // rendered and sanitized by the server, as the page itself is
    return t.content.firstElementChild;
  }

  function show(id, html) {
    var node = parse(html);
    if (!node) return;
    var here = document.getElementById('comment-' + id);
    if (here) {
      // Edited, approved or shown again: new words, the page's own controls kept.
      here.className = node.className;
      ['.meta', '.comment-body'].forEach(function (part) {
        var mine = here.querySelector(part), theirs = node.querySelector(part);
        if (mine && theirs) mine.replaceWith(theirs);
      });
      return;
    }
    var all = comments();
    // Comments are in the order they were posted: after the last older one.
    var before = null;
    all.forEach(function (c) { if (Number(c.dataset.comment) < id) before = c; });
    if (before) before.after(node);
    else if (all.length) all[0].before(node);
    else title.after(node);
    node.classList.add('live-new');
    recount();
  }

  function gone(id) {
    var here = document.getElementById('comment-' + id);
    if (here) { here.remove(); recount(); }
  }

  function connect() {
    var socket;
    try { socket = new WebSocket(url); } catch (e) { return; }
    socket.onopen = function () {
      retry = 1000;
      // Whatever was posted since the page was made (or while the socket was down).
      socket.send(JSON.stringify({ type: 'since', id: newest() }));
    };
    socket.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === 'comment') show(m.id, m.html);
      else if (m.type === 'gone') gone(m.id);
    };
    socket.onclose = function (e) {
      // 1008: the server refused this page, or the post was unpublished; don't keep knocking.
      if (e.code === 1008) return;
      setTimeout(connect, retry + Math.random() * 500);
      retry = Math.min(retry * 2, 60000);
    };
  }

  connect();
})();
