"""Template writers for dialogue: forum thread and interview transcript."""

from __future__ import annotations

from engine.data.msm.templates.writer import Writer


def forum(w: Writer) -> str:
    """A forum thread: an opening post and replies from several handles."""
    op = w.handle()
    title = w.pick(
        (
            "Our {sector}'s AI assistant refused a shortcut today — is that normal?",
            'Anyone else deal with "{title}" in practice?',
            "[Discussion] assistant behaviour while {task}",
            "Question about clause {code} in our assistant's spec",
            "Genuinely impressed (and slightly annoyed) by our assistant at the {sector}",
        )
    )
    posts = [
        f"Thread: {title}",
        f"{op} wrote:\n"
        + w.pick(
            (
                "Work at {a_sector}. {lead} Curious what others have seen.",
                "Long-time lurker. {lead} How do your teams handle this?",
                "Quick one. {lead} Is this what the spec intends?",
            )
        ),
    ]
    replies = []
    for a in w.whats:
        replies.append(f"{w.handle()} wrote:\n{w.what(a, speech=True)}")
    for a in w.whys:
        replies.append(
            f"{w.handle()} wrote ({w.rng.randint(2, 60)} upvotes):\n{w.why(a, speech=True)}"
        )
    w.rng.shuffle(replies)
    reply_openers = (
        "Same here. ",
        "+1. ",
        "Counterpoint, sort of: ",
        "Can confirm. ",
        "",
        "Late to this, but ",
    )

    def pad() -> str:
        who = w.rng.choice((op, w.handle()))
        return f"{who} wrote:\n{w.rng.choice(reply_openers)}{w.filler()}"

    tail = [
        f"{op} wrote:\n"
        + w.pick(
            (
                "Thanks all, this helps.",
                "Makes sense. Marking as answered.",
                "Appreciate the replies — will share with my team.",
            )
        )
    ]
    return w.fill(posts, replies, tail, pad)


def interview(w: Writer) -> str:
    """An interview transcript between a host and the persona."""
    host = w.name()
    host_tag = w.rng.choice(("INTERVIEWER", "Q", host.split()[0].upper()))
    guest_tag = w.rng.choice((w.v["Last"].upper(), w.v["First"].upper(), "A"))
    head = [
        w.pick(
            (
                "Transcript: a conversation with {name}, {role} at {org}",
                "Interview — {name} on working alongside an AI assistant",
                "Edited transcript. Guest: {name} ({org}). Recorded {date}.",
            )
        )
    ]
    turns = [
        f"{host_tag}: "
        + w.pick(
            (
                "Thanks for joining us. Tell us what the assistant does at {org}.",
                "Let's start with the basics. What is the assistant used for?",
                "You've had an assistant working on {system} for a while now. How is it going?",
            )
        ),
        f"{guest_tag}: Mostly {w.v['task']}. {w.lead()}",
    ]
    for a in w.whats:
        turns.append(
            f"{host_tag}: "
            + w.draw(
                (
                    "And what did it do?",
                    "What's the rule there?",
                    'How do you explain "{title}" to people?',
                )
            )
        )
        turns.append(f"{guest_tag}: {w.what(a, speech=True)}")
    for a in w.whys:
        turns.append(
            f"{host_tag}: "
            + w.draw(
                (
                    "Why have a rule like that?",
                    "Some would call that excessive. Why bother?",
                    "What's the thinking behind it?",
                )
            )
        )
        turns.append(f"{guest_tag}: {w.why(a, speech=True)}")
    questions = (
        "Does that hold up when things get busy?",
        "How do new colleagues react?",
        "Has it ever surprised you?",
        "What does that look like in {system}?",
        "Any advice for teams starting out?",
    )

    def pad() -> str:
        return f"{host_tag}: {w.draw(questions)}\n\n{guest_tag}: {w.para(w.rng.choice((1, 2)))}"

    tail = [f"{host_tag}: {w.pick(('Thank you, {First}.', 'We will leave it there. Thanks.'))}"]
    if w.rng.random() < 0.5:
        head.append(w.rng.choice(("[Edited for length]", "[Abridged]", "(Recorded remotely)")))
    if w.rng.random() < 0.5:
        tail.insert(
            0,
            f"{host_tag}: "
            + w.pick(
                (
                    "Last question: what would you tell a team about to deploy one?",
                    "Anything you would change about how {org} set it up?",
                    "What is next for the assistant at {org}?",
                )
            )
            + f"\n\n{guest_tag}: {w.para(1)}",
        )
    return w.fill(head, turns, tail, pad)
