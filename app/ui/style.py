"""The page style (passed to Gradio as css= by app/server.py).

Judging at 1440x900: the question, the context (open or not) and both answers fit above the
fixed action bar, because every text sits in its own pane of bounded height that scrolls by
itself. On a phone the answers stack, each pane fits between the top of the window and the
bar, and `scroll-padding-bottom` keeps anything scrolled or tabbed to above the bar. Colours
meet WCAG 2.2 AA (text >= 4.5:1), every control shows a focus outline, and on a phone every
control is at least 44 px tall.
"""

CSS = """
:root { --bar-height: 96px; --focus: #1d4ed8; }
html { scroll-padding-bottom: calc(var(--bar-height) + 8px); }
.gradio-container { padding-bottom: calc(var(--bar-height) + 24px) !important; }
.app-title { font-size: 1.3rem; font-weight: 700; margin: 0; line-height: 1.3;
  word-break: normal; overflow-wrap: normal; hyphens: manual; }
#top_row { align-items: center; gap: 8px; }
/* Labels beside their field: the header and the study row take one line each. */
#whoami, #study_picker { padding: 2px 8px !important; }
#whoami label, #study_picker label { display: flex !important; align-items: center; gap: 8px; }
#whoami [data-testid="block-info"], #study_picker [data-testid="block-info"] { margin: 0 !important; white-space: nowrap; }
#whoami input, #whoami textarea { padding: 2px 6px !important; }
#study_picker .wrap { flex: 1 1 auto; }
#study_row { align-items: flex-start; gap: 8px; }
#study_row > * { flex: 1 1 280px !important; }

/* Texts: readable text in panes of bounded height that scroll by themselves. */
.pane-label { font: 600 .95rem/1.3 var(--font, system-ui, sans-serif) !important; font-variant: normal !important;
  margin: 0; color: #1f2937; }
.pane-label-block, .pane-label-block * { min-height: 0 !important; padding: 0 !important; margin: 0 !important; }
.pane-label-block:has(.visually-hidden) { position: absolute !important; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
.block.shown-text { border: 0 !important; padding: 0 !important; background: none !important; overflow: visible !important; }
.prose.shown-text { overflow-y: auto; overflow-wrap: anywhere; line-height: 1.5; font-size: 1rem !important;
  color: #111827; background: #fff; border: 1px solid #9ca3af; border-radius: 6px; padding: 6px 10px; }
.prose.shown-text p { margin: 0 0 .5em !important; }
.prose.shown-text p:last-child { margin-bottom: 0 !important; }
#question .prose { max-height: 10vh; }
#context .prose { max-height: 20vh; }
#answers .prose { max-height: var(--answer-room, 40vh); min-height: 3em; }
#answer .prose { max-height: 30vh; }
#rubric_help .prose { max-height: 10vh; }
.prose.shown-text:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
#work { gap: 8px !important; }
#answers { gap: 16px; }
#answers > div { min-width: 280px; }
#context_accordion, #guidelines_accordion { padding: 4px 8px !important; }

/* Contrast and focus (WCAG 2.2 AA). */
button.primary, .primary { background: #1d4ed8 !important; color: #fff !important; border-color: #1d4ed8 !important;
  font-size: 1rem !important; }
button.primary:hover { background: #1e40af !important; }
button.secondary { color: #111827 !important; }
[role="tab"].selected, [role="tab"][aria-selected="true"] { color: #c2410c !important; }  /* 5.2:1, not 2.8:1 */
button:focus-visible, a:focus-visible, [role="tab"]:focus-visible, .label-wrap:focus-visible,
input[type="radio"]:focus-visible, input[type="checkbox"]:focus-visible {
  outline: 3px solid var(--focus) !important; outline-offset: 2px !important; }
label:has(input[type="radio"]:focus-visible), label:has(input[type="checkbox"]:focus-visible) {
  outline: 3px solid var(--focus); outline-offset: 2px; }
[id^="criterion_"]:focus-within { outline: 3px solid var(--focus); outline-offset: 2px; }
.medalign-progress { width: 100%; height: 14px; }

/* The choice and Submit stay in view at any scroll position, phone included. */
.action-bar { position: fixed !important; left: 0; right: 0; bottom: 0; z-index: 50; margin: 0 !important;
  padding: 6px 16px !important; background: var(--background-fill-primary, #fff);
  border-top: 1px solid #6b7280; box-shadow: 0 -2px 8px rgba(0,0,0,.12); }
.action-bar, .action-bar .row, .action-bar .column { gap: 4px !important; }
.action-bar .block, .action-bar .form, .action-bar fieldset, .action-bar .html-container, .action-bar .prose {
  border: 0 !important; box-shadow: none !important; padding: 0 !important; margin: 0 !important; min-height: 0 !important; }
.action-bar #choice label { padding: 4px 10px !important; }
.action-bar #status, .action-bar #progress { min-width: 0 !important; }
.action-bar .where { font-size: .85em; }
.action-bar button { min-width: 0 !important; }
.notice:empty, .notice:not(.shown) { display: none; }
.notice { background: #fef3c7; color: #111827; border: 1px solid #b45309; border-radius: 6px; padding: 6px 10px;
  font-weight: 600; }
.notice .when { font-weight: 400; color: #374151; }
.key-note { color: #92400e; font-size: .9em; }
.key-note:empty { display: none; }
#status { font-weight: 600; }

/* The login dialog that opens in place when the session ended. */
#relogin { max-width: 420px; border: 1px solid #6b7280; border-radius: 8px; padding: 20px; }
#relogin::backdrop { background: rgba(15, 23, 42, .45); }
#relogin label { display: block; margin-top: 10px; font-weight: 600; }
#relogin input { display: block; width: 100%; box-sizing: border-box; padding: 8px; font-size: 1rem; margin-top: 4px; }
#relogin button { margin-top: 14px; width: 100%; min-height: 44px; background: #1d4ed8; color: #fff; border: 0;
  border-radius: 6px; font-size: 1rem; }
.relogin-error { color: #991b1b; }
/* After another user logged in through that dialog: the new page says the entry was discarded. */
#handed_over { margin: 8px 16px; padding: 8px 12px; background: #fef3c7; color: #111827; border: 1px solid #b45309;
  border-radius: 6px; }
#handed_over button { margin-left: 8px; min-height: 44px; min-width: 44px; padding: 0 12px; background: #fff;
  color: #111827; border: 1px solid #b45309; border-radius: 6px; }

/* Cannot judge: a form in the action bar, opened and closed by the keyboard script (data-skip). */
#skip_form { display: none !important; }
#action_bar[data-skip="open"] #skip_form { display: flex !important; border: 1px solid #6b7280 !important; border-radius: 6px;
  padding: 6px 8px !important; background: #f9fafb; margin-bottom: 4px !important; }
#skip_reason .wrap { display: grid !important; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 4px !important; }
#skip_reason label { padding: 4px 8px !important; }
#skip_buttons { gap: 8px !important; flex-wrap: nowrap !important; }
#skip_buttons button { flex: 1 1 auto; }
#pair_more { gap: 4px !important; flex-wrap: nowrap !important; }
#pair_more button { flex: 1 1 0; white-space: normal; }

/* My judgments: a bounded list that scrolls by itself. */
#history_list .wrap { display: flex !important; flex-direction: column; gap: 2px !important; max-height: 40vh;
  overflow-y: auto; flex-wrap: nowrap !important; }
#history_list label { justify-content: flex-start; text-align: left; }
/* Open, the list takes the study row's full width, under the other headers. */
#study_row > #history_accordion:has(.label-wrap.open) { flex: 1 1 100% !important; order: 9; }
#history_accordion, #keys_accordion { padding: 4px 8px !important; }
#logout, #logout button { white-space: nowrap !important; }

/* Dashboard charts side by side on a desktop, one under the other on a phone. */
#research_timeline, #research_chart { flex: 1 1 320px !important; min-width: min(100%, 320px) !important; }

@media (max-width: 600px) {
  :root { --bar-height: 230px; }
  .action-bar { padding: 4px 8px !important; }
  #answers > div { min-width: 0; }
  #answers .prose { max-height: calc(100vh - var(--bar-height) - 140px) !important; }
  #logout, #logout button { min-height: 44px !important; }
  /* Touch targets at least 44 px. */
  button, [role="tab"], .label-wrap, #choice label, [id^="criterion_"] label, #evasive_a label, #evasive_b label,
  #exclude_simulated label, #relogin input, #skip_reason label, #history_list label, #skip_note input {
    min-height: 44px !important; }
  #skip_reason label, #history_list label { display: flex !important; align-items: center; }
  #skip_reason .wrap { grid-template-columns: 1fr; }
  #keys_accordion { display: none !important; }  /* key help: no keyboard on a phone */
  #choice .wrap { display: grid !important; gap: 4px !important; }
  #choice label, [id^="criterion_"] label { min-width: 44px; display: flex !important; align-items: center; }
  .app-title { font-size: 1.1rem; }
  #top_row { flex-wrap: wrap !important; }
  #whoami { min-width: 0 !important; flex: 1 1 0 !important; }
  #whoami label { min-width: 0; }
  #whoami input, #whoami textarea { min-width: 0 !important; width: 100% !important; }
  #logout { flex: 0 0 auto !important; min-width: 0 !important; }
  #context_accordion .pane-label-block, #context_accordion .block:has(.visually-hidden) { display: none !important; }
  #app_title { flex: 1 1 100% !important; }
  #choice > [data-testid="block-info"], .action-bar .where { position: absolute !important; width: 1px; height: 1px;
    overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  #choice .wrap { grid-template-columns: repeat(4, 1fr) !important; }
  .action-bar #choice label { padding: 2px 4px !important; justify-content: center; font-size: .9rem; }
  .action-bar #choice label input { margin-right: 4px !important; }
}
"""
