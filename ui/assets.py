"""The page's CSS and the two small scripts; inline, so nothing is fetched from anywhere.

`CLICK_BRIDGE` listens for clicks on `#rag-<ref>` links anywhere on the page (chat markers,
source lists, passages) and turns them into one server event carrying the ref. It listens in
the capture phase so the chatbot's own link handling (which would open a new tab) never runs.
`SCROLL_TO_MARK` brings the highlighted span into view whenever the source panel changes.
"""

CLICK_BRIDGE = """
window.__ragTrigger = trigger;
if (!window.__ragListening) {
  window.__ragListening = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#rag-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    document.querySelectorAll('a.rag-selected').forEach((a) => a.classList.remove('rag-selected'));
    link.classList.add('rag-selected');
    window.__ragTrigger('click', {ref: link.getAttribute('href').slice('#rag-'.length)});
  }, true);
}
"""

SCROLL_TO_MARK = """
watch('value', () => {
  const mark = element.querySelector('mark.rag-highlight');
  if (mark) mark.scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'});
});
"""

CSS = """
.rag-answer-text { line-height: 1.55; }
a.rag-cite { font-weight: 600; text-decoration: none; padding: 0 0.1em; border-radius: 3px;
  color: var(--color-accent); cursor: pointer; }
a.rag-cite:hover, a.rag-cite:focus, a.rag-cite.rag-selected { background: var(--color-accent-soft); }
a.rag-also { font-weight: 400; font-size: 0.9em; }
ol.rag-sources { margin: 0.6em 0 0 0; padding-left: 1.2em; font-size: 0.9em; opacity: 0.85; }
ol.rag-sources li { list-style: none; margin-left: -1.2em; }
.rag-badge { display: inline-block; font-size: 0.78em; padding: 0.05em 0.5em; border-radius: 999px;
  margin-right: 0.3em; border: 1px solid currentColor; }
.rag-badge-abstain, .rag-badge-fallback { color: #9a6700; }
.rag-badge-unverified { color: #b42318; }
.rag-badge-verified, .rag-badge-cited { color: #1a7f37; }
.rag-badge-uncited { color: #6e7781; }
.rag-notice-error { color: #b42318; }
.rag-speaker { display: inline-block; font-size: 0.78em; padding: 0.05em 0.5em; border-radius: 999px;
  margin-left: 0.3em; background: var(--color-accent-soft); }
.rag-conflict { margin-bottom: 0.5em; padding: 0.4em 0.6em; border-left: 3px solid #9a6700;
  background: rgba(154, 103, 0, 0.08); border-radius: 4px; }
.rag-statements { margin-top: 0.6em; }
.rag-short { margin-bottom: 0.3em; }
.rag-short-head { font-size: 0.85em; font-weight: 600; }
.rag-short-text { font-weight: 600; }
.rag-closest { margin-top: 0.6em; opacity: 0.85; }
.rag-closest-head { font-size: 0.85em; font-weight: 600; }
.rag-closest-where { font-size: 0.8em; opacity: 0.8; }
.rag-statements-head { font-size: 0.85em; font-weight: 600; opacity: 0.8; }
.rag-statement-text { font-size: 0.95em; margin: 0.1em 0 0.3em 0; }
.rag-relation-agrees { color: #1a7f37; }
.rag-relation-conflicts { color: #9a6700; }
.rag-relation-adds { color: #6e7781; }
.rag-notice-hint, .rag-notice-pending, .rag-notice-streaming { opacity: 0.85; }
.rag-source-head { margin-bottom: 0.5em; }
.rag-article { white-space: pre-wrap; max-height: 28em; overflow-y: auto; padding: 0.6em 0.8em;
  border: 1px solid var(--border-color-primary); border-radius: 6px; line-height: 1.5; }
mark.rag-highlight { background: #ffe066; color: #1f2328; padding: 0.05em 0; border-radius: 2px;
  box-shadow: 0 0 0 2px #ffe066; }
.rag-placeholder { opacity: 0.7; padding: 0.5em 0; }
ol.rag-passages { padding-left: 0; margin: 0; }
li.rag-passage { list-style: none; padding: 0.4em 0; border-bottom: 1px solid var(--border-color-primary); }
li.rag-passage-cited { border-left: 3px solid #1a7f37; padding-left: 0.5em; }
.rag-scores { font-size: 0.8em; opacity: 0.75; font-variant-numeric: tabular-nums; }
.rag-preview { font-size: 0.88em; white-space: pre-wrap; }
.rag-query { font-size: 0.85em; opacity: 0.8; margin-bottom: 0.4em; }
table.rag-corpus { width: 100%; border-collapse: collapse; }
table.rag-corpus th, table.rag-corpus td { text-align: left; padding: 0.35em 0.5em;
  border-bottom: 1px solid var(--border-color-primary); }
"""
