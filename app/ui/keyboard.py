"""Keyboard judging (passed to Gradio as head= by app/server.py; the page style is app/ui/style.py).

Keys act from any focus on the page except a text box: digit and Enter work with the focus on
the context header, a tab, a checkbox, an answer pane or the radio group. Enter keeps its own
action only on links and on real buttons (Revise, Log out). Keys typed into a text box stay
text, except Ctrl+Enter, which submits from the rationale / comment box and hands the focus back
to the page. Pairwise: 1-4 pick the choice, E / R flag answer A / B as evasive, Enter submits,
U revises the last judgment, C opens "Cannot judge" (there 1-4 pick a reason, Enter
skips, Escape closes: it is a form in the action bar, opened and closed here without a round
trip), H opens "My judgments" (arrow keys choose, Enter opens one to revise). Rating: digit n (0 for the 10th) picks the n-th option of the
focused criterion and moves focus to the next criterion; Enter submits when every required
criterion (and a required comment) is answered, and otherwise moves focus to the first one
still open. While a submit is in flight, keys are ignored and the action bar says so.
A new unit (the progress bar's data-pair changes) starts at its top: the page scrolls back to
the question if it was below it, every text pane to its start, and the focus goes to the page.
Session loss (the queue answers 401/403): a login dialog opens over the screen, which keeps
everything entered; after logging in, Submit again saves it (the pair token names the unit).
Another user logging in through that dialog gets a fresh page of their own, which says that the
previous user's unsent entry was discarded.
"""


KEYBOARD_JS = """
<script>
(() => {
  const shown = (el) => !!el && el.getClientRects().length > 0;
  const editable = (t) => t && (t.isContentEditable ||
    ((t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button'].includes(t.type)))
      && !t.readOnly && !t.disabled));
  // Controls whose own Enter action must win over the page's Enter: links and real buttons. An
  // accordion header (the context), a tab, a checkbox or a radio is not one: there Enter submits.
  const control = (t) => {
    const own = t && t.closest && t.closest('a[href], select, button, [role="button"]');
    return !!own && !own.closest('.label-wrap, [role="tab"], [role="tablist"], #context_accordion, #guidelines_accordion');
  };
  const radios = (group) => [...group.querySelectorAll('input[type="radio"]')];
  const answered = (group) => radios(group).some((r) => r.checked);
  const focusGroup = (group) => { const r = radios(group); (r.find((x) => x.checked) || r[0])?.focus(); };
  // Anywhere on the judging page, except inside the study list and the login dialog.
  const onPage = (t) => !t || !t.closest || !t.closest('#study_picker, #research_picker, .options, #relogin');

  let busy = null;  // {status, since} while a submit is in flight
  const note = (text) => { document.querySelectorAll('.key-note').forEach((n) => { n.textContent = text; }); };
  const statusText = () => [...document.querySelectorAll('#status, #notice')].map((s) => s.innerText).join('|');
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
    if (ev.target.closest && ev.target.closest('#submit, #rating_submit, #skip_confirm')) startBusy();
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

  // Side trips, both kinds: C opens Cannot judge, H opens My judgments.
  function sideTrip(ev) {
    if (ev.key === 'c' || ev.key === 'C') {
      const open = [...document.querySelectorAll('#skip_open, #rating_skip_open')].find(shown);
      if (open) skipForm(true);
      return !!open;
    }
    if (ev.key === 'h' || ev.key === 'H') return openHistory();
    return false;
  }
  const skipButtons = () => document.querySelectorAll('#skip_open, #rating_skip_open');
  const skipOpen = () => document.querySelector('#action_bar')?.getAttribute('data-skip') === 'open';
  function skipForm(open) {
    document.querySelector('#action_bar')?.setAttribute('data-skip', open ? 'open' : 'closed');
    skipButtons().forEach((b) => { b.setAttribute('aria-expanded', String(open)); b.setAttribute('aria-controls', 'skip_form'); });
    if (open) {
      const start = Date.now();
      const focusReason = () => {
        const group = document.querySelector('#skip_reason');
        if (group && shown(group)) { focusGroup(group); group.scrollIntoView({block: 'nearest'}); }
        else if (Date.now() - start < 2000) requestAnimationFrame(focusReason);
      };
      requestAnimationFrame(focusReason);
    } else if (document.activeElement && document.activeElement.closest('#skip_form')) {
      document.activeElement.blur();  // back to the page: its keys act again
    }
  }
  window.medalignSkipForm = skipForm;
  function openHistory() {
    const header = document.querySelector('#history_accordion .label-wrap');
    if (!header || !shown(header)) return false;
    if (!header.classList.contains('open')) header.click();  // opening it reads the list afresh
    const start = Date.now();
    const focusList = () => {
      const all = radios(document.querySelector('#history_list') || document.createElement('div'));
      if (all.length) { const r = all.find((x) => x.checked) || all[0]; r.focus(); r.scrollIntoView({block: 'nearest'}); }
      else if (Date.now() - start < 5000) setTimeout(focusList, 100);
    };
    setTimeout(focusList, 100);
    return true;
  }
  // Keys inside the Cannot judge form and the My judgments list are theirs, not the page's.
  function sideTripKey(ev) {
    if (ev.target.closest('#skip_form')) {
      if (ev.key === 'Escape') { skipForm(false); return true; }
      if (ev.key === 'Enter' && !control(ev.target)) { document.querySelector('#skip_confirm').click(); return true; }
      const pick = radios(document.querySelector('#skip_reason'))[Number(ev.key) - 1];
      if (/^[1-9]$/.test(ev.key) && !editable(ev.target) && pick) { pick.click(); pick.focus(); return true; }
      return false;
    }
    if (ev.target.closest('#history_list') && ev.key === 'Enter') {
      document.querySelector('#history_open').click();
      return true;
    }
    return false;
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
    if (shown(pairSubmit)) { ev.target.blur(); pairSubmit.click(); return true; }
    const comment = document.querySelector('#free_text');
    if (shown(comment)) { ev.target.blur(); return rating({key: 'Enter'}); }
    return false;
  }

  // Side by side, both answers fit between their top (page not scrolled) and the fixed bar.
  function fitAnswers() {
    const pane = document.querySelector('#answers .prose'), bar = document.querySelector('.action-bar');
    if (!pane || !shown(pane) || !bar) return;
    const top = pane.getBoundingClientRect().top + window.scrollY;
    const below = document.querySelector('#evasive_a')?.offsetHeight || 40;
    const room = Math.max(140, Math.floor(window.innerHeight - bar.offsetHeight - top - below - 24)) + 'px';
    if (document.documentElement.style.getPropertyValue('--answer-room') !== room) {
      document.documentElement.style.setProperty('--answer-room', room);
    }
  }
  window.addEventListener('resize', fitAnswers);

  // Arrow keys move within a radio group whatever names Gradio gives its inputs (it renames the
  // checked one on each update).
  const arrows = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1};
  function moveInGroup(ev) {
    const group = ev.target.closest && ev.target.closest('#choice, [id^="criterion_"], #skip_reason, #history_list');
    if (!group || ev.target.type !== 'radio' || !(ev.key in arrows)) return false;
    const all = radios(group), at = all.indexOf(ev.target);
    const next = all[(at + arrows[ev.key] + all.length) % all.length];
    next.click(); next.focus();
    return true;
  }

  document.addEventListener('keydown', (ev) => {
    if (ev.repeat || ev.isComposing) return;
    if (moveInGroup(ev)) { ev.preventDefault(); ev.stopPropagation(); return; }
    if (ev.target.closest && ev.target.closest('#skip_form, #history_accordion')) {
      if (!(ev.ctrlKey || ev.metaKey || ev.altKey) && sideTripKey(ev)) { ev.preventDefault(); ev.stopPropagation(); }
      return;  // any other key there is the control's own (text in the note, the list's header)
    }
    if (ev.key === 'Escape' && skipOpen()) { skipForm(false); return; }
    if (editable(ev.target)) { if (ctrlEnter(ev)) { ev.preventDefault(); ev.stopPropagation(); } return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (!onPage(ev.target)) return;
    if (ev.key === 'Enter' && control(ev.target)) return;  // the control's own action
    const pairs = shown(document.querySelector('#submit')), rates = shown(document.querySelector('#rating_submit'));
    if (!pairs && !rates) {  // the end screen: My judgments still opens
      if ((ev.key === 'h' || ev.key === 'H') && openHistory()) { ev.preventDefault(); ev.stopPropagation(); }
      return;
    }
    if (stillBusy()) {
      if (ev.key.length === 1 || ev.key === 'Enter') {
        note('Saving: key ignored, press it again in a moment'); ev.preventDefault(); ev.stopPropagation();
      }
      return;
    }
    let handled = sideTrip(ev);
    if (handled) {
      // C or H: nothing else
    } else if (pairs) {
      const el = pairwise(ev);
      if (el) { el.click(); handled = true; }
    } else {
      handled = rating(ev);
    }
    // Captured and stopped: a control's own key handler (Gradio's checkbox toggles on Enter) must
    // not act on a key the page used.
    if (handled) { ev.preventDefault(); ev.stopPropagation(); }
  }, true);

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
    // The page's bottom padding and scroll padding follow the fixed bar's real height.
    const bar = document.querySelector('.action-bar');
    const height = bar && shown(bar) ? bar.offsetHeight + 'px' : '0px';
    if (document.documentElement.style.getPropertyValue('--bar-height') !== height) {
      document.documentElement.style.setProperty('--bar-height', height);
    }
    fitAnswers();
    // Text panes: a named, focusable region (it scrolls by itself, so the keyboard must reach it).
    document.querySelectorAll('.block.shown-text[id]').forEach((block) => {
      const pane = block.querySelector('.prose');
      if (!pane || pane.getAttribute('role') === 'region') return;
      pane.setAttribute('role', 'region');
      pane.setAttribute('tabindex', '0');
      pane.setAttribute('aria-labelledby', block.id + '_label');
    });
    document.querySelectorAll('#choice, [id^="criterion_"], #skip_reason, #history_list').forEach((group) => {
      const inputs = radios(group);
      if (!inputs.length) return;
      inputs.forEach((r) => { if (r.name !== group.id) r.name = group.id; });
      const box = inputs[0].closest('fieldset') || group;
      if (box.getAttribute('role') !== 'radiogroup') box.setAttribute('role', 'radiogroup');
      // The group's name is its visible question (Gradio draws it as a span, not a legend).
      const title = group.querySelector('[data-testid="block-info"], .block-info, legend, label > span');
      const name = title ? title.textContent.trim() : '';
      if (name && box.getAttribute('aria-label') !== name) box.setAttribute('aria-label', name);
    });
  }
  new MutationObserver(() => {
    if (busy) stillBusy();  // a reply (new status, or an error / warning toast) ends the in-flight state
    if (!pending) { pending = true; requestAnimationFrame(() => { oneGroupEach(); newPair(); }); }
  })
    .observe(document.documentElement, {childList: true, subtree: true});

  // A new unit starts at its top, with the focus on the page (not in the rationale).
  let lastPair = null;
  function newPair() {
    const pair = document.querySelector('progress[data-pair]')?.dataset.pair || '';
    if (pair === lastPair) return;
    if (skipOpen()) skipForm(false);  // a new unit (or the end): the form closes
    const first = lastPair === null;
    lastPair = pair;
    if (first || !pair) return;
    busy = null; note('');
    const active = document.activeElement;
    // The focus goes back to the page (from a tab, the context header, the rationale, ...), but a
    // text box outside the pair (the study list) keeps it.
    if (active && active !== document.body && !(editable(active) && !active.closest('#work'))) active.blur();
    document.querySelectorAll('.shown-text').forEach((pane) => { pane.scrollTop = 0; });
    const work = document.querySelector('#work');
    if (work) {
      const top = work.getBoundingClientRect().top + window.scrollY - 8;
      if (window.scrollY > top) window.scrollTo(0, top);
    }
  }

  // Session loss: Gradio's queue answers 401/403 (idle timeout, password changed, session ended).
  // The screen stays as it is, with everything entered; a dialog logs in again in place. Someone
  // else logging in there (a shared ward computer) gets a fresh page of their own instead: the
  // entry on screen is the previous user's, never to be shown to or submitted as anyone else (it
  // was only ever in this browser, so nothing stored is lost), and the new page says so.
  const HANDED_OVER = 'medalign-handed-over';
  const pageUser = () => (document.querySelector('#whoami input, #whoami textarea')?.value || '')
    .replace(/ [(]researcher[)]$/, '').trim();
  function handedOverNote() {
    let flag = null;
    try { flag = sessionStorage.getItem(HANDED_OVER); sessionStorage.removeItem(HANDED_OVER); } catch (e) { /* none */ }
    if (!flag) return;
    const banner = document.createElement('p');
    banner.id = 'handed_over'; banner.setAttribute('role', 'status');
    banner.textContent = "The previous user's unsent entry on this screen was discarded, not saved. " +
      'This is your own screen.';
    const ok = document.createElement('button');
    ok.type = 'button'; ok.textContent = 'OK'; ok.addEventListener('click', () => banner.remove());
    banner.append(' ', ok);
    document.body.prepend(banner);
  }
  if (document.body) handedOverNote(); else document.addEventListener('DOMContentLoaded', handedOverNote);
  function handOver(dialog) {
    // The pending submits are never sent again; the previous screen is hidden, then replaced.
    document.querySelector('gradio-app, .gradio-container')?.style.setProperty('visibility', 'hidden');
    dialog.querySelector('form')?.remove();
    dialog.querySelector('p').textContent = 'Logged in. Opening your own screen; the unsent entry of the previous user is discarded.';
    try { sessionStorage.setItem(HANDED_OVER, '1'); } catch (e) { /* the new page then says nothing */ }
    location.replace('/');
  }
  // Gradio closes its event stream when the page unloads (reload, log out, the hand-over above)
  // and, if a reply was still streaming, logs the abort it caused itself as errors (the abort, then
  // "Unexpected error", "Connection errored out."). Only those, once the page is going away, are
  // dropped; every other error is logged as before.
  let unloading = false;
  window.addEventListener('beforeunload', () => { unloading = true; });  // registered before Gradio's
  const logError = console.error.bind(console);
  const ownAbort = (args) => args.some((a) => a && a.name === 'AbortError') ||
    (args[0] === 'Unexpected error' && /^Connection errored out/.test(String(args[1])));
  console.error = (...args) => { if (!(unloading && ownAbort(args))) logError(...args); };
  let loggedIn = null;  // while the dialog is open: a promise that resolves once logged in again
  function relogin() {
    if (loggedIn) return loggedIn;
    const owner = pageUser();
    let resolveLoggedIn;
    loggedIn = new Promise((resolve) => { resolveLoggedIn = resolve; });
    const dialog = document.createElement('dialog');
    dialog.id = 'relogin';
    dialog.setAttribute('aria-labelledby', 'relogin_title');
    const title = document.createElement('h2');
    title.id = 'relogin_title';
    title.textContent = 'Your session ended';
    const text = document.createElement('p');
    text.textContent = 'You were logged out (after a time without activity, or your account was changed). ' +
      'Nothing on this screen is lost: log in again here, and what you sent is then saved. ' +
      'Someone else logging in here gets their own screen, and the entry on this one is discarded.';
    const form = document.createElement('form');
    const field = (label, name, type, auto) => {
      const l = document.createElement('label'); l.textContent = label;
      const i = document.createElement('input'); i.name = name; i.type = type; i.autocomplete = auto; i.required = true;
      l.appendChild(i); form.appendChild(l); return i;
    };
    const user = field('username', 'username', 'text', 'username');
    user.value = owner;
    const password = field('password', 'password', 'password', 'current-password');
    const error = document.createElement('p'); error.className = 'relogin-error'; error.setAttribute('role', 'alert');
    const button = document.createElement('button'); button.type = 'submit'; button.textContent = 'Log in';
    form.append(error, button);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      let response = null;
      try {
        response = await realFetch('/login', {method: 'POST', body: new FormData(form), credentials: 'same-origin'});
      } catch (e) { /* no answer: said below */ }
      if (response && response.ok && user.value.trim() !== owner) { handOver(dialog); return; }
      if (response && response.ok) {
        dialog.close(); dialog.remove(); loggedIn = null; note('');
        resolveLoggedIn();
        return;
      }
      let detail = 'The server did not answer; try again in a moment.';
      try { if (response) detail = (await response.json()).detail || detail; } catch (e) { /* keep */ }
      error.textContent = detail; password.value = ''; password.focus();
    });
    dialog.append(title, text, form);
    document.body.appendChild(dialog);
    dialog.addEventListener('cancel', (ev) => ev.preventDefault());  // Escape would strand the pending submit
    dialog.showModal();
    (user.value ? password : user).focus();
    return loggedIn;
  }
  const realFetch = window.fetch.bind(window);
  // A request refused for want of a session waits for the login, then goes again: Gradio never
  // sees the refusal, so no component turns into an error and the submit completes.
  window.fetch = async (...args) => {
    const url = String(args[0] && args[0].url || args[0]);
    const retry = url.includes('/gradio_api/') && typeof args[0] === 'string';
    const response = await realFetch(...args);
    if (retry && (response.status === 401 || response.status === 403)) {
      note('Not saved yet: your session ended. Log in again; what you entered is kept.');
      await relogin();
      return realFetch(...args);
    }
    return response;
  };
})();
</script>
"""

