// The media library's picker under every image field (templates/macros_form.html
// `image_field`). Without this script the radio buttons are the picker: the server takes a
// picked image over the typed address (`media::chosen`). With it, picking fills the text
// field at once, and typing an address goes back to "keep the address typed above", so the
// field always says what will be saved.
(function () {
  'use strict';
  var fields = document.querySelectorAll('[data-image-field]');
  Array.prototype.forEach.call(fields, function (field) {
    var text = field.querySelector('input[type=text]');
    var keep = field.querySelector('.pick-keep input[type=radio]');
    if (!text || !keep) return;
    field.addEventListener('change', function (e) {
      var radio = e.target;
      if (radio.type !== 'radio' || !radio.dataset.url) return;
      text.value = radio.dataset.url;
      text.dispatchEvent(new Event('input', { bubbles: true }));
      // The text field now holds the pick: what is typed next is the address again.
      radio.checked = false;
      keep.checked = true;
      var details = field.querySelector('details');
      if (details) details.open = false;
      text.focus();
    });
  });
})();
