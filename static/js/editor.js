// The post editor, enhanced. Without this script every part of the editor still works as a
// plain form (Preview and Save are form posts); with it: a live preview made by the server's
// own renderer (patched in place by morphdom, so images don't reload), autosave, images
// pasted or dropped into the body, Ctrl/Cmd+S, a warning before leaving unsaved text, a
// live word count, the save state in the bar that stays in view ("Saved 3 s ago",
// "Saving…", "Offline — kept in this browser"), and a Markdown toolbar with its keyboard
// shortcuts. The form names the endpoints: data-preview, data-autosave, data-upload.
(function () {
  'use strict';
  var form = document.getElementById('editor');
  var body = document.getElementById('body');
  if (!form || !body || !window.fetch || !window.URLSearchParams) return;

  var AUTOSAVE_AFTER = 3000; // ms after the last keystroke
  var PREVIEW_AFTER = 400;
  var WORDS_PER_MINUTE = 265; // as the server counts reading time
  var BEACON_MAX = 60000; // browsers refuse larger beacons

  var statusLine = document.getElementById('editor-status');
  var count = document.getElementById('editor-count');
  var pane = document.getElementById('live-preview');
  var paneBody = document.getElementById('live-preview-body');
  var paneLabel = pane && pane.querySelector('.live-preview-label');
  var tabs = form.querySelector('.editor-tabs');
  var version = form.querySelector('input[name=version]');
  var csrf = form.querySelector('input[name=csrf_token]').value;
  var saveButton = form.querySelector('button[name=intent][value=save]');
  var hint = document.getElementById('body-hint');

  form.classList.add('enhanced');
  form.dataset.show = 'write';
  if (hint) hint.textContent = 'Paste or drop an image here to upload it. The preview follows as you type.';

  // The save state. `{ago}` in the text becomes "3 s ago", kept current every few seconds
  // in a part screen readers skip (the live region would otherwise speak at each tick);
  // they hear the clock time instead, once.
  var savedAt = null;
  function ago(at) {
    var s = Math.round((Date.now() - at) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    return 'at ' + new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function say(text, kind, at) {
    if (!statusLine) return;
    statusLine.dataset.kind = kind || '';
    savedAt = at || null;
    var parts = text.split('{ago}');
    statusLine.textContent = parts[0];
    if (parts.length > 1 && at) {
      var when = document.createElement('span');
      when.className = 'ago';
      when.setAttribute('aria-hidden', 'true');
      when.textContent = ' ' + ago(at);
      var spoken = document.createElement('span');
      spoken.className = 'visually-hidden';
      spoken.textContent = ' at ' + clock();
      statusLine.appendChild(when);
      statusLine.appendChild(spoken);
      statusLine.appendChild(document.createTextNode(parts.slice(1).join('')));
    }
  }
  setInterval(function () {
    var when = savedAt && statusLine && statusLine.querySelector('.ago');
    if (when) when.textContent = ' ' + ago(savedAt);
  }, 5000);

  function clock() {
    return new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // What the form sends, urlencoded, as Save would send it (minus the button pressed).
  function fields() {
    return new URLSearchParams(new FormData(form));
  }

  // An error answer's message: our JSON's `error`, or a sentence about the status.
  function refusal(res, fallback) {
    return res.json().then(
      function (answer) { return answer; },
      function () { return { error: fallback + ' (' + res.status + ').' }; }
    );
  }

  // ---- word count and reading time ----
  function recount() {
    if (!count) return;
    var words = body.value.split(/\s+/).filter(function (w) { return /[\p{L}\p{N}]/u.test(w); }).length;
    var minutes = Math.max(1, Math.ceil(words / WORDS_PER_MINUTE));
    count.textContent = words.toLocaleString() + (words === 1 ? ' word' : ' words') +
      ' · ' + minutes + ' min read';
  }

  // ---- live preview ----
  var previewTimer = null;
  var previewBusy = false;
  var previewAgain = false;

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, PREVIEW_AFTER);
  }

  function showPreview(html) {
    var next = document.createElement('div');
    next.className = 'prose';
    next.id = 'live-preview-body';
    next.innerHTML = html; // sanitized by the server, as readers get it
    if (window.morphdom) window.morphdom(paneBody, next);
    else paneBody.innerHTML = html;
  }

  function paneNote(text) {
    if (paneLabel) paneLabel.textContent = text;
  }

  function preview() {
    if (!pane || !form.dataset.preview) return;
    if (previewBusy) { previewAgain = true; return; }
    previewBusy = true;
    var sent = new URLSearchParams();
    sent.set('csrf_token', csrf);
    sent.set('body', body.value);
    fetch(form.dataset.preview, {
      method: 'POST', body: sent, credentials: 'same-origin', headers: { Accept: 'text/html' }
    }).then(function (res) {
      if (res.ok) {
        return res.text().then(function (html) {
          showPreview(html);
          paneNote('Preview, as readers will see it');
          pane.dataset.state = 'ready';
        });
      }
      return refusal(res, 'The preview failed').then(function (answer) {
        paneNote(answer.error || 'The preview failed.');
      });
    }, function () {
      paneNote('The preview is offline; your text is safe here.');
    }).then(function () {
      previewBusy = false;
      if (previewAgain) { previewAgain = false; schedulePreview(); }
    });
  }

  // ---- autosave ----
  // Absent on a conflict page: saving over someone else's version there is a deliberate act.
  var autosaveUrl = form.dataset.autosave;
  var dirty = false;        // changes the server doesn't have
  var edits = 0;            // counts changes, so one made during an autosave stays dirty
  var saving = false;
  var saveAgain = false;
  var stopped = false;      // after a conflict: only the author's Save goes on
  var submitting = false;
  var pendingSubmit = null; // Save pressed while an autosave was in flight
  var autosaveTimer = null;

  function changed() {
    if (!dirty && !saving) say('Unsaved changes', 'dirty');
    dirty = true;
    edits += 1;
    if (autosaveUrl && !stopped) {
      clearTimeout(autosaveTimer);
      autosaveTimer = setTimeout(autosave, AUTOSAVE_AFTER);
    }
  }

  function autosave() {
    if (!autosaveUrl || stopped || submitting || !dirty) return;
    if (saving) { saveAgain = true; return; }
    saving = true;
    var sentAt = edits;
    say('Saving…', 'saving');
    fetch(autosaveUrl, {
      method: 'POST', body: fields(), credentials: 'same-origin', headers: { Accept: 'application/json' }
    }).then(function (res) {
      if (!res.ok) {
        return refusal(res, 'Not autosaved').then(function (answer) {
          if (res.status === 409) stopped = true;
          say(answer.error || 'Not autosaved.', 'error');
        });
      }
      return res.json().then(function (answer) {
        version.value = String(answer.version);
        if (answer.autosave_url && answer.autosave_url !== autosaveUrl) {
          // A new post's first autosave created it: from now on this form edits that post.
          autosaveUrl = answer.autosave_url;
          form.action = answer.action;
          form.dataset.autosave = answer.autosave_url;
          history.replaceState(null, '', answer.edit_url);
        }
        if (edits === sentAt) dirty = false;
        forgetLocal();
        say(answer.saved === 'aside'
          ? 'Saved{ago}, kept aside: readers see the published version until you save.'
          : 'Saved{ago}', 'ok', Date.now());
      });
    }, function () {
      // The server is out of reach: the text stays in this browser until it is back.
      say(keepLocal() ? 'Offline — kept in this browser' : 'Offline — not saved: keep this page open', 'error');
    }).then(function () {
      saving = false;
      if (pendingSubmit) {
        var button = pendingSubmit;
        pendingSubmit = null;
        form.requestSubmit(button);
      } else if (saveAgain) {
        saveAgain = false;
        autosave();
      }
    });
  }

  // The search-result preview in "Post settings" follows the fields it is made of.
  var serp = {
    title: document.getElementById('serp-title'),
    description: document.getElementById('serp-description'),
    url: document.getElementById('serp-url')
  };
  function value(name) {
    var field = form.elements[name];
    return field ? field.value.trim() : '';
  }
  function updateSerp() {
    if (!serp.title) return;
    var title = value('title');
    serp.title.textContent = value('meta_title') ||
      (title ? title + ' · ' + serp.title.dataset.suffix : serp.title.dataset.suffix);
    var description = value('meta_description') || value('excerpt');
    if (description) serp.description.textContent = description;
    // The address as the server would make it from the slug or title, roughly.
    var slug = (value('slug') || title).toLowerCase().normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
    serp.url.textContent = value('canonical_url') || serp.url.dataset.prefix + slug;
  }

  form.addEventListener('input', function (e) {
    changed();
    if (e.target === body) { recount(); schedulePreview(); }
    else updateSerp();
  });

  form.addEventListener('submit', function (e) {
    // Wait for an autosave in flight: it moves the version this save must name.
    if (saving) {
      e.preventDefault();
      pendingSubmit = e.submitter || saveButton;
      say('Saving…');
      return;
    }
    submitting = true;
    clearTimeout(autosaveTimer);
  });

  // Leaving with text the server doesn't have: the browser asks first, and if the person
  // leaves anyway the text goes as a last autosave.
  window.addEventListener('beforeunload', function (e) {
    if (dirty && !submitting) {
      e.preventDefault();
      e.returnValue = '';
    }
  });
  // Back online: what was kept here goes to the server.
  window.addEventListener('online', function () { if (dirty) autosave(); });
  window.addEventListener('pagehide', function () {
    if (!dirty || submitting || stopped || saving || !autosaveUrl || !navigator.sendBeacon) return;
    var data = fields();
    if (data.toString().length < BEACON_MAX) navigator.sendBeacon(autosaveUrl, data);
  });
  // Back from the browser's page cache, the version may be behind the last autosave.
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) location.reload();
  });

  // ---- who else is here, and their saves (a WebSocket, from every server of the site) ----
  // Only a warning, sooner: a save over someone else's version is still refused and shown
  // side by side, as without this.
  var presence = document.getElementById('editor-presence');
  var savedNote = document.getElementById('editor-saved');
  var liveUrl = form.dataset.live;

  function names(people) {
    if (people.length <= 2) return people.join(' and ');
    return people.slice(0, -1).join(', ') + ' and ' + people[people.length - 1];
  }

  function showPresence(people, elsewhere) {
    if (!presence) return;
    var parts = [];
    if (people.length) {
      parts.push(names(people) + (people.length === 1 ? ' is' : ' are') + ' editing this ' + form.elements.kind.value + '.');
    }
    if (elsewhere) parts.push('You have it open in another tab too.');
    presence.textContent = parts.join(' ');
    presence.hidden = parts.length === 0;
  }

  function showSaved(m) {
    // This tab's own autosave moves the version too: wait until it's answered, then judge.
    if (saving) { setTimeout(function () { showSaved(m); }, 200); return; }
    if (!savedNote || Number(m.version) <= Number(version.value)) return;
    var who = m.you ? 'You saved this in another tab' : m.name + (m.autosave ? '’s draft was autosaved' : ' saved this');
    savedNote.textContent = who + ' at ' + clock() + '. Saving now will show you both versions first; ' +
      'to start from theirs, copy your text and reload.';
    savedNote.hidden = false;
  }

  function live(retry) {
    if (!liveUrl || !window.WebSocket) return;
    var socket;
    try {
      socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + liveUrl);
    } catch (e) { return; }
    socket.onopen = function () { retry = 1000; };
    socket.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === 'editing') showPresence(m.people || [], m.you_elsewhere);
      else if (m.type === 'saved') showSaved(m);
    };
    socket.onclose = function (e) {
      showPresence([], false);
      if (e.code === 1008 || submitting) return;
      setTimeout(function () { live(Math.min(retry * 2, 60000)); }, retry + Math.random() * 500);
    };
  }
  live(1000);

  // ---- text kept in this browser while the server is out of reach ----
  var LOCAL_PREFIX = 'quire-editor:';
  var localKey = LOCAL_PREFIX + (autosaveUrl || form.action);
  function keepLocal() {
    try {
      localStorage.setItem(localKey, JSON.stringify({
        at: Date.now(), title: value('title'), body: body.value
      }));
      return true;
    } catch (e) { return false; }
  }
  function forgetLocal() {
    try {
      localStorage.removeItem(localKey);
      // A new post's first autosave moved it to its own address.
      localKey = LOCAL_PREFIX + (autosaveUrl || form.action);
      localStorage.removeItem(localKey);
    } catch (e) { /* storage refused: nothing was kept */ }
  }
  (function offerLocal() {
    var note = document.getElementById('editor-local');
    var kept;
    try { kept = JSON.parse(localStorage.getItem(localKey) || 'null'); } catch (e) { kept = null; }
    if (!note || !kept || typeof kept.body !== 'string') return;
    if (kept.body === body.value && kept.title === value('title')) { forgetLocal(); return; }
    var text = document.createElement('p');
    text.textContent = 'This browser kept text from ' + new Date(kept.at).toLocaleString() +
      ' that never reached the server (it was offline).';
    var restore = document.createElement('button');
    restore.type = 'button';
    restore.className = 'button';
    restore.textContent = 'Restore that text';
    var drop = document.createElement('button');
    drop.type = 'button';
    drop.className = 'button secondary';
    drop.textContent = 'Discard it';
    restore.addEventListener('click', function () {
      form.elements.title.value = kept.title || '';
      body.value = kept.body;
      note.hidden = true;
      body.dispatchEvent(new Event('input', { bubbles: true }));
      body.focus();
    });
    drop.addEventListener('click', function () { forgetLocal(); note.hidden = true; });
    note.replaceChildren(text, restore, drop);
    note.hidden = false;
  })();

  // ---- the Markdown toolbar and its shortcuts ----
  var toolbar = document.getElementById('md-toolbar');
  var shortcuts = document.getElementById('md-shortcuts');

  // Replace the selection with `text`, keeping the browser's undo where it can; then select
  // [from, to) of what was inserted.
  function insert(text, from, to) {
    var start = body.selectionStart;
    body.focus();
    var done = false;
    try { done = document.execCommand('insertText', false, text); } catch (e) { done = false; }
    if (!done || body.value.slice(start, start + text.length) !== text) {
      body.setRangeText(text, start, body.selectionEnd, 'end');
      body.dispatchEvent(new Event('input', { bubbles: true }));
    }
    body.setSelectionRange(start + from, start + to);
  }

  // Around the selection: **bold**; with nothing selected, a word to type over.
  function wrap(mark, placeholder, closing) {
    var sel = body.value.slice(body.selectionStart, body.selectionEnd) || placeholder;
    var end = closing === undefined ? mark : closing;
    insert(mark + sel + end, mark.length, mark.length + sel.length);
  }

  // Before each line the selection touches: "## ", "- ", "> ".
  function prefix(mark) {
    var value = body.value;
    var start = value.lastIndexOf('\n', body.selectionStart - 1) + 1;
    var endAt = value.indexOf('\n', body.selectionEnd);
    var end = endAt < 0 ? value.length : endAt;
    body.setSelectionRange(start, end);
    var lines = value.slice(start, end).split('\n').map(function (line) {
      return line.indexOf(mark) === 0 ? line : mark + line;
    }).join('\n');
    insert(lines, lines.length, lines.length);
  }

  var picker = null;
  var formats = {
    bold: function () { wrap('**', 'bold text'); },
    italic: function () { wrap('_', 'italic text'); },
    code: function () {
      var sel = body.value.slice(body.selectionStart, body.selectionEnd);
      if (sel.indexOf('\n') >= 0) wrap('```\n', '', '\n```');
      else wrap('`', 'code');
    },
    link: function () {
      var sel = body.value.slice(body.selectionStart, body.selectionEnd) || 'link text';
      var text = '[' + sel + '](https://)';
      // The address is selected, ready to paste over.
      insert(text, sel.length + 3, text.length - 1);
    },
    heading: function () { prefix('## '); },
    list: function () { prefix('- '); },
    quote: function () { prefix('> '); },
    image: function () {
      if (dialog && form.dataset.library && dialog.showModal) { openLibrary(); return; }
      if (!form.dataset.upload) { wrap('![', 'description', '](/uploads/)'); return; }
      if (!picker) {
        picker = document.createElement('input');
        picker.type = 'file';
        picker.accept = 'image/png,image/jpeg,image/gif,image/webp';
        picker.hidden = true;
        picker.addEventListener('change', function () {
          if (picker.files && picker.files.length) uploadAll(picker.files);
          picker.value = '';
        });
        form.appendChild(picker);
      }
      body.focus();
      picker.click();
    }
  };

  if (toolbar) {
    toolbar.hidden = false;
    toolbar.addEventListener('click', function (e) {
      var button = e.target.closest('button');
      if (!button) return;
      if (button.classList.contains('md-help')) {
        var open = button.getAttribute('aria-expanded') !== 'true';
        button.setAttribute('aria-expanded', String(open));
        if (shortcuts) shortcuts.hidden = !open;
        return;
      }
      var format = formats[button.dataset.md];
      if (format) format();
    });
  }

  var keys = { b: 'bold', i: 'italic', k: 'link', e: 'code' };
  body.addEventListener('keydown', function (e) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
    var format = formats[keys[e.key.toLowerCase()]];
    if (format) { e.preventDefault(); format(); }
  });

  // ---- Ctrl/Cmd+S saves, Ctrl/Cmd+Enter previews ----
  document.addEventListener('keydown', function (e) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    if (e.key === 's' || e.key === 'S') {
      e.preventDefault();
      if (saveButton) form.requestSubmit(saveButton);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      showPane();
    }
  });

  // ---- the Publish button says whether it emails ----
  var publishButton = document.getElementById('publish-button');
  var quiet = form.elements.no_newsletter;
  if (publishButton && quiet) {
    quiet.addEventListener('change', function () {
      publishButton.textContent = quiet.checked ? publishButton.dataset.quiet : publishButton.dataset.loud;
    });
  }

  // ---- images pasted or dropped into the body ----
  function altFor(file) {
    var name = (file.name || '').replace(/\.[^.]*$/, '').replace(/[\[\]\\\r\n\t]+/g, ' ').trim();
    return name || 'image';
  }

  function uploadOne(file) {
    var alt = altFor(file);
    var marker = '![Uploading ' + alt + '…]()';
    // An image is a paragraph of its own: blank lines around it unless there already.
    var start = body.selectionStart;
    var end = body.selectionEnd;
    var before = body.value.slice(Math.max(0, start - 2), start);
    var after = body.value.slice(end, end + 2);
    var lead = start === 0 || before === '\n\n' ? '' : before.slice(-1) === '\n' ? '\n' : '\n\n';
    var trail = after === '\n\n' ? '' : after.charAt(0) === '\n' ? '\n' : '\n\n';
    var inserted = lead + marker + trail;
    body.setRangeText(inserted, start, end, 'end');
    body.setSelectionRange(start + lead.length + marker.length, start + lead.length + marker.length);
    var data = new FormData();
    data.append('csrf_token', csrf);
    data.append('file', file, file.name || 'image');
    say('Uploading ' + alt + '…');
    return fetch(form.dataset.upload, {
      method: 'POST', body: data, credentials: 'same-origin', headers: { Accept: 'application/json' }
    }).then(function (res) {
      var answer = res.ok ? res.json() : refusal(res, 'Not uploaded');
      return answer.then(function (a) { return { ok: res.ok && a.url, answer: a }; });
    }, function () {
      return { ok: false, answer: { error: 'Not uploaded: the server could not be reached.' } };
    }).then(function (result) {
      var at = body.value.indexOf(marker);
      if (at < 0) return; // the author removed the placeholder meanwhile
      if (result.ok) {
        // An image uploaded before may be described in the library already: its words.
        if (result.answer.alt) alt = result.answer.alt.replace(/[\[\]\\]/g, '\\$&');
        var markdown = '![' + alt + '](' + result.answer.url + ')';
        body.setRangeText(markdown, at, at + marker.length, 'preserve');
        body.focus();
        body.setSelectionRange(at + 2, at + 2 + alt.length); // the alt text, ready to retype
        say('Image uploaded: describe it in place of “' + alt + '”.', 'ok');
        body.dispatchEvent(new Event('input', { bubbles: true }));
      } else {
        // Take out the placeholder with the blank lines it brought: the text is as it was,
        // so no change is announced, which would replace the reason with "Unsaved changes".
        var whole = body.value.indexOf(inserted);
        if (whole >= 0) body.setRangeText('', whole, whole + inserted.length, 'preserve');
        else body.setRangeText('', at, at + marker.length, 'preserve');
        say(result.answer.error || 'Not uploaded.', 'error');
      }
    });
  }

  function uploadAll(files) {
    var queue = Array.prototype.slice.call(files);
    (function next() {
      var file = queue.shift();
      if (file) uploadOne(file).then(next);
    })();
  }

  if (form.dataset.upload) {
    body.addEventListener('paste', function (e) {
      var files = e.clipboardData && e.clipboardData.files;
      if (files && files.length) { e.preventDefault(); uploadAll(files); }
    });
    body.addEventListener('dragover', function (e) {
      if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0) {
        e.preventDefault();
        body.classList.add('dropping');
      }
    });
    body.addEventListener('dragleave', function () { body.classList.remove('dropping'); });
    body.addEventListener('drop', function (e) {
      body.classList.remove('dropping');
      var files = e.dataTransfer && e.dataTransfer.files;
      if (files && files.length) { e.preventDefault(); uploadAll(files); }
    });
  }

  // ---- the Image button's dialog: the media library, searched, or a new upload ----
  var dialog = document.getElementById('media-dialog');
  var dialogList = document.getElementById('media-dialog-list');
  var dialogQuery = document.getElementById('media-dialog-q');
  var dialogFile = document.getElementById('media-dialog-file');
  var dialogStatus = document.getElementById('media-dialog-status');
  var listTimer = null;
  var listAsked = 0;

  // Put `markdown` at the cursor as a paragraph of its own, and close the dialog.
  function insertImage(markdown) {
    if (dialog.open) dialog.close();
    var start = body.selectionStart;
    var before = body.value.slice(Math.max(0, start - 2), start);
    var after = body.value.slice(body.selectionEnd, body.selectionEnd + 2);
    var lead = start === 0 || before === '\n\n' ? '' : before.slice(-1) === '\n' ? '\n' : '\n\n';
    var trail = after === '\n\n' ? '' : after.charAt(0) === '\n' ? '\n' : '\n\n';
    insert(lead + markdown + trail, lead.length + 2, lead.length + markdown.indexOf(']('));
    say(markdown.indexOf('![](') === 0
      ? 'Image inserted: describe it between the brackets, or in the media library.'
      : 'Image inserted with its alt text.', 'ok');
  }

  function showImages(images) {
    dialogList.textContent = '';
    images.forEach(function (image) {
      var item = document.createElement('li');
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'media-choice';
      button.dataset.markdown = image.markdown;
      var img = document.createElement('img');
      img.src = image.thumb;
      img.alt = '';
      img.loading = 'lazy';
      if (image.width && image.height) { img.width = image.width; img.height = image.height; }
      var label = document.createElement('span');
      label.textContent = image.alt || image.name;
      button.appendChild(img);
      button.appendChild(label);
      item.appendChild(button);
      dialogList.appendChild(item);
    });
    dialogStatus.textContent = images.length ? images.length + (images.length === 1 ? ' image.' : ' images.')
      : 'No image matches: upload one.';
  }

  function loadImages() {
    var asked = ++listAsked;
    var url = form.dataset.library + '?' + new URLSearchParams({ q: dialogQuery.value.trim() });
    dialogStatus.textContent = 'Loading…';
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (res) { if (!res.ok) throw new Error(String(res.status)); return res.json(); })
      .then(function (answer) { if (asked === listAsked) showImages(answer.images || []); },
        function () { if (asked === listAsked) dialogStatus.textContent = 'The library could not be loaded.'; });
  }

  function openLibrary() {
    dialog.showModal();
    dialogQuery.focus();
    loadImages();
  }

  if (dialog && form.dataset.library) {
    dialogList.addEventListener('click', function (e) {
      var choice = e.target.closest('button.media-choice');
      if (choice) insertImage(choice.dataset.markdown);
    });
    dialogQuery.addEventListener('input', function () {
      clearTimeout(listTimer);
      listTimer = setTimeout(loadImages, 250);
    });
    dialogQuery.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') { e.preventDefault(); clearTimeout(listTimer); loadImages(); }
    });
    dialogFile.addEventListener('change', function () {
      var file = dialogFile.files && dialogFile.files[0];
      if (!file) return;
      var data = new FormData();
      data.append('csrf_token', csrf);
      data.append('file', file, file.name || 'image');
      dialogStatus.textContent = 'Uploading ' + (file.name || 'the image') + '…';
      fetch(form.dataset.upload, {
        method: 'POST', body: data, credentials: 'same-origin', headers: { Accept: 'application/json' }
      }).then(function (res) {
        return (res.ok ? res.json() : refusal(res, 'Not uploaded')).then(function (a) { return { ok: res.ok && a.url, answer: a }; });
      }, function () {
        return { ok: false, answer: { error: 'Not uploaded: the server could not be reached.' } };
      }).then(function (result) {
        dialogFile.value = '';
        if (result.ok) insertImage(result.answer.markdown || '![](' + result.answer.url + ')');
        else dialogStatus.textContent = result.answer.error || 'Not uploaded.';
      });
    });
  }

  // ---- Write / Preview on narrow screens ----
  if (pane) pane.hidden = false;
  function showing(what) {
    form.dataset.show = what;
    if (tabs) {
      Array.prototype.forEach.call(tabs.querySelectorAll('button[data-show]'), function (b) {
        b.setAttribute('aria-pressed', String(b.dataset.show === what));
      });
    }
    if (what === 'preview') preview();
  }
  if (tabs) {
    tabs.hidden = false;
    tabs.addEventListener('click', function (e) {
      var button = e.target.closest('button[data-show]');
      if (button) showing(button.dataset.show);
    });
  }
  // On narrow screens, where the live pane hides behind its tab, the bar's Preview (and
  // Ctrl/Cmd+Enter) shows it instead of reloading the page; on wide ones the pane is beside
  // the text already, and Preview renders the whole post below the form, as without the
  // script.
  var narrow = window.matchMedia('(max-width: 63.99rem)');
  function showPane() {
    if (!pane) return;
    if (narrow.matches) showing('preview');
    else preview();
    pane.scrollIntoView({ block: 'nearest' });
    pane.focus({ preventScroll: true });
  }
  var previewButton = document.getElementById('preview-button');
  if (previewButton && pane) {
    previewButton.addEventListener('click', function (e) {
      if (!narrow.matches) return;
      e.preventDefault();
      showPane();
    });
  }

  // Where the save stands when the page opens.
  if (/[?&]saved=1/.test(location.search)) say('Saved{ago}', 'ok', Date.now());
  else if (form.elements.version.value) say('No unsaved changes', 'ok');

  recount();
  if (body.value.trim() !== '') preview();
})();
