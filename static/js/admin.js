// The admin's small enhancements; every screen works without them.
// A colour picker beside each hex field (`data-color-for`): the text field stays the value
// the form sends, the picker writes into it and follows it.
for (const picker of document.querySelectorAll('input[type=color][data-color-for]')) {
  const field = document.getElementById(picker.dataset.colorFor);
  if (!field) continue;
  const hex = /^#[0-9a-f]{6}$/i;
  const follow = () => { if (hex.test(field.value.trim())) picker.value = field.value.trim().toLowerCase(); };
  follow();
  picker.hidden = false;
  picker.addEventListener('input', () => { field.value = picker.value; });
  field.addEventListener('input', follow);
}
