"""Keyboard judging and the page style (passed to Gradio as head= and css= by app/server.py).

Pairwise: 1-4 pick the choice, E / R flag answer A / B as evasive, Enter submits.
Rating: digit n (0 for the 10th) picks the n-th option of the focused criterion and moves focus
to the next criterion; Enter submits when every required criterion (and a required comment) is
answered, and otherwise moves focus to the first one still open. Keys typed into a text box are left alone.
"""

KEYBOARD_JS = """
<script>
(() => {
  const shown = (el) => !!el && el.getClientRects().length > 0;
  const editable = (t) => t && (t.isContentEditable ||
    ((t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button'].includes(t.type)))
      && !t.readOnly && !t.disabled));
  const radios = (group) => [...group.querySelectorAll('input[type="radio"]')];
  const answered = (group) => radios(group).some((r) => r.checked);
  const focusGroup = (group) => { const r = radios(group); (r.find((x) => x.checked) || r[0])?.focus(); };

  function pairwise(key) {
    const picks = {'1': 0, '2': 1, '3': 2, '4': 3};
    if (key in picks) return radios(document.querySelector('#choice'))[picks[key]];
    if (key === 'e' || key === 'E') return document.querySelector('#evasive_a input');
    if (key === 'r' || key === 'R') return document.querySelector('#evasive_b input');
    if (key === 'Enter') return document.querySelector('#submit');
    return null;
  }

  function rating(ev) {
    const groups = [...document.querySelectorAll('[id^="criterion_"]')].filter(shown);
    if (!groups.length) return false;
    if (ev.key === 'Enter') {
      const open = groups.find((g) => g.classList.contains('required') && !answered(g));
      if (open) { focusGroup(open); return true; }
      const comment = document.querySelector('#free_text.required textarea');
      if (shown(comment) && !comment.value.trim()) { comment.focus(); return true; }
      document.activeElement?.blur();  // the next answer starts at its first criterion
      document.querySelector('#rating_submit').click();
      return true;
    }
    if (!/^[0-9]$/.test(ev.key)) return false;
    let at = groups.findIndex((g) => g.contains(document.activeElement));
    if (at < 0) at = Math.max(0, groups.findIndex((g) => !answered(g)));
    const option = radios(groups[at])[ev.key === '0' ? 9 : Number(ev.key) - 1];
    if (!option) return true;
    option.click();
    focusGroup(groups[Math.min(at + 1, groups.length - 1)]);
    return true;
  }

  document.addEventListener('keydown', (ev) => {
    if (editable(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
    let handled = false;
    if (shown(document.querySelector('#submit'))) {
      const el = pairwise(ev.key);
      if (el) { el.click(); handled = true; }
    } else if (shown(document.querySelector('#rating_submit'))) {
      handled = rating(ev);
    }
    if (handled) ev.preventDefault();
  });
})();
</script>
"""

CSS = """
#answers { gap: 16px; }
#answers > div { min-width: 320px; }
.medalign-progress { width: 100%; height: 14px; }
[id^="criterion_"]:focus-within { outline: 3px solid #2563eb; outline-offset: 2px; }
"""
