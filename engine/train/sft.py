"""Supervised training with TRL's ``SFTTrainer`` and PEFT: the code behind ``midtrain`` and ``aft``.

Midtraining is language modelling on documents (``{"text": …}`` rows). AFT trains on the
reply only, from conversational prompt/completion rows — the ``messages`` form would also
train on the system prompt SmolLM2's chat template injects.

Everything heavy is imported inside :func:`train`, so importing this module is cheap.
On CPU, precision is fp32 without gradient checkpointing: TRL's defaults (bf16 autocast and
checkpointing) are about 16x slower on these machines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.errors import InputError
from engine.train.configs import TrainConfig

Form = Literal["text", "prompt_completion"]
Report = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainOutcome:
    """What a finished training run left behind."""

    output_dir: Path
    global_step: int
    resumed_from_step: int | None
    tokens_seen: int
    train_seconds: float
    tokens_per_second: float
    final_loss: float | None
    device: str
    precision: str


def resolve_device_precision(config: TrainConfig) -> tuple[str, str, bool]:
    """(device, precision, gradient checkpointing) for this machine and config."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = config.precision
    if precision == "auto":
        if device == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "fp32"
    checkpointing = config.gradient_checkpointing
    if checkpointing is None:
        checkpointing = device == "cuda" and config.method == "full"
    return device, precision, bool(checkpointing)


def load_model(
    model_path: str, merge_adapters: Sequence[Path], *, dtype: Any = None
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer, merging earlier stages' LoRA adapters in order.

    Merging (rather than stacking adapters) makes each stage train on top of the previous
    stage's weights exactly as a full-weight pipeline would, and keeps every model servable
    as "base + one adapter" (what vLLM supports); the cost is ~3 s per merge at load time.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype or torch.float32)
    for adapter in merge_adapters:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model, tokenizer


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` folder that finished writing, if any."""
    if not checkpoint_dir.is_dir():
        return None
    done = []
    for p in checkpoint_dir.glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if suffix.isdigit() and (p / "trainer_state.json").exists():
            done.append((int(suffix), p))
    return max(done)[1] if done else None


def train(
    *,
    model_path: str,
    rows: list[dict[str, Any]],
    form: Form,
    config: TrainConfig,
    work_dir: Path,
    merge_adapters: Sequence[Path] = (),
    report: Report | None = None,
    check: Callable[[], None] | None = None,
    log: Callable[[str], None] = print,
    saved: Callable[[Path], None] | None = None,
) -> TrainOutcome:
    """Train on ``rows`` and save the adapter (LoRA) or full model to ``work_dir/output``.

    Checkpoints go to ``work_dir/checkpoints`` every ``config.save_steps`` steps; when one
    exists the run resumes from it, so a re-queued job continues instead of restarting.
    ``report(step, metrics)`` receives loss, learning rate and tokens/s; ``check()`` is called
    after every optimizer step and may raise to stop training (cancellation). ``saved(path)``
    is called with each checkpoint folder once it is completely written.
    """
    import datasets
    import torch
    import transformers
    from datasets import Dataset
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]

    if not rows:
        raise ValueError("no training rows")
    device, precision, checkpointing = resolve_device_precision(config)
    dtype = torch.float32
    if device == "cuda" and config.method == "lora" and precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    log(f"loading {model_path} on {device} ({precision}, merging {len(merge_adapters)} adapter(s))")
    model, tokenizer = load_model(model_path, merge_adapters, dtype=dtype)

    peft_config = None
    if config.method == "lora":
        from peft import LoraConfig

        targets: Any = list(config.lora_targets)
        if targets == ["all-linear"]:
            targets = "all-linear"
        peft_config = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        )

    checkpoint_dir = work_dir / "checkpoints"
    args = SFTConfig(
        output_dir=str(checkpoint_dir),
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        max_length=config.max_length,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        gradient_checkpointing=checkpointing,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        packing=False,
        include_num_input_tokens_seen="non_padding",
        dataset_text_field="text",
        completion_only_loss=True if form == "prompt_completion" else None,
    )

    class _Reporter(TrainerCallback):
        def __init__(self) -> None:
            self.last_time = time.perf_counter()
            self.last_tokens = 0
            self.first_step: int | None = None
            self.start_time = self.last_time
            self.start_tokens = 0
            self.final_loss: float | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.start_time = self.last_time = time.perf_counter()
            self.start_tokens = self.last_tokens = int(state.num_input_tokens_seen or 0)
            self.first_step = int(state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not logs or "loss" not in logs:
                return
            now = time.perf_counter()
            tokens = int(state.num_input_tokens_seen or 0)
            rate = (tokens - self.last_tokens) / max(now - self.last_time, 1e-9)
            self.last_time, self.last_tokens = now, tokens
            self.final_loss = float(logs["loss"])
            metrics = {"loss": float(logs["loss"]), "tokens_per_s": rate}
            if logs.get("learning_rate") is not None:
                metrics["learning_rate"] = float(logs["learning_rate"])
            if logs.get("grad_norm") is not None:
                metrics["grad_norm"] = float(logs["grad_norm"])
            if report is not None:
                report(int(state.global_step), metrics)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if check is not None:
                check()

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if saved is not None:
                saved(checkpoint_dir / f"checkpoint-{state.global_step}")

    reporter = _Reporter()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[reporter],
    )
    trainer.remove_callback(PrinterCallback)  # we record logs ourselves; keep stdout quiet
    prepared: Any = trainer.train_dataset  # TRL drops examples with nothing left to learn
    if prepared is None or len(prepared) == 0:
        raise InputError(
            f"none of the {len(rows)} training examples has a trainable token within "
            f"max_length={config.max_length} (the prompt and chat template fill it); "
            "raise max_length",
            field="max_length",
        )
    resume = last_checkpoint(checkpoint_dir)
    resumed_from = int(resume.name.split("-", 1)[1]) if resume else None
    if resume is not None:
        log(f"resuming from {resume.name}")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    elapsed = time.perf_counter() - reporter.start_time
    tokens = int(trainer.state.num_input_tokens_seen or 0) - reporter.start_tokens
    output_dir = work_dir / "output"
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    log(f"trained to step {trainer.state.global_step}: {tokens} tokens in {elapsed:.1f}s")
    return TrainOutcome(
        output_dir=output_dir,
        global_step=int(trainer.state.global_step),
        resumed_from_step=resumed_from,
        tokens_seen=tokens,
        train_seconds=elapsed,
        tokens_per_second=tokens / max(elapsed, 1e-9),
        final_loss=reporter.final_loss,
        device=device,
        precision=precision,
    )
