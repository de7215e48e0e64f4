"""Keyboard judging and the page style (passed to Gradio as head= and css= by app/server.py).

Keys act only when focus is on the page itself or inside the judging area (#work); Enter on a
button, link, accordion header or checkbox does what that control does. Keys typed into a text
box stay text, except Ctrl+Enter, which submits from the rationale / comment box.
Pairwise: 1-4 pick the choice, E / R flag answer A / B as evasive, Enter submits, U revises the
last judgment. Rating: digit n (0 for the 10th) picks the n-th option of the focused criterion
and moves focus to the next criterion; Enter submits when every required criterion (and a
required comment) is answered, and otherwise moves focus to the first one still open.
While a submit is in flight, keys are ignored and the action bar says so (a key meant for the
next pair must not land on the one being saved).
Session loss (the queue answers 401/403, or the login page comes back): the page goes to
/login?expired=1&study=<study>, which says so and brings the physician back to that study.
"""

KEYBOARD_JS = """
<script>
(() => {
  const shown = (el) => !!el && el.getClientRects().length > 0;
  const editable = (t) => t && (t.isContentEditable ||
    ((t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button'].includes(t.type)))
      && !t.readOnly && !t.disabled));
  // Controls whose own Enter action must win over the page's Enter.
  const control = (t) => !!t && !!t.closest &&
    !!t.closest('button, a[href], summary, select, [role="button"], [role="tab"], input[type="checkbox"]');
  const radios = (group) => [...group.querySelectorAll('input[type="radio"]')];
  const answered = (group) => radios(group).some((r) => r.checked);
  const focusGroup = (group) => { const r = radios(group); (r.find((x) => x.checked) || r[0])?.focus(); };
  const onPage = (t) => !t || t === document.body || t === document.documentElement ||
    !!(t.closest && t.closest('#work, .action-bar'));

  let busy = null;  // {status, since} while a submit is in flight
  const note = (text) => { document.querySelectorAll('.key-note').forEach((n) => { n.textContent = text; }); };
  const statusText = () => [...document.querySelectorAll('#status')].map((s) => s.innerText).join('|');
  function startBusy() { busy = {status: statusText(), since: Date.now()}; }
  function stillBusy() {
    if (!busy) return false;
    // The reply changed the status line, an error toast came, or 15 s passed: not in flight any more.
    if (statusText() !== busy.status || document.querySelector('.toast-body') || Date.now() - busy.since > 15000) {
      busy = null; note('');
      return false;
    }
    return true;
  }
  document.addEventListener('click', (ev) => {
    if (ev.target.closest && ev.target.closest('#submit, #rating_submit')) startBusy();
  }, true);

  function pairwise(ev) {
    const key = ev.key, picks = {'1': 0, '2': 1, '3': 2, '4': 3};
    if (key in picks) return radios(document.querySelector('#choice'))[picks[key]];
    if (key === 'e' || key === 'E') return document.querySelector('#evasive_a input');
    if (key === 'r' || key === 'R') return document.querySelector('#evasive_b input');
    if (key === 'u' || key === 'U') return shown(document.querySelector('#revise')) ? document.querySelector('#revise') : null;
    if (key === 'Enter') return document.querySelector('#submit');
    return null;
  }

  function rating(ev) {
    const groups = [...document.querySelectorAll('[id^="criterion_"]')].filter(shown);
    if (!groups.length) return false;
    if (ev.key === 'u' || ev.key === 'U') {
      const revise = document.querySelector('#rating_revise');
      if (shown(revise)) { revise.click(); return true; }
      return false;
    }
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

  function ctrlEnter(ev) {
    // Ctrl+Enter in the rationale / comment box submits; any other key there is text.
    if (ev.key !== 'Enter' || !(ev.ctrlKey || ev.metaKey)) return false;
    if (!ev.target.closest('#rationale, #free_text')) return false;
    const pairSubmit = document.querySelector('#submit');
    if (shown(pairSubmit)) { pairSubmit.click(); return true; }
    const comment = document.querySelector('#free_text');
    if (shown(comment)) { ev.target.blur(); return rating({key: 'Enter'}); }
    return false;
  }

  document.addEventListener('keydown', (ev) => {
    if (ev.repeat || ev.isComposing) return;
    if (editable(ev.target)) { if (ctrlEnter(ev)) ev.preventDefault(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (!onPage(ev.target)) return;
    if (ev.key === 'Enter' && control(ev.target)) return;  // the control's own action
    const pairs = shown(document.querySelector('#submit')), rates = shown(document.querySelector('#rating_submit'));
    if (!pairs && !rates) return;
    if (stillBusy()) {
      if (ev.key.length === 1 || ev.key === 'Enter') { note('Saving: key ignored, press it again in a moment'); ev.preventDefault(); }
      return;
    }
    let handled = false;
    if (pairs) {
      const el = pairwise(ev);
      if (el) { el.click(); handled = true; }
    } else {
      handled = rating(ev);
    }
    if (handled) ev.preventDefault();
  });

  // A study picker's list closes when focus leaves it (Tab away), as a native select's does.
  document.addEventListener('focusout', (ev) => {
    const picker = ev.target.closest && ev.target.closest('#study_picker, #research_picker');
    if (!picker || picker.contains(ev.relatedTarget)) return;
    ev.target.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
    ev.target.dispatchEvent(new Event('blur'));
  }, true);

  // Gradio names each radio input on its own, so arrow keys do not move within the four choices
  // (or a criterion's options): give every group one name, and the radiogroup role.
  let pending = false;
  function oneGroupEach() {
    pending = false;
    document.querySelectorAll('#choice, [id^="criterion_"]').forEach((group) => {
      const inputs = radios(group);
      if (!inputs.length) return;
      inputs.forEach((r) => { if (r.name !== group.id) r.name = group.id; });
      const box = inputs[0].closest('fieldset') || group;
      if (box.getAttribute('role') !== 'radiogroup') box.setAttribute('role', 'radiogroup');
    });
  }
  new MutationObserver(() => {
    if (busy) stillBusy();  // a reply (new status, or an error / warning toast) ends the in-flight state
    if (!pending) { pending = true; requestAnimationFrame(oneGroupEach); }
  })
    .observe(document.documentElement, {childList: true, subtree: true});

  // Session loss: Gradio's queue answers 401/403 (cookie expired, server restarted with new
  // tokens). Say so on the login page and come back to the same study.
  const studyName = () => document.querySelector('[data-study]')?.dataset.study || '';
  const goLogin = () => {
    if (window.__medalignExpired) return;
    window.__medalignExpired = true;
    const study = studyName();
    window.location.assign('/login?expired=1' + (study ? '&study=' + encodeURIComponent(study) : ''));
  };
  const realFetch = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const response = await realFetch(...args);
    const url = String(args[0] && args[0].url || args[0]);
    if ((response.status === 401 || response.status === 403) && url.includes('/gradio_api/')) goLogin();
    return response;
  };
})();
</script>
"""

CSS = """
#answers { gap: 16px; }
#answers > div { min-width: 280px; }
.medalign-progress { width: 100%; height: 14px; }
[id^="criterion_"]:focus-within { outline: 3px solid #2563eb; outline-offset: 2px; }
/* The choice and Submit stay in view at any scroll position, phone included. */
.action-bar { position: fixed !important; left: 0; right: 0; bottom: 0; z-index: 50; margin: 0 !important;
  padding: 8px 16px !important; background: var(--background-fill-primary, #fff);
  border-top: 1px solid var(--border-color-primary, #ccc); box-shadow: 0 -2px 8px rgba(0,0,0,.12); }
.action-bar, .action-bar .row, .action-bar .column { gap: 4px !important; }
.action-bar .block, .action-bar .form, .action-bar fieldset, .action-bar .html-container, .action-bar .prose {
  border: 0 !important; box-shadow: none !important; padding: 0 !important; margin: 0 !important; min-height: 0 !important; }
.action-bar #choice label { padding: 4px 10px !important; }
.action-bar #status, .action-bar #progress { min-width: 0 !important; }
.action-bar .where { font-size: .85em; }
.action-bar button { min-width: 0 !important; }
.gradio-container { padding-bottom: 200px !important; }
.key-note { color: #b45309; font-size: .9em; }
.key-note:empty { display: none; }
#status { font-weight: 600; }
/* Dashboard charts side by side on a desktop, one under the other on a phone. */
#research_timeline, #research_chart { flex: 1 1 320px !important; min-width: min(100%, 320px) !important; }
@media (max-width: 600px) {
  .action-bar { padding: 4px 8px !important; }
  .action-bar label span { font-size: .9em; }
  #answers > div { min-width: 0; }
}
"""
