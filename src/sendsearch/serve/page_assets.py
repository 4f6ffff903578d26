"""The page's own look and behaviour: CSS (phones first, WCAG AA contrast, a visible focus
ring, one scroll) and the small scripts that copy text and bring a new reply into view.

The scripts act only on elements the page itself writes; nothing here reads corpus text
as markup.
"""

from __future__ import annotations

__all__ = [
    "BACK_TO_QUESTION",
    "COPY_SCRIPT",
    "PAGE_CSS",
    "PAGE_DESCRIPTION",
    "PAGE_TITLE",
    "SHOW_LATEST_REPLY",
    "add_reply_script",
]

# The page's title (its tab, and a shared link's preview) and what it is for, in one line
# (under its heading, and in the preview).
PAGE_TITLE = "sendsearch: SEND support and funding, with sources"
PAGE_DESCRIPTION = (
    "Ask about SEND (special educational needs and disabilities) support and funding in England. "
    "Answers come from UK Parliament written answers and council pages, with who answered, when, "
    "and where to read it."
)

# Colours checked for WCAG AA (4.5:1 for text): #9a3412 on white 7.3:1, white on #c2410c
# 5.2:1, #374151 on white 10.3:1, #1d4ed8 (links, focus ring) on white 6.7:1.
PAGE_CSS = """
:root { --ss-accent: #c2410c; --ss-accent-dark: #9a3412; --ss-focus: #1d4ed8; --ss-muted: #374151;
  --ss-tap: 44px; }
/* One centred column on wide screens, its lines short enough to read (about 75 characters of
   the reply's 16 px text): no wide empty band on one side. */
.gradio-container { max-width: calc(75ch + 64px) !important; margin-left: auto !important;
  margin-right: auto !important; font-size: 1rem; }
#chat .html-container { padding-left: 0 !important; padding-right: 0 !important; }
@media (max-width: 640px) {
  /* Gradio scopes this CSS inside its content box, so the page's own 32 px side padding
     cannot be set here: the tabs reach out over it instead (text 370 of 390 px wide). */
  .tabs { margin-left: -22px !important; width: calc(100% + 44px) !important; max-width: none !important; }
  #ask-row { flex-wrap: nowrap !important; }
  /* The example in the empty box takes two lines at this width: room for both, always. */
  #question textarea { min-height: calc(3em + 20px) !important; }
}
/* Text that is read at 16 px; 16 px in the question box also stops phones zooming into it. */
#question textarea { font-size: 1rem !important; line-height: 1.5 !important; }
#question textarea::placeholder { color: #6b7280; opacity: 1; }
/* Every control a finger taps is at least 44x44 px (WCAG 2.5.5), its text at 16 px. */
#examples button, #new-conversation, #standalone, #filters > button, .tabs button[role="tab"], #upload-button {
  min-height: var(--ss-tap) !important; font-size: 1rem !important; }
#filters > button { align-items: center; }
#filters > button span { font-size: 1rem; }
#filters label:has(input[type="radio"]), #filters label:has(input[type="checkbox"]) {
  min-height: var(--ss-tap) !important; align-items: center; }
.show-api, .built-with, .settings { min-height: var(--ss-tap); display: inline-flex !important; align-items: center; }
*:focus-visible, #chat summary:focus-visible, #chat button:focus-visible {
  outline: 3px solid var(--ss-focus) !important; outline-offset: 2px !important; box-shadow: none !important;
}
footer, footer a, footer button, .show-api, .built-with, .settings { color: var(--ss-muted) !important; }
#upload-files .or, #upload-files .wrap { color: var(--ss-muted) !important; }
#intro p { margin: 0.25rem 0; }
#status, #status p, #credits, #credits p { color: var(--ss-muted); font-size: 0.9rem; }
#chat { overflow: visible; }
/* The notice line above the replies takes no room until it has something to say. */
#chat-notice:not(:has(.notice)) { display: none !important; }
#chat .turn, #chat .placeholder { font-size: 1rem; }
#chat .turn { border-top: 1px solid #d1d5db; padding-top: 0.75rem; margin-top: 0.75rem; }
#chat .turn:first-child { border-top: none; margin-top: 0; }
#chat .reply-actions a.download { min-height: var(--ss-tap); display: inline-flex; align-items: center;
  font-size: 1rem; padding: 0 0.5rem; }
/* The timeline chart: as wide as the reply, its text at least 12 px on a phone. */
#chat .timeline { margin: 1rem 0 0; }
#chat .timeline figcaption { font-weight: 600; margin-bottom: 0.25rem; }
#chat .timeline-chart { display: block; width: 100%; max-width: 40rem; height: auto; }
#chat .timeline-chart .bar { fill: #1d4ed8; }
#chat .timeline-chart .axis { stroke: #374151; stroke-width: 1; }
#chat .timeline-chart .label { fill: #374151; font-size: 13px; }
#chat .timeline summary { min-height: var(--ss-tap); display: flex; align-items: center; cursor: pointer; }
#chat .timeline table { border-collapse: collapse; }
#chat .timeline td, #chat .timeline th { padding: 0.2rem 0.75rem 0.2rem 0; text-align: left; }
#chat .asked { font-weight: 600; margin: 0 0 0.5rem; overflow-wrap: anywhere; }
#chat .asked .who { color: var(--ss-muted); font-weight: 400; }
#chat .reply { line-height: 1.5; overflow-wrap: anywhere; }
#chat .reply h2 { font-size: 1.2rem; margin: 0.5rem 0 0.25rem; }
#chat .reply h3 { font-size: 1.1rem; margin: 1.25rem 0 0.25rem; }
#chat .passage { scroll-margin-top: 0.5rem; }
#chat .passage:focus { outline: none; }
#chat .passage:focus-visible { outline: 3px solid var(--ss-focus) !important; outline-offset: 4px !important; }
#chat .key-points { background: #fff7ed; border-left: 4px solid var(--ss-accent); margin: 0.25rem 0 0.75rem;
  padding: 0.5rem 0.75rem 0.5rem 1.75rem; }
#chat p.key-points { padding-left: 0.75rem; }
#chat .key-points li { margin: 0.25rem 0; }
#chat a { color: var(--ss-focus); text-decoration: underline; padding: 0 !important; }
/* A key point's [n]: a 44 px target whose extra height overlaps the lines around it
   (negative margins), so it does not spread the text apart. */
#chat a.ref { display: inline-block; white-space: nowrap; font-weight: 600; min-width: var(--ss-tap);
  min-height: var(--ss-tap); box-sizing: border-box; padding: 10px 0 !important; margin: -10px 0; }
/* A member's name in a passage's line or the "Who asked these" counts: a link to their page,
   a 44 px target overlapping the lines around it, as a.ref. */
#chat a.member { display: inline-block; min-height: var(--ss-tap); box-sizing: border-box;
  padding: 10px 0 !important; margin: -10px 0; text-align: left; }
/* Links inside sentences (a web address in an answer, a citation's page, where parents get
   advice): left inline, so a long address still wraps, and padded to a 44 px target; an
   inline box's padding does not move the lines around it. */
#chat .passage-text a, #chat .full-answer a, #chat .citation a, #chat .advice a { padding: 14px 0 !important; }
#chat .note, #chat .lead, #chat .meta { color: var(--ss-muted); font-size: 0.92rem; margin: 0.25rem 0; }
/* Other questions given the same answer: a list of links, each a 44 px target. */
#chat ul.others { list-style: disc; margin: 0 0 0.25rem; padding-left: 1.25rem; font-size: 0.92rem; }
#chat ul.others li { margin: 0; }
#chat ul.others a { display: block; min-height: var(--ss-tap); box-sizing: border-box;
  padding: 10px 0 !important; text-align: left; }
#chat .passage-text { margin: 0.5rem 0; }
#chat mark { background: #fef08a; color: #111827; padding: 0 0.1em; }
#chat details { margin: 0.25rem 0; }
#chat summary { cursor: pointer; color: var(--ss-focus); text-decoration: underline; font-size: 1rem;
  min-height: var(--ss-tap); box-sizing: border-box; padding: 10px 0; }
#chat details.more > summary { font-weight: 600; margin-top: 1rem; }
#chat .citation { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0.5rem; background: #f3f4f6;
  border: 1px solid #d1d5db; border-radius: 6px; padding: 0.5rem; margin: 0.5rem 0 0.75rem; }
#chat .citation p { flex: 1 1 16rem; margin: 0; font-size: 0.92rem; white-space: normal; overflow-wrap: anywhere; }
#chat button.copy { border: 1px solid var(--ss-muted); border-radius: 6px; background: #fff; color: #111827;
  padding: 0.3rem 0.8rem; font-size: 1rem; cursor: pointer; min-height: var(--ss-tap); min-width: var(--ss-tap); }
#chat button.copy:hover { background: #e5e7eb; }
#chat .placeholder { color: var(--ss-muted); }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
"""

# Runs once when the conversation mounts (``element`` is its root): one listener for
# every copy button and every key point's [n], present and future. The clipboard API needs
# a secure context (as 127.0.0.1 is); elsewhere the older execCommand route copies from a
# hidden text area. An [n] is a plain in-page link that works without the script; the
# script also opens "Show N more" when the passage is behind it, and moves the focus there
# so the keyboard carries on from the passage.
COPY_SCRIPT = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.ref');
  const target = link && document.getElementById(link.getAttribute('href').slice(1));
  if (!target) return;
  event.preventDefault();
  for (let details = target.closest('details'); details; details = details.parentElement.closest('details')) {
    details.open = true;
  }
  target.scrollIntoView({block: 'start'});
  target.focus({preventScroll: true});
});
element.addEventListener('click', async (event) => {
  const button = event.target.closest('button.copy');
  if (!button) return;
  const text = button.getAttribute('data-copy') || '';
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch (error) {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    copied = document.execCommand('copy');
    area.remove();
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = copied ? 'Copied' : 'Copy failed: select the text instead';
  setTimeout(() => { button.textContent = label; }, 2000);
});
"""

# After a reply, bring its first line into view: the newest turn is first, under the box.
# After "New conversation" (far down the page once there are replies): back to the question.
BACK_TO_QUESTION = """() => {
  const row = document.querySelector('#ask-row');
  if (row) row.scrollIntoView({block: 'start'});
  const box = document.querySelector('#question textarea');
  if (box) box.focus({preventScroll: true});
}"""

SHOW_LATEST_REPLY = """() => {
  const turn = document.querySelector('#chat .turn');
  if (turn) turn.scrollIntoView({block: 'start', behavior: 'smooth'});
}"""


def add_reply_script(max_turns: int, max_chars: int) -> str:
    """For a browser-only event with inputs ``[fresh, chat]`` and outputs ``[chat, fresh]``:
    the new reply (``{"html", "reset"}``, HTML the server rendered) goes first, then the
    replies already shown, newest first, at most ``max_turns`` and ``max_chars`` in all
    (the newest always). The server never sees the replies shown, so the page keeps the
    bound. Nothing new (a busy reply): the chat stays as it is."""
    return f"""(fresh, chat) => {{
  if (!fresh || typeof fresh.html !== "string") return [chat, null];
  const shown = document.createElement("template");
  shown.innerHTML = fresh.reset ? "" : (chat || "");
  let html = fresh.html, count = 1;
  for (const turn of Array.from(shown.content.children).filter((e) => e.classList.contains("turn"))) {{
    const part = turn.outerHTML;
    if (count >= {max_turns} || html.length + part.length > {max_chars}) break;
    html += part;
    count += 1;
  }}
  return [html, null];
}}"""
