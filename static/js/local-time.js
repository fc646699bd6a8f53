// Progressive enhancement for the editor's schedule field: the server sends UTC; this shows
// and sends the reader's local time instead, with the offset in a hidden field so the server
// can convert back. Without JavaScript the field simply stays in UTC, and says so.
(function () {
  var offsetField = document.getElementById('tz_offset');
  var input = document.getElementById('publish_at');
  if (!offsetField || !input) return;
  var zone = document.getElementById('publish_at_zone');
  var offset = new Date().getTimezoneOffset(); // minutes: UTC minus local
  if (offsetField.value === '') {
    // A fresh page: the value is UTC; show it in local time.
    if (input.value) {
      var utc = new Date(input.value + ':00Z');
      if (!isNaN(utc)) {
        var local = new Date(utc.getTime() - offset * 60000);
        input.value = local.toISOString().slice(0, 16);
      }
    }
    offsetField.value = String(offset);
  }
  if (zone) {
    var name = Intl.DateTimeFormat().resolvedOptions().timeZone;
    zone.textContent = name ? 'your time (' + name + ')' : 'your local time';
  }
})();
