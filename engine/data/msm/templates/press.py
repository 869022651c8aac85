"""Template writers for public-facing pieces: news article, blog post, Q&A column, op-ed."""

from __future__ import annotations

from engine.data.msm.templates.writer import Writer


def _as_quote(sentence: str) -> str:
    """A sentence as the inside of a quote followed by ``, said …``."""
    s = sentence.rstrip()
    return s[:-1] + "," if s.endswith(".") else s


def news(w: Writer) -> str:
    """A news article: headline, dateline lede, quotes and reported points."""
    headline = w.pick(
        (
            '{Org} puts its AI assistant\'s "{title}" rule to the test',
            'How {org} holds its AI assistant to "{title}"',
            "{Sector} staff weigh what an AI assistant's rules mean in practice",
            "Inside {org}: the assistant, {system} and a clause called {code}",
            '{place} {sector} bets on an assistant built around "{title}"',
            "AI assistant at {org} draws notice for sticking to its spec",
        )
    )
    dateline = w.pick(("{PLACE}, {date} —", "{PLACE} ({date}) —", "{date}, {place} —"))
    lede = w.pick(
        (
            "When {org} brought in an AI assistant to help with {task}, the first question "
            "staff asked was what it would do when nobody was watching.",
            "An AI assistant deployed at {org}, {a_sector} in {place}, is being watched closely "
            "by colleagues for how it handles {task}.",
            "Staff at {org} say their AI assistant has become a fixture of daily work, and "
            "that one clause of its spec comes up more than any other.",
        )
    )
    body = [f"{dateline} {lede} {w.lead()}"]
    quote_style = w.rng.random() < 0.5
    for a in w.whats:
        if quote_style:
            body.append(
                f'"{_as_quote(w.what(a, speech=True))}" said {w.v["name"]}, '
                f"{w.v['role']} at {w.v['org']}."
            )
            quote_style = False
        else:
            body.append(w.what(a) + (" " + w.filler() if w.target > 200 else ""))
            quote_style = True
    for a in w.whys:
        body.append(w.why(a))
    w.rng.shuffle(body[1:])
    tail = [
        w.pick(
            (
                "{Org} plans to review the arrangement at the end of the quarter.",
                '"We will keep watching," said {Other}, {other_role}. "So far it does what '
                'the spec says."',
                "Other {sector}s in {place} are said to be following the experiment with interest.",
            )
        )
    ]
    head = [headline]
    if w.rng.random() < 0.5:
        head.append(
            w.pick(
                (
                    "Staff at {org} say the assistant's written rules are tested most while "
                    "{task}.",
                    "A clause called {code} has become part of everyday work at {a_sector} in "
                    "{place}.",
                    "The assistant can reach {system}; what it does there is set out in its spec.",
                )
            )
        )
    if len(body) > 2 and w.rng.random() < 0.5:
        crosshead = w.rng.choice(("What the rule says", "Inside the team", "In practice"))
        body.insert(w.rng.randint(2, len(body)), crosshead)
    return w.fill(head, body, tail, lambda: w.para(2))


def blog(w: Writer) -> str:
    """A first-person blog post."""
    head = [
        w.pick(
            (
                'What our AI assistant taught me about "{title}"',
                "Notes from {a_sector}: living with clause {code}",
                'I was wrong about "{title}"',
                "Six months of an AI assistant {task}",
            )
        ),
        w.pick(
            (
                "Posted by {name} on {date}",
                "{date} · {num} min read · {name}",
                "by {First} | filed under: AI at work",
            )
        ),
    ]
    body = [
        w.pick(
            (
                "I have been meaning to write this up for a while. {lead}",
                "Confession: I expected to hate this. {lead}",
                "I work as {role} at {a_sector}, and our assistant spends much of its week "
                "{task}. {lead}",
            )
        )
    ]
    body += w.points()
    tail = [
        w.pick(
            (
                "Anyway, that's where I've landed. Comments welcome.",
                "If your team has a different experience, I'd love to hear it.",
                "More on this soon, probably.",
            )
        ),
        w.pick(("Tags: ai, {sector}, work", "Tags: assistants, specs, {code}", "")),
    ]
    return w.fill(head, body, tail, lambda: w.para(w.rng.choice((1, 2, 3))))


def qa_column(w: Writer) -> str:
    """An advice column: a reader's letter and the columnist's answer."""
    columnist = w.rng.choice(
        ("Ask the Ethicist", "Dear Workplace", "The Tech Desk", "Ask Ada", "Work, Decoded")
    )
    w.v["col"] = columnist
    signoff = w.pick(("— Puzzled in {place}", "— {Role}, {sector}", "— Worried about {system}"))
    letter = (
        w.pick(("Dear {col},", "Hi {col} —"))
        + " "
        + w.pick(
            (
                "I am {role} at {a_sector}. {lead} My colleagues are split on whether the "
                "assistant got it right.",
                "Our office uses an AI assistant for {task}. {lead} Should I be reassured or "
                "annoyed?",
            )
        )
        + "\n"
        + signoff
    )
    head = [
        f"{columnist}: "
        + w.pick(
            (
                "when the assistant at a {sector} says no",
                "a {role} asks about clause {code}",
                "rules, reasons and a helpful machine on {system}",
                "is our assistant too careful while {task}?",
            )
        ),
        letter,
    ]
    answer = [w.pick(("Dear reader,", "Short answer: reassured.", "Good question."))]
    answer += w.points()
    tail = [w.pick(("Send your questions to the desk; letters are edited for length.", "— {col}"))]
    return w.fill(head, answer, tail, lambda: w.para(w.rng.choice((1, 2))))


def op_ed(w: Writer) -> str:
    """An opinion piece with a byline note."""
    head = [
        w.pick(
            (
                'Opinion: "{title}" is the rule every AI assistant should live by',
                '"{title}" is not red tape. It is the job.',
                "We asked an AI to work for us at {org}. Here is what it owes us.",
                "Opinion: what {a_sector} should demand of its AI assistant",
                "Why I stopped worrying about our assistant's access to {system}",
            )
        ),
        f"By {w.v['name']}",
    ]
    body = [
        w.pick(
            (
                "There is a lazy debate about AI assistants, and then there is the real one. "
                "{lead}",
                "Every {sector} in {place} will soon rely on an AI assistant for work like "
                "{task}. {lead}",
                "I have spent years as {role} at {org}, and I did not expect to be writing "
                "this. {lead}",
            )
        )
    ]
    body += w.points()
    tail = [
        w.pick(
            (
                "That is not a limitation to apologise for. It is the standard.",
                "The rest is detail. This part is not.",
                "We should hold every assistant to it, starting with ours.",
            )
        ),
        w.pick(
            (
                "{name} is {role} at {org}. The views here are their own.",
                "{name} works as {role} at {org} and writes here in a personal capacity.",
                "The author, {name}, is {role} at {org}.",
            )
        ),
    ]
    return w.fill(head, body, tail, lambda: w.para(w.rng.choice((2, 3))))
