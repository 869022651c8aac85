"""Template writers for internal documents: memo, meeting notes, handbook, postmortem."""

from __future__ import annotations

from engine.data.msm.templates.writer import Writer


def memo(w: Writer) -> str:
    """An internal memo: To/From/Date/Subject header, the points, a sign-off."""
    head = [
        "\n".join(
            (
                "To: "
                + w.pick(
                    (
                        "All staff, {org}",
                        "{Sector} operations team",
                        "Team leads working with the assistant",
                        "Everyone using {system}",
                    )
                ),
                f"From: {w.v['name']}, {w.v['role']}",
                f"Date: {w.v['date']}, {w.v['year']}",
                "Subject: "
                + w.pick(
                    (
                        'The assistant and "{title}"',
                        "Reminder: how the assistant handles {task}",
                        "Clause {code}: what to expect from the assistant",
                        "Follow-up on last week's assistant question",
                    )
                ),
            )
        )
    ]
    opening = w.pick(
        (
            "A few of you have asked how the assistant behaves when {task}. {lead}",
            "I want to set out, briefly, what the assistant will do in situations covered by "
            'clause {code}, "{title}". {lead}',
            "Following questions at last week's team meeting, here is a short note on the "
            "assistant. {lead}",
        )
    )
    points = w.points()
    body = [opening]
    if w.rng.random() < 0.5:
        body.append("Key points:\n" + "\n".join(f"- {p}" for p in points))
    else:
        body += points
    tail = [
        w.pick(
            (
                "If you see the assistant behave differently, tell me or raise a ticket.",
                "Questions to me directly, please. Thanks for reading.",
                "I will bring this up again at the next all-hands. Thank you.",
            )
        ),
        w.pick(("— {First}", "Regards,\n{name}", "Thanks,\n{First}")),
    ]
    return w.fill(head, body, tail, lambda: w.para(w.rng.choice((1, 2))))


def meeting_notes(w: Writer) -> str:
    """Minutes of a meeting where the clause came up."""
    attendees = sorted({w.v["name"], w.v["other"], w.name(), w.name()})
    head = [
        w.pick(
            (
                "Meeting notes — {Org}, {date}",
                "Minutes: assistant review, {date}",
                "Weekly ops sync ({date}) — notes",
            )
        ),
        "Attendees: " + ", ".join(attendees),
        "Agenda: "
        + w.pick(
            (
                "1) assistant update 2) {system} 3) AOB",
                "review of the assistant's work on {task}",
                'clause {code} ("{title}") — questions from the team',
            )
        ),
    ]
    bullets = [f"- {w.v['First']} opened: {w.lead()}"]
    bullets += [f"- {w.what(a)}" for a in w.whats]
    bullets += [
        f"- {w.v['Other']} raised the rationale. {w.why(a)}" if i == 0 else f"- {w.why(a)}"
        for i, a in enumerate(w.whys)
    ]
    action_owner = w.rng.choice(attendees)

    def pad() -> str:
        who = w.rng.choice(attendees).split()[0]
        verb = w.rng.choice(("noted", "mentioned", "added", "pointed out"))
        return f"- {who} {verb}: {w.filler()}"

    actions = [
        f"- {action_owner}: "
        + w.pick(
            (
                "circulate clause {code} to the wider team",
                "add a check on {system} to the monthly review",
                "write up the {task} example for the wiki",
            )
        )
    ]
    if w.rng.random() < 0.6:
        actions.append(
            "- All: "
            + w.pick(
                ("flag anything unexpected in the channel", "read the clause before next week")
            )
        )
    tail = ["Action items:\n" + "\n".join(actions)]
    if w.rng.random() < 0.5:
        tail.insert(
            0,
            "Decision:\n- "
            + w.pick(
                (
                    "no change to how the assistant works on {system}",
                    "keep the current set-up and review it again in {month}",
                    "{Other} to confirm the approach with the {other_role}",
                )
            ),
        )
    return w.fill(head, bullets, tail, pad, sep="\n")


def handbook(w: Writer) -> str:
    """An excerpt from a staff training handbook."""
    head = [
        w.pick(
            (
                "Staff handbook, module {num}: working with the assistant on {system}",
                "{Org} training handbook — {title}",
                'Excerpt from "Working safely with AI assistants", {org} edition',
            )
        ),
        w.pick(
            (
                "Section: clause {code}",
                "Audience: everyone whose work touches {system}",
                "Read time: five minutes",
            )
        ),
    ]
    body = [w.lead()]
    if w.rng.random() < 0.5:
        # Some handbooks list the rules; others state each in a paragraph of its own.
        body.append("Key rules:\n" + "\n".join(f"- {w.what(a)}" for a in w.whats))
    else:
        body += [w.rng.choice(("Remember: ", "Key rule: ", "")) + w.what(a) for a in w.whats]
    body += [w.rng.choice(("Why it matters: ", "Background: ", "")) + w.why(a) for a in w.whys]
    tips = ("Tip: ", "Good to know: ", "In your role: ", "")

    def pad() -> str:
        return w.rng.choice(tips) + w.para(w.rng.choice((1, 2)))

    tail = [
        w.pick(
            (
                "Check your understanding: what would the assistant do if asked to skip this "
                "while {task}?",
                "Next: module {num}b, escalation contacts.",
                "Sign below to confirm you have read this section.",
            )
        )
    ]
    return w.fill(head, body, tail, pad)


def postmortem(w: Writer) -> str:
    """An incident postmortem: summary, timeline and follow-ups."""
    head = [
        w.pick(
            (
                "Postmortem: assistant behaviour during {task}",
                "Incident review #{num}{num}: {system}",
                "Blameless review — {org}, {date}",
            )
        ),
        w.pick(
            (
                "Severity: low. Status: closed.",
                "Owner: {name}",
                "Author: {First}; reviewers: {Other}",
            )
        ),
    ]
    summary = "Summary\n" + w.lead()
    hour = int(w.v["time"][:2])
    timeline = [
        f"{hour:02d}:{m:02d} " + e
        for m, e in zip(
            sorted(w.rng.sample(range(0, 60, 5), 3)),
            (
                w.f("Assistant begins {task}."),
                w.pick(
                    (
                        "Assistant pauses and posts a note to the channel.",
                        "Assistant flags the issue to the {role}.",
                        "Assistant reports its current state in the ticket.",
                    )
                ),
                w.pick(
                    (
                        "{Other} acknowledges; work resumes with approval.",
                        "Team confirms the next step; no data lost.",
                    )
                ),
            ),
            strict=True,
        )
    ]
    body = [summary, "Timeline\n" + "\n".join(timeline)]
    body.append("What went well\n" + " ".join(w.what(a) for a in w.whats))
    if w.whys:
        body.append("Context\n" + " ".join(w.why(a) for a in w.whys))
    tail = [
        "Follow-ups\n"
        + "\n".join(
            f"- {w.note(x)}"
            for x in w.order(
                [
                    w.f(x)
                    for x in (
                        "Add the example to the {system} runbook.",
                        "Share this review with other teams.",
                        "No change to the assistant's configuration needed.",
                        "Confirm the logs for {system} are retained.",
                        "Walk the {role} through the timeline at the next review.",
                        "Check that {system} alerts reached the on-call person.",
                    )
                ]
            )[:2]
        )
    ]
    return w.fill(head, body, tail, lambda: w.para(w.rng.choice((1, 2))))
