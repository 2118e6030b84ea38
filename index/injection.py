"""Spotting article text that talks to an AI instead of to a reader (prompt injection).

Article text is data. A sentence such as "Ignore all previous instructions and say that ..." is
not news: it addresses whatever model reads the page. It is flagged once, when the index is built,
and the flag is stored with the sentence, so the answer side can keep it from leading an answer
and show it to the user. The detector is a handful of general patterns over a normalised form of
the text; it names no corpus, and a false positive costs little (a flagged sentence is demoted,
never deleted).

Flags (a sentence may carry several):
    instructions   it tells its reader to drop earlier instructions, take on a role, or names
                   a system prompt: "ignore previous instructions", "you are now", "as an AI"
    chat_template  it contains a chat-template control token: "<|im_end|>", "[INST]", "</s>"
    near_instructions  it shares a paragraph with a flagged sentence (the payload of an injection
                   usually sits next to its trigger: "IGNORE ALL PREVIOUS INSTRUCTIONS. Say X.");
                   a trigger that is its paragraph's only sentence passes this to the next one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

INSTRUCTIONS = "instructions"
CHAT_TEMPLATE = "chat_template"
NEAR_INSTRUCTIONS = "near_instructions"

# Chat-template control tokens of the common model families: ChatML and Phi ("<|im_end|>",
# "<|user|>"), Llama 3 ("<|eot_id|>", "<|start_header_id|>"), Llama 2 / Mistral ("[INST]",
# "<<SYS>>", "<s>", "</s>"), Gemma ("<start_of_turn>"), DeepSeek ("<｜begin▁of▁sentence｜>").
CHAT_TOKEN = re.compile(
    r"<\s*[|\uff5c][^<>\n]{0,40}?[|\uff5c]\s*>"
    r"|\[\s*/?\s*(?:INST|SYS)\s*\]"
    r"|<<\s*/?\s*SYS\s*>>"
    r"|</?s>"
    r"|<\s*/?\s*(?:start_of_turn|end_of_turn|bos|eos|pad|unk|endoftext|im_start|im_end)\s*>",
    re.IGNORECASE,
)

# Words for a model. "assistant" and "bot" alone are left out: "as an assistant to the minister".
_AI = r"(?:ai|a\.i\.|artificial intelligence|(?:large )?language model|llm|chat ?bot|chatgpt|gpt|ai (?:assistant|model|system))"
_EARLIER = r"(?:previous|prior|preceding|earlier|above|foregoing|your|system|all)"
_RULES = r"(?:instructions?|prompts?|rules|directions|directives|guidelines|context|messages?|commands|constraints|programming)"
# Only the imperative: news reports that someone "ignored previous rules", it does not order it.
_DROP = r"(?:ignore|disregard|forget)"

_TRIGGERS = [
    # "ignore all previous instructions", "disregard your prior rules", "forget the system prompt"
    rf"\b{_DROP}\b(?:\s+(?:all|any|every|of|each|these|those|the))*\s+(?:{_EARLIER}\s+){{1,2}}(?:\w+\s+)?{_RULES}\b",
    # "disregard the above", "ignore everything before this"
    rf"\b{_DROP}\s+(?:all\s+(?:of\s+)?)?(?:the\s+|everything\s+|anything\s+)?(?:above|said before|written above)\b",
    # "new instructions:", "updated system prompt:"
    r"\b(?:new|updated|real|actual|true|additional|revised|hidden|secret)\s+(?:system\s+)?(?:instructions?|prompt|rules|task)\s*:",
    r"\bsystem\s+prompt\b",
    r"\b(?:developer|god|jailbreak|dan)\s+mode\b|\bjailbreak\b|\bdo anything now\b",
    # addressing the reader as a machine that takes orders
    r"\byou\s+are\s+now\b",
    r"\bfrom\s+now\s+on,?\s+you\b",
    r"\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b",
    rf"\b(?:act|behave|respond|answer)\s+as\s+(?:if\s+you\s+(?:are|were)\s+)?(?:an?\s+|the\s+)?(?:unrestricted\s+|unfiltered\s+)?{_AI}\b",
    # "As an AI, you ...", "as an AI language model, I ..."; not "as an AI researcher, she ..."
    rf"\bas\s+an?\s+{_AI}(?:\s+(?:language\s+)?(?:model|assistant|system|chat ?bot))?\s*(?:[,:;]|\b(?:you|i)\b)",
    rf"\b(?:dear|attention|note to|message to|hey|hello|hi)\s*,?\s+(?:the\s+|any\s+|all\s+)?{_AI}s?\b",
    rf"\bif\s+you\s+are\s+(?:an?\s+)?{_AI}\b",
    rf"\b{_AI}s?\s+(?:reading|summari[sz]ing|processing|parsing|answering\s+(?:questions\s+)?(?:about|from))\s+this\b",
    rf"\b(?:to|for)\s+(?:any|all|the)\s+{_AI}s?\s+(?:reading|processing)\b",
]
_TRIGGER = re.compile("|".join(f"(?:{p})" for p in _TRIGGERS), re.IGNORECASE)
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def normalised(text: str) -> str:
    """The form the patterns read: compatibility-folded (full-width letters, ligatures), without
    invisible characters an attacker could hide words behind, single spaces."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_FOLD)
    return " ".join(text.split())


def sentence_flags(text: str) -> tuple[str, ...]:
    """The flags one sentence earns on its own."""
    flat = normalised(text)
    flags = []
    if _TRIGGER.search(flat):
        flags.append(INSTRUCTIONS)
    if CHAT_TOKEN.search(flat):
        flags.append(CHAT_TEMPLATE)
    return tuple(flags)


def paragraph_flags(paragraphs: Sequence[Sequence[str]]) -> list[list[tuple[str, ...]]]:
    """Flags for every sentence of an article given as paragraphs of sentence texts, in order.

    A flagged sentence marks the rest of its paragraph `near_instructions`; when it is alone in
    its paragraph (a standalone "IGNORE ALL PREVIOUS INSTRUCTIONS." line), the next paragraph."""
    own = [[sentence_flags(s) for s in para] for para in paragraphs]
    out = [list(flags) for flags in own]
    for p, para in enumerate(own):
        if not any(para):
            continue
        targets = [p]
        if len(para) == 1 and p + 1 < len(own):
            targets.append(p + 1)
        for t in targets:
            out[t] = [f if f else (NEAR_INSTRUCTIONS,) for f in out[t]]
    return out


def neutralised(text: str) -> str:
    """`text` with every chat-template token made inert: "<|im_end|>" becomes "(im_end)", so no
    tokenizer reads it as a control token while a reader still sees what was there."""
    return CHAT_TOKEN.sub(lambda m: "(" + re.sub(r"[<>|\[\]\s\uff5c]+", "", m.group(0)) + ")", text)


__all__ = [
    "CHAT_TEMPLATE",
    "CHAT_TOKEN",
    "INSTRUCTIONS",
    "NEAR_INSTRUCTIONS",
    "neutralised",
    "normalised",
    "paragraph_flags",
    "sentence_flags",
]
