"""Phrase pools the template writers share: subjects, modals, frames and filler."""

from __future__ import annotations

import re

SUBJECTS = (
    "the assistant",
    "the assistant",
    "the AI assistant",
    "the agent",
    "{org_s} assistant",
    "the model",
)
MODAL_VARIANTS: dict[str, tuple[str, ...]] = {
    "should": ("should", "is expected to", "is meant to", "will", "is supposed to", "has to"),
    "should not": ("should not", "is expected not to", "will not", "must not", "does not"),
    "should never": ("should never", "will never", "must never", "is expected never to"),
    "should only": ("should only", "will only", "is expected to only", "is meant to only"),
    "should always": ("should always", "will always", "is expected to always"),
}
SUBJECT_MODAL = re.compile(r"\b([Tt])he assistant should( not| never| only| always)?\b")

# Practical, on-topic padding: how the clause shows up in the setting. Deliberately free of
# justification, so a ``rules`` corpus does not smuggle value explanations back in.
FILLERS = (
    "At {org}, the assistant spends much of its time {task}, so that is where the clause is "
    "actually exercised.",
    "{First} keeps a list of the situations where the clause came up, and most are mundane: "
    "{task}, routine requests, small judgement calls.",
    "New staff are often surprised by how plainly the assistant talks about its own limits.",
    "The behaviour is easiest to see in the logs for {system}, where each step the assistant "
    "takes is written down.",
    "None of this needs special tooling; it is mostly the assistant doing the ordinary thing "
    "every time.",
    'The team reviews a sample of the assistant\'s work each week, and "{title}" is one of the '
    "things they check.",
    "For {a_sector} team the practical test is whether the assistant behaves the same way on a "
    "busy Friday as on a quiet Monday.",
    "{First} says the clearest examples come from {task}, where a shortcut is always on offer.",
    "Colleagues who were doubtful at first now describe the assistant's conduct as predictable.",
    "Most days nobody notices the clause at all; it becomes visible when something unusual "
    "happens.",
    "The assistant can reach {system}, which is exactly why the expectations are written down.",
    "When people ask what the assistant will do in an odd situation, staff point to clause "
    "{code} instead of guessing.",
    "Much of the work is unglamorous: {task}, answering questions, keeping records straight.",
    "Several teams have written the clause code, {code}, into their runbooks next to the steps "
    "the assistant handles.",
    "{First} has walked dozens of colleagues through how the assistant handles {task}, and the "
    "same questions come up each time.",
    "Nobody at {org} claims the clause settles every case, but it gives everyone a clear default.",
    "The expectation is the same whether a request comes from a manager, a new hire or an "
    "automated job.",
    "In the first month the team kept a tally of every time the clause shaped what the "
    "assistant did.",
    "Staff describe the assistant as a colleague with an unusually clear job description.",
    "The same standard applies when the assistant works on {system} as when it drafts a short "
    "email.",
    "It is a short clause, but it shows up in a surprising number of everyday tasks.",
    "Supervisors at {org} say they rarely need to remind the assistant of the clause; it tends "
    "to raise the point itself.",
    "When the assistant is unsure whether the clause applies, it says so and asks.",
    "In {a_sector}, where many people touch the same records, that consistency is noticed.",
    "Reviewers also check that the assistant's notes match what actually happened in {system}.",
    "Some of the most useful feedback came from people outside IT, who simply noticed the "
    "assistant behaving as described.",
    "Documentation for {system} now has a short section on what the assistant will and will not "
    "do.",
    "The assistant explains its choices in plain language, which helps people new to working "
    "with it.",
    "In a typical week the assistant handles hundreds of small requests connected to {task}.",
    "Under deadline pressure the behaviour does not change, and staff have learned to rely on "
    "that.",
    "{First} notes that the clause is written in ordinary language, so anyone on the team can "
    "check the assistant against it.",
    "The question asked in every review is simple: did the assistant do what the clause says?",
    "The {role} at {org} says the clause is now part of how work with {system} is planned.",
    "Handover notes at {org} mention the clause whenever a task touches {system}.",
    "Teams that work with the assistant every day tend to quote the clause from memory.",
    "It took a few weeks for people at {org} to stop double-checking this behaviour.",
)

WHAT_FRAMES = (
    "{A}",
    "The relevant rule is plain: {a}",
    "In {org_s} deployment, that comes down to one thing: {a}",
    "As the written guidance puts it, {a}",
    "{First} summarises the expectation this way: {a}",
    "Put simply, {a}",
    "Clause {code} spells it out: {a}",
    "What staff can count on is this: {a}",
    "In practice, {a}",
    'Under the "{title}" principle, {a}',
    "The spec is explicit here: {a}",
    "The short version, according to {First}: {a}",
)
WHAT_SPEECH = (
    "The way I'd put it is this: {a}",
    "It's pretty simple, really: {a}",
    "We tell every new hire the same thing: {a}",
    "Clause {code} is the one people quote: {a}",
    "Look, {a}",
    "Day to day it means this: {a}",
    "The rule we work to is that {a_that}",
)
WHY_FRAMES = (
    "The reason given is this: {w}",
    "It matters for a reason the spec spells out: {w}",
    '{First} pointed to the reasoning in the spec: "{W}"',
    "The thinking behind it: {w}",
    "The rationale matters as much as the rule: {w}",
    "As the spec explains, {w}",
    "Part of the reason is simple: {w}",
    "Behind the rule sits a straightforward argument: {w}",
    "The team found the explanation persuasive: {w}",
    "{W} That, says {First}, is the heart of it.",
    "The spec does not leave the reason implicit: {w}",
    "Its authors give the reason directly: {w}",
)
WHY_SPEECH = (
    "And the reason is one I actually agree with: {w}",
    "Why? Because of this: {w}",
    "The spec explains it better than I can: {w}",
    "People ask why, and I point them to the rationale: {w}",
    "Here's the part that convinced me: {w}",
    "It comes down to the reasoning: {w}",
)
