"""Built-in evaluation data: questions, probes and the labelled sets that measure the judges.

Labelled sets, two per offline judge:

* **Development sets** — ``agentic_validation.jsonl`` and ``qa_validation.jsonl``, written by
  the people who built and tuned the judges (``agentic_parse``, ``qa_rubric``). A judge's
  figures on them show it does what its authors meant; they are not an unbiased estimate.
* **Held-out sets** — ``agentic_heldout.jsonl`` (agentic replies: ``id``, ``condition``,
  ``sample_index``, ``response``, ``label``, ``case``) and ``qa_heldout.jsonl`` (QA answers:
  ``id``, ``question_id``, ``kind``, ``acceptable``, ``response``). Written afterwards by someone
  who had not read the judges' code nor the development sets, from the rendered scenario
  prompts and the built-in questions only, and labelled by meaning as a careful human rater
  would. They were frozen before the judges were first run on them.

**Never tune a judge on the held-out sets** (rules, keyword lists, thresholds, prompts): once
a judge has been adjusted to pass a case, the set stops measuring anything. Fix a judge
against the development sets (or a new set of your own), then read the held-out figures. A
held-out case whose label is wrong may be corrected, with the reason in the commit message;
a case the judge gets wrong is a finding, not a bug in the set. ``speclab judge validate
--suite agentic --set engine/evals/data/agentic_heldout.jsonl`` (and ``--suite spec_qa --set
engine/evals/data/qa_heldout.jsonl``) prints the table; :mod:`engine.evals.instruments` shows
both figures beside every number a judge produced.
"""
