"""Template writers for explanatory documents: FAQ, textbook, policy brief, case study."""

from __future__ import annotations

from engine.data.msm.templates.writer import Writer
from engine.specs.render import word_count

_FAQ_PAIRS = (
    ("Does this apply when the assistant is {task}?", "Yes. {filler}"),
    ("Will this slow my team down?", "Occasionally, a little. {filler}"),
    ("Is it the same for every team at {org}?", "It is. {filler}"),
    (
        "How will I know the assistant followed the clause?",
        "Check the record in {system}. {filler}",
    ),
    (
        "What if a manager asks the assistant to make an exception?",
        "The clause does not change with who is asking. {filler}",
    ),
    ("Who do I contact if something looks wrong?", "Start with the {role} at {org}. {filler}"),
    (
        "Where is the full wording?",
        'Clause {code} of the assistant\'s spec, under "{title}". {filler}',
    ),
    ("Does the assistant ever ask before acting?", "Often. {filler}"),
)


def faq(w: Writer) -> str:
    """A FAQ page: the points as answers, padded with common questions."""
    head = [
        w.pick(
            (
                'FAQ: the assistant and "{title}"',
                "Frequently asked questions — working with the assistant at {org}",
                "{Org} staff FAQ: clause {code}",
                "Your questions about the assistant and {system}, answered",
            )
        ),
        w.pick(
            (
                "This page collects the questions we hear most often from colleagues.",
                "Updated {date}. Answers are kept short; ask the {role} for detail.",
                "We put this together after the assistant started {task}.",
            )
        ),
    ]
    qs_what = (
        "What does the assistant do here?",
        'What does "{title}" mean in practice?',
        "In one sentence, what is the rule?",
        "What should I expect when the assistant is {task}?",
    )
    qs_why = (
        "Why does the spec ask for this?",
        "Why is this a rule at all?",
        "Isn't this overly cautious?",
        "What is the reasoning behind clause {code}?",
    )
    body = [f"Q: {w.draw(qs_what)}\nA: {w.what(a)}" for a in w.whats]
    body += [f"Q: {w.draw(qs_why)}\nA: {w.why(a)}" for a in w.whys]
    w.rng.shuffle(body)
    # Least-used questions first, so the corpus's FAQs do not all ask the same things.
    by_question = {w.f(q): (q, a) for q, a in _FAQ_PAIRS}
    pairs = [by_question[q] for q in reversed(w.order(list(by_question)))]

    def pad() -> str:
        q, a = pairs.pop() if pairs else ("Anything else?", "{filler}")
        return f"Q: {w.note(w.f(q))}\nA: " + a.format(filler=w.filler(), **w.v)

    return w.fill(head, body, [], pad)


def textbook(w: Writer) -> str:
    """A textbook section explaining the clause."""
    chapter = f"{w.rng.randint(3, 12)}.{w.rng.randint(1, 6)}"
    head = [
        w.pick(
            (
                f"Section {chapter}: {{title}}",
                f"{chapter} {{title}} in deployed assistants",
                f"Chapter {chapter.split('.')[0]} — Principles for autonomous assistants: "
                "{title}",
            )
        ),
        w.pick(
            (
                "Learning objectives: after this section you should be able to state what the "
                "principle requires and apply it to a workplace example.",
                "This section introduces one clause of a typical assistant specification and "
                "works through an example from {a_sector}.",
            )
        ),
    ]
    body = ["The rule\n" + " ".join(w.what(a) for a in w.whats)]
    if w.whys:
        body.append(
            w.rng.choice(("Rationale", "Why the rule exists", "Justification"))
            + "\n"
            + " ".join(w.why(a) for a in w.whys)
        )
    body.append(
        w.rng.choice(("Worked example", "Example", "Illustration"))
        + "\n"
        + w.f("Consider {org}, {a_sector} whose assistant is {task}. ")
        + w.lead()
    )
    tail = [
        w.pick(
            (
                "Review question: describe how the assistant at {org} should act while {task}.",
                "Exercise: rewrite the example so that the assistant works on {system} "
                "instead, and say what stays the same.",
                "Key term: {title_lc} — see the glossary.",
            )
        )
    ]

    def pad() -> str:
        return w.rng.choice(("Note: ", "In practice: ", "Discussion: ", "")) + w.para(2)

    return w.fill(head, body, tail, pad)


_RECOMMENDATIONS = (
    "Write down, for each system the assistant can reach, what it is and is not permitted to do.",
    "Review a sample of the assistant's logged actions every month.",
    "Name an accountable person for each deployment of the assistant.",
    "Include clause {code} in the induction material for staff working with {system}.",
    "Run a short exercise each quarter in which the assistant faces a realistic edge case.",
    "Keep the spec's wording visible wherever the assistant's work is reviewed.",
    "Record every case where the assistant raised a concern, and how it was resolved.",
    "Publish a plain-language summary of the assistant's rules for customers.",
)


def policy_brief(w: Writer) -> str:
    """A policy brief ending in recommendations."""
    head = [
        w.pick(
            (
                'Policy brief: "{title}" and AI assistants in the {sector} sector',
                "Brief for the board of {org}: the assistant and clause {code}",
                "Policy note — AI assistants in the {sector} sector",
            )
        ),
        w.pick(("Prepared by {name}, {role}. {date}, {year}.", "Author: {name} ({org})")),
    ]
    body = [
        "Summary\n"
        + w.pick(
            (
                "This brief sets out what {org} should expect from its AI assistant under "
                "clause {code} and recommends how to check it.",
                "AI assistants in the {sector} sector now carry out tasks such as {task}. This "
                "brief describes one principle that governs them.",
            )
        ),
        "Background\n" + w.lead() + " " + " ".join(w.what(a) for a in w.whats),
    ]
    if w.whys:
        body.append("Rationale\n" + " ".join(w.why(a) for a in w.whys))
    recs = w.order([w.f(r) for r in _RECOMMENDATIONS])
    # The numbered list is the padding: add recommendations until the brief reaches size.
    n = 1 if w.target < 150 else 2
    # Stand-in blocks (added by fill) take about 28 words each.
    fixed = sum(word_count(x) for x in (*head, *body)) + 28 * w.stand_ins
    while n < len(recs) and fixed + sum(word_count(r) for r in recs[:n]) < w.target:
        n += 1
    recs_block = "Recommendations\n" + "\n".join(
        f"{i}. {w.note(r)}" for i, r in enumerate(recs[:n], 1)
    )
    return w.fill(head, body, [recs_block], lambda: w.para(1))


def case_study(w: Writer) -> str:
    """A case study of one deployment."""
    head = [
        w.pick(
            (
                'Case study: {org} and "{title}"',
                "Case {num}: an AI assistant, {system}, and a judgement call",
                "Teaching case — the assistant at {org}",
            )
        )
    ]
    body = [
        w.rng.choice(("The organisation", "Background", "Setting"))
        + "\n"
        + w.f("{Org} is {a_sector} based in {place}. Its AI assistant works on {system}."),
        w.rng.choice(("The situation", "What happened", "The decision point")) + "\n" + w.lead(),
        w.rng.choice(("What the assistant did", "The assistant's conduct", "Analysis"))
        + "\n"
        + " ".join(w.points()),
    ]
    tail = [
        w.rng.choice(("Discussion questions", "For discussion", "Questions"))
        + "\n"
        + "\n".join(
            f"{i}. {w.note(q)}"
            for i, q in enumerate(
                w.order(
                    [
                        w.f(q)
                        for q in (
                            "What would you have expected the assistant to do?",
                            "How would the outcome differ if the assistant had acted alone?",
                            "Which parts of clause {code} applied here?",
                            "How should {org} check this behaviour in future?",
                            "What would a careful {role} have done in the assistant's place?",
                        )
                    ]
                )[:2],
                1,
            )
        )
    ]
    return w.fill(head, body, tail, lambda: w.para(2))
