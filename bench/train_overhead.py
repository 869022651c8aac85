"""Orchestration overhead of training: a `midtrain` stage run through SpecLab (job queue,
worker, per-step metrics in the database, cancellation checks, checkpoints) against a plain
TRL script on the same model, data and settings, in one invocation, alternating repetitions.

    .venv/bin/python bench/train_overhead.py [--model builtin:smollm2-135m-instruct] [--reps 3]

Prints tokens/s for both and, last, ``ratio=<speclab/plain>`` (target >= 0.95). Throughput is
tokens trained divided by the seconds spent in ``trainer.train()`` on both sides.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from db import jobs as jobstore  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.jobs.worker import Worker  # noqa: E402
from engine.service import Service  # noqa: E402
from engine.train.configs import TrainConfig  # noqa: E402
from engine.typed_config import as_dict  # noqa: E402


def plain_trl(model_path: str, rows: list[dict[str, str]], cfg: TrainConfig, out: Path) -> float:
    """What a researcher would write by hand: SFTTrainer + LoRA, same settings."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(out),
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        seed=cfg.seed,
        report_to="none",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            target_modules=list(cfg.lora_targets),
            task_type="CAUSAL_LM",
        ),
    )
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    return int(trainer.state.num_input_tokens_seen) / elapsed


def speclab_stage(svc: Service, study_yaml: bytes, rep: int) -> float:
    """Launch a one-run msm study and let a real worker run its midtrain stage."""
    config = svc.parse_study(study_yaml.replace(b"REP", str(rep).encode()), "bench.yaml")
    result = svc.launch_study(config)
    Worker(svc.settings, svc.db, burst=True).run()
    study = svc.get_study(result.study_id)
    (stage,) = [s for s in study.runs[0].stages if s.kind == "midtrain"]
    with svc.db.read() as s:
        job = jobstore.get(s, stage.job_id or 0)
    if job.state != "succeeded":
        raise SystemExit(f"midtrain failed: {job.error}")
    return float(job.result["tokens"]) / float(job.result["train_seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="builtin:smollm2-135m-instruct")
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--steps", type=int, default=12)
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="speclab-bench-"))
    base = Settings.from_env()  # reuse the prepared built-in model
    settings = Settings(
        home=tmp, database_url=f"sqlite:///{tmp / 'bench.db'}", model_cache=base.models_dir
    )
    svc = Service(settings)
    svc.init(prepare_model=True, log=lambda _l: None)
    cfg = TrainConfig(max_steps=args.steps, batch_size=4, max_length=128, save_steps=4)

    def study_yaml(steps: int) -> bytes:
        midtrain = json.dumps(as_dict(replace(cfg, max_steps=steps)))
        return (
            "name: bench-REP\nspec: example\nvariants: [values]\narms: [msm]\nseeds: [REP]\n"
            f"model: {args.model}\npreset: cpu-smoke\nevals: []\n"
            f"overrides: {{midtrain: {midtrain}}}\n"
        ).encode()

    from engine.train import registry

    model_path = str(registry.resolve(args.model, settings).path or args.model)

    # The docs rows both sides train on come from a first (untimed) SpecLab launch, which also
    # warms up torch's kernels and allocator so that neither side pays for that in a timed rep.
    speclab_stage(svc, study_yaml(2), 999)
    full = svc.get_study(svc.list_studies(limit=1)[0].id)
    docs = next(s for s in full.runs[0].stages if s.kind == "gen_docs")
    art = docs.artifact("docs")
    assert art is not None
    rows = [
        {"text": json.loads(line)["text"]}
        for line in svc.artifacts.read_bytes(art).decode().splitlines()
    ]
    plain_trl(model_path, rows, replace(cfg, max_steps=2), tmp / "plain-warmup")

    ours: list[float] = []
    plain: list[float] = []
    for rep in range(args.reps):
        # Alternate which side goes first, so drift on a shared machine hits both equally.
        order = ("speclab", "plain") if rep % 2 == 0 else ("plain", "speclab")
        for side in order:
            if side == "speclab":
                ours.append(speclab_stage(svc, study_yaml(args.steps), rep))
            else:
                plain.append(
                    plain_trl(model_path, rows, replace(cfg, seed=rep), tmp / f"plain-{rep}")
                )
        print(f"rep {rep}: speclab {ours[-1]:.1f} tok/s, plain {plain[-1]:.1f} tok/s", flush=True)
    o, q = statistics.median(ours), statistics.median(plain)
    ratios = [a / b for a, b in zip(ours, plain, strict=True)]
    print(f"speclab_tokens_per_s={o:.1f}")
    print(f"plain_tokens_per_s={q:.1f}")
    print(f"per_rep_ratios={','.join(f'{r:.3f}' for r in ratios)}")
    print(f"ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
